"""The studio's view of a pipeline workspace: what it holds, adding sources, running it.

A run is `ambient pipeline run` in a child process, so the server never shares its
threads with the pipeline's process pool, a crash there cannot take the page down, and
cancelling is a kill (the pipeline is built to survive one at any instant: each datum
commits whole or not at all). Progress is read from the manifest as the run goes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from ambient.errors import AmbientError
from ambient.studio.jobs import Cancelled, Job
from ambient.studio.takes import safe_label


def overview(root: Path) -> dict:
    """Everything the pipeline page shows, as JSON."""
    from ambient.pipeline import Workspace, is_workspace, lineage, list_sources, models, status

    if not is_workspace(root):
        return {"workspace": str(root), "is_workspace": False}
    ws = Workspace(root)
    trained = []
    for m in models(ws):
        try:
            sources = lineage(ws, m["path"])
        except AmbientError:
            sources = []
        trained.append({"name": Path(m["path"]).name, "validation_loss": m["validation_loss"], "files": m["files"],
                        "fine_tuned_from": m["fine_tuned_from"], "trained": m["trained"], "sources": sources})
    return {"workspace": str(root), "is_workspace": True, "stages": status(ws), "sources": list_sources(ws),
            "models": trained}


def datum_log(root: Path, stage: str, source: str | None) -> list[dict]:
    """The failed datums of a stage (or one datum), with error line and captured log."""
    from ambient.pipeline import Workspace
    from ambient.pipeline.queries import logs
    from ambient.pipeline.stages import standard_stages

    ws = Workspace(root)
    if stage not in {s.name for s in standard_stages(ws.params)}:
        raise AmbientError(f"{stage!r}: no such stage")
    return [{"input": i, "error": e, "log": log} for i, e, log in logs(ws, stage, source)]


def add_source(root: Path, scratch: Path, filename: str) -> dict:
    """An uploaded audio file into the workspace's sources, under the ingest's standard name."""
    from ambient.pipeline import Workspace
    from ambient.pipeline.sources import add

    ws = Workspace(root)
    label = safe_label(filename, "upload")
    named = scratch.parent / f"{scratch.name}-dir" / label   # ingest names the file from its own name
    named.parent.mkdir()
    try:
        scratch.rename(named)
        report = add(ws, [named])
    finally:
        named.unlink(missing_ok=True)
        named.parent.rmdir()
    if report.ignored:
        from ambient.audio import AUDIO_SUFFIXES

        raise AmbientError(f"{label}: not an audio file ({', '.join(AUDIO_SUFFIXES)})")
    if report.failed:
        raise AmbientError(f"{label}: {report.failed[0][1].split(': ', 1)[-1]}")
    return {"added": [stored.name for _, stored in report.added],
            "duplicates": [stored.name for _, stored in report.duplicates]}


def run_pipeline(root: Path, job: Job) -> dict:
    """`ambient pipeline run` on the workspace in a child process, reporting progress."""
    from ambient.pipeline import Workspace, status

    ws = Workspace(root)
    child = subprocess.Popen([sys.executable, "-m", "ambient", "pipeline", "run", "--workspace", str(root)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        while child.poll() is None:
            time.sleep(0.5)
            counts = status(ws)
            done = sum(s["done"] + s["failed"] for s in counts.values())
            total = done + sum(s["to_do"] for s in counts.values())
            busy = next((name for name, s in counts.items() if s["to_do"]), "finishing")
            job.progress(done / total if total else 0.0, f"running: {busy}")
    except Cancelled:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
        raise
    output = (child.stdout.read() if child.stdout else "").strip().splitlines()
    if child.returncode not in (0, 1):  # 1: some datum failed, which the page shows per datum
        raise AmbientError(output[-1] if output else f"pipeline run exited with {child.returncode}")
    counts = status(ws)
    return {"failed": sum(s["failed"] for s in counts.values()), "last_line": output[-1] if output else ""}
