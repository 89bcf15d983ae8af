"""Reading a workspace: status per stage, lineage of a file, the models, a datum's log."""

from __future__ import annotations

import json
from pathlib import Path

from ambient.errors import AmbientError
from ambient.pipeline.manifest import Manifest
from ambient.pipeline.stages import SOURCE_REPO, standard_stages
from ambient.pipeline.workspace import Workspace


def status(ws: Workspace) -> dict[str, dict]:
    """Per stage: datums done, to do (new, changed or failed) and failed, with reasons."""
    from ambient.pipeline.runner import plan  # plan only reads the manifest

    manifest = Manifest(ws.manifest_path)
    try:
        out = {}
        for stage in standard_stages(ws.params):
            desired, _, todo, _ = plan(ws, manifest, stage)
            rows = manifest.datum_rows(stage.name)
            failed = {r["input"]: r["error"] for r in rows if r["status"] == "failed"}
            out[stage.name] = {"done": len(desired) - len(todo), "to_do": len(todo), "failed": len(failed),
                               "errors": failed}
        return out
    finally:
        manifest.close()


def _locate(ws: Workspace, path: str | Path) -> tuple[str, str]:
    """(repo, path in repo) of a file given inside the workspace; a model folder means its weights."""
    p = Path(path)
    p = p if p.is_absolute() else (Path.cwd() / p)
    repos = (ws.root / "repos").resolve()
    try:
        rel = p.resolve().relative_to(repos)
    except ValueError:
        raise AmbientError(f"{path}: not inside {ws.root / 'repos'}") from None
    if p.is_dir():
        rel = rel / "model.safetensors"
    repo, *rest = rel.parts
    return repo, "/".join(rest)


def lineage(ws: Workspace, path: str | Path) -> list[str]:
    """Every source file behind a file, as paths in the source repo."""
    repo, rel = _locate(ws, path)
    manifest = Manifest(ws.manifest_path)
    try:
        if rel not in manifest.files(repo):
            raise AmbientError(f"{path}: not a file the pipeline knows")
        sources, frontier, seen = set(), [(repo, rel)], set()
        while frontier:
            node = frontier.pop()
            if node in seen:
                continue
            seen.add(node)
            if node[0] == SOURCE_REPO:
                sources.add(node[1])
            frontier.extend(manifest.parents(*node))
        return sorted(sources)
    finally:
        manifest.close()


def models(ws: Workspace) -> list[dict]:
    """Every model the pipeline trained, newest first, with its data summary and loss."""
    folder = ws.repo("models")
    found = []
    for config in folder.glob("*/config.json"):
        c = json.loads(config.read_text())
        found.append({"path": str(config.parent), "trained": config.stat().st_mtime,
                      "files": c.get("data", {}).get("train_files", 0) + c.get("data", {}).get("validation_files", 0),
                      "validation_loss": c.get("metrics", {}).get("validation_loss_nats_per_token"),
                      "fine_tuned_from": c.get("fine_tuned_from")})
    return sorted(found, key=lambda m: m["trained"], reverse=True)


def latest_model(ws: Workspace) -> Path:
    trained = models(ws)
    if not trained:
        raise AmbientError(f"{ws.root}: no model trained yet (run `ambient pipeline run`)")
    return Path(trained[0]["path"])


def logs(ws: Workspace, stage: str, file: str | None = None) -> list[tuple[str, str, str]]:
    """(input, error, captured log) of the stage's failed datums, or of one file's datum."""
    manifest = Manifest(ws.manifest_path)
    try:
        rows = [r for r in manifest.datum_rows(stage) if (file is None and r["status"] == "failed")
                or (file is not None and r["input"] == Path(file).name)]
        if file is not None and not rows:
            raise AmbientError(f"{stage}: no datum for {file}")
        return [(r["input"], r["error"] or "", (manifest.datum_log(stage, r["input"]) or ("", ""))[1] or "")
                for r in rows]
    finally:
        manifest.close()
