"""One stage over plain folders, with no workspace or manifest: the entry point for
running a stage inside another engine's container (`ambient stage NAME --input --output`,
e.g. Pachyderm's /pfs/IN and /pfs/out), where that engine does the bookkeeping."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ambient.config import PIPELINE_RUN
from ambient.errors import AmbientError
from ambient.pipeline.executors import Datum, execute
from ambient.pipeline.stages import DEFAULT_PARAMS, standard_stages


def run_stage(name: str, input_dir: str | Path, output_dir: str | Path, params: dict | None = None,
              retries: int = PIPELINE_RUN.retries) -> list[tuple[str, str]]:
    """Run stage `name` on every input file (map) or on the whole folder (reduce).

    Returns (input, error) for each datum that failed; the others' outputs are in output_dir.
    """
    stages = {s.name: s for s in standard_stages({name: params or {}} if name in DEFAULT_PARAMS else {})}
    if name not in stages:
        raise AmbientError(f"no stage {name!r} (stages: {', '.join(stages)})")
    stage = stages[name]
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if not input_dir.is_dir():
        raise AmbientError(f"{input_dir}: no such folder")
    output_dir.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in input_dir.rglob("*") if p.is_file()
                   and (not stage.accepts or p.suffix.lower() in stage.accepts))
    groups = [[f] for f in files] if stage.kind == "map" else ([files] if files else [])
    failed = []
    with tempfile.TemporaryDirectory(prefix=".ambient-stage-", dir=output_dir) as tmp:
        for group in groups:
            label = group[0].name if stage.kind == "map" else "/"
            scratch = Path(tmp) / "datum"
            job = Datum(name, label, "", stage.fn, group, str(scratch), stage.params,
                        {"work_dir": str(Path(tmp) / "work")})
            outcome = execute(job, retries)
            if not outcome.ok:
                failed.append((label, outcome.error))
                continue
            for f in sorted(scratch.rglob("*")):
                if f.is_file():
                    target = output_dir / f.relative_to(scratch)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    f.replace(target)
    return failed
