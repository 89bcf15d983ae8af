"""The source repo: ingesting audio, removing it, and watching a folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ambient.audio import AUDIO_SUFFIXES
from ambient.config import PIPELINE_RUN
from ambient.errors import AmbientError
from ambient.files import write_text
from ambient.ingest import IngestReport, ingest
from ambient.pipeline.stages import SOURCE_REPO
from ambient.pipeline.workspace import Workspace


def add(ws: Workspace, paths: list[str | Path]) -> IngestReport:
    """The audio issue's ingest, into the workspace's source repo."""
    return ingest(paths, ws.repo(SOURCE_REPO))


def remove(ws: Workspace, name: str) -> Path:
    """Delete a source file; the next run removes everything derived from it."""
    path = ws.repo(SOURCE_REPO) / Path(name).name
    if not path.is_file():
        raise AmbientError(f"{name}: no such source in {ws.repo(SOURCE_REPO)}")
    path.unlink()
    return path


def watch(ws: Workspace, folder: str | Path, *, interval: float = PIPELINE_RUN.watch_interval, passes: int | None = None,
          on_change=None) -> None:
    """Mirror a folder into the source repo: ingest what appears, remove what goes, then call on_change."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AmbientError(f"{folder}: no such folder")
    state_path = ws.root / ".watch.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    count = 0
    while passes is None or count < passes:
        count += 1
        current = {str(p): [p.stat().st_size, p.stat().st_mtime_ns] for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES}
        changed = [p for p in current if state.get(p, {}).get("stat") != current[p]]
        vanished = [p for p in state if p not in current]
        report = None
        for p in vanished + [p for p in changed if p in state]:
            stored = state.pop(p)["stored"]
            if stored and (ws.repo(SOURCE_REPO) / stored).exists():
                remove(ws, stored)
        if changed:
            report = add(ws, changed)
            for source, stored in report.added + report.duplicates:
                state[str(source)] = {"stat": current[str(source)], "stored": stored.name}
            for source, _ in report.failed:
                state[str(source)] = {"stat": current.get(str(source)), "stored": None}
        write_text(state_path, json.dumps(state))
        if (changed or vanished) and on_change:
            on_change(report, vanished)
        if passes is None or count < passes:
            time.sleep(interval)
