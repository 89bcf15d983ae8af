"""Reading a workspace: status per stage, lineage of a file, the models, a datum's log."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

from ambient.errors import AmbientError
from ambient.pipeline.manifest import Manifest
from ambient.pipeline.stages import SOURCE_REPO, standard_stages
from ambient.pipeline.workspace import Workspace, is_workspace


def source_files(ws: Workspace, manifest: Manifest) -> dict[str, tuple[str, int, int]]:
    """The source repo as it is on disk now, without writing the manifest.

    A file the manifest has not seen, or whose size or time changed, gets a content
    hash of its own so that it plans as new work; nothing is hashed here.
    """
    known = manifest.files(SOURCE_REPO)
    out = {}
    for entry in os.scandir(ws.repo(SOURCE_REPO)):
        if entry.is_file() and not entry.name.startswith("."):
            st = entry.stat()
            row = known.get(entry.name)
            same = row is not None and (row[1], row[2]) == (st.st_size, st.st_mtime_ns)
            out[entry.name] = row if same else (f"unhashed:{st.st_size}:{st.st_mtime_ns}", st.st_size, st.st_mtime_ns)
    return out


def status(ws: Workspace) -> dict[str, dict]:
    """Per stage: datums done, to do and failed (with reasons).

    "To do" counts the work a run would do now, including work waiting on an earlier
    stage: two newly ingested files are two datums to do in every map stage and one
    training, before anything has run.
    """
    from ambient.pipeline.runner import plan  # plan only reads the manifest

    manifest = Manifest(ws.manifest_path)
    try:
        out = {}
        waiting: set[str] = set()   # stems an earlier map stage will (re)write
        upstream_changed = False    # an earlier stage will add, change or remove something
        for stage in standard_stages(ws.params):
            inputs = source_files(ws, manifest) if stage.input == SOURCE_REPO else None
            desired, _, todo, gone = plan(ws, manifest, stage, inputs)
            if stage.kind == "map":
                pending = {Path(i).stem for i in todo} | waiting
                done = len({Path(i).stem for i in desired} - pending)
                to_do = len(pending)
                waiting = pending
            else:
                to_do = 1 if (todo or upstream_changed) and (desired or waiting) else 0
                done = len(desired) - len(todo) if not to_do else 0
            upstream_changed = upstream_changed or bool(todo or gone)
            rows = manifest.datum_rows(stage.name)
            failed = {r["input"]: r["error"] for r in rows if r["status"] == "failed"}
            out[stage.name] = {"done": done, "to_do": to_do, "failed": len(failed), "errors": failed}
            if stage.kind == "reduce":
                out[stage.name]["running"] = running(ws, stage.name)
        return out
    finally:
        manifest.close()


def list_sources(ws: Workspace) -> list[dict]:
    """Every source file by the name `ambient pipeline remove` takes, with how far it has come.

    `stages` follows the file through each map stage's outputs: done, failed, or to do.
    """
    manifest = Manifest(ws.manifest_path)
    try:
        stages = [s for s in standard_stages(ws.params) if s.kind == "map"]
        records = {s.name: {r["input"]: r["status"] for r in manifest.datum_rows(s.name)} for s in stages}
        files = source_files(ws, manifest)
        rows = []
        for name in sorted(files):
            progress, current = {}, name
            for stage in stages:
                state = records[stage.name].get(current) if current else None
                if current is None or state is None or files[name][0].startswith("unhashed:"):
                    progress[stage.name] = "to do"
                    current = None
                    continue
                progress[stage.name] = "done" if state == "done" else state
                made = [p for r, p in manifest.outputs(stage.name, current) if r == stage.output]
                current = made[0] if state == "done" and made else None
            rows.append({"name": name, "bytes": files[name][1], "stages": progress})
        return rows
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


def held_out_split(workspace: str | Path, model_dir: str | Path) -> tuple[dict[str, list], dict[str, list]]:
    """(held-out pieces, training pieces) of a workspace model: the files its training kept
    for validation, and the rest, read back from the workspace's token repo."""
    import json

    from ambient.codec import decode, read_tokens

    data = json.loads((Path(model_dir) / "config.json").read_text()).get("data", {})
    tokens = Workspace(workspace).repo("tokens")
    held = set(data.get("validation_pieces", []))
    split: tuple[dict, dict] = ({}, {})
    for path in sorted(tokens.glob("*.npy")):
        split[0 if path.name in held else 1][path.name] = decode(read_tokens(path))
    if not split[0]:
        raise AmbientError(f"{workspace}: the newest model names no held-out piece still in {tokens}")
    return split


class EvaluationSet(NamedTuple):
    model_dir: Path | None     # None: the bundled model
    pieces: dict[str, list]    # held-out pieces, name -> notes
    corpus: list[list] | None  # the pieces it trained on (the copy check), if known
    label: str                 # how the report names the model


def evaluation_set(data: str | Path, model: str | Path | None = None, train_data: str | Path | None = None,
                   warn=print) -> EvaluationSet:
    """What `ambient eval` measures. `data` is a folder of MIDI, or a workspace: then its
    newest model (unless `model` names another) on the pieces its training held out,
    copies checked against the pieces it trained on. `model` may be a workspace too."""
    from ambient.evaluate import read_pieces

    corpus = list(read_pieces(train_data, warn=lambda m: None).values()) if train_data is not None else None
    if is_workspace(data):
        pieces, trained_on = held_out_split(data, latest_model(Workspace(data)))
        chosen = model if model is not None else data
        return EvaluationSet(model_dir(chosen), pieces, corpus if corpus is not None else list(trained_on.values()),
                             str(chosen))
    return EvaluationSet(model_dir(model), read_pieces(data, warn), corpus, str(model) if model else "bundled")


def running(ws: Workspace, stage: str) -> dict | None:
    """A reduce datum's progress while it runs (its work dir's progress.json), else None."""
    import json

    for path in sorted(ws.work_dir(stage).glob("*/progress.json")):
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):  # replaced as we read it: the next look sees the new one
            return None
    return None


def model_dir(path: str | Path | None) -> Path | None:
    """A model directory as given, or a pipeline workspace's newest model (None: the bundled one)."""
    if path is not None and is_workspace(path):
        return latest_model(Workspace(path))
    return None if path is None else Path(path)


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
