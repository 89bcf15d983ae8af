"""The runner: brings every stage up to date, one datum at a time, and records it.

For each stage in order: list its input repo (from the manifest), compute each datum's
hash (stage name, version, params, relative path, input content hash), remove the
outputs of datums whose input is gone, skip datums whose hash is unchanged, and run
the rest through an executor. Each finished datum commits on its own: outputs renamed
from scratch into the repo, then one transaction records files, outputs, lineage and
the datum. Only the runner writes the manifest.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ambient.config import PIPELINE_RUN
from ambient.errors import AmbientError, ParameterError
from ambient.files import content_hash, replace_dir
from ambient.pipeline.executors import Datum, ProcessExecutor, SerialExecutor
from ambient.pipeline.manifest import Manifest
from ambient.pipeline.stages import SOURCE_REPO, Stage, standard_stages
from ambient.pipeline.workspace import Workspace

HISTORY = "history"  # a reduce datum's superseded outputs, kept (every model is kept)


@dataclass
class StageReport:
    processed: int = 0
    skipped: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def datum_hash(stage: Stage, path: str, content: str) -> str:
    params = json.dumps(stage.params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{stage.name}\0{stage.version}\0{params}\0{path}\0{content}".encode()).hexdigest()


@contextmanager
def workspace_lock(ws: Workspace):
    """One runner per workspace; a second is refused at once, with who holds it.

    A POSIX record lock (lockf), not flock: it belongs to this process alone, so forked
    pool workers do not inherit it, and it is gone the instant the runner dies.
    """
    path = ws.root / ".lock"
    with open(path, "a+") as f:
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise AmbientError(f"{ws.root}: busy, another `ambient pipeline run` holds it (pid {holder})") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.lockf(f, fcntl.LOCK_UN)


def run(ws: Workspace, stages: list[Stage] | None = None, *, executor: str = PIPELINE_RUN.executor,
        workers: int | None = PIPELINE_RUN.workers, retries: int = PIPELINE_RUN.retries,
        timeout: float | None = PIPELINE_RUN.timeout, removals_only: bool = False,
        address: str | None = None, storage: str | None = None, on_progress=None,
        log=lambda message: None) -> dict[str, StageReport]:
    stages = stages if stages is not None else standard_stages(ws.params)
    with workspace_lock(ws):
        manifest = Manifest(ws.manifest_path)
        try:
            sweep(ws, manifest, stages)
            refresh_sources(ws, manifest)
            run_id = manifest.start_run()
            reports = {}
            with make_executor(executor, workers, ws.scratch, address, storage) as pool:
                this = Pass(ws, manifest, pool, retries, timeout, removals_only, on_progress, log)
                for stage in stages:
                    reports[stage.name] = _run_stage(this, stage)
            manifest.finish_run(run_id, {name: vars(r) for name, r in reports.items()})
            return reports
        finally:
            manifest.close()


def make_executor(kind: str, workers: int | None, scratch: Path, address: str | None = None,
                  storage: str | None = None):
    """`workers` None: the default (for Ray, as many datums in flight as the cluster has CPUs)."""
    if kind != "ray" and (address is not None or storage is not None):
        raise ParameterError("address" if address is not None else "storage", "needs the ray executor")
    if kind == "serial":
        return SerialExecutor()
    if kind == "process":
        return ProcessExecutor(workers or PIPELINE_RUN.pool_workers)
    if kind == "ray":
        from ambient.cluster.executor import RayExecutor

        return RayExecutor(workers, scratch, address, storage)
    raise ParameterError("executor", f"must be serial, process or ray, not {kind!r}")


def sweep(ws: Workspace, manifest: Manifest, stages: list[Stage]) -> None:
    """Remove what a killed run left: scratch dirs, partial files, outputs never committed."""
    shutil.rmtree(ws.scratch, ignore_errors=True)
    for repo in {s.output for s in stages}:
        known = manifest.files(repo)
        folder = ws.repo(repo)
        if not folder.exists():
            continue
        for path in list(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            if path.is_file() and rel not in known:
                path.unlink()
        for path in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
            if not any(path.iterdir()):
                path.rmdir()


def refresh_sources(ws: Workspace, manifest: Manifest) -> None:
    """Record the source repo as it is on disk: stat every file, hash only what changed."""
    folder = ws.repo(SOURCE_REPO)
    known = manifest.files(SOURCE_REPO)
    seen = set()
    with manifest.transaction():
        for entry in os.scandir(folder):
            if not entry.is_file() or entry.name.startswith("."):
                continue
            seen.add(entry.name)
            st = entry.stat()
            row = known.get(entry.name)
            if row is None or row[1] != st.st_size or row[2] != st.st_mtime_ns:
                manifest.put_file(SOURCE_REPO, entry.name, content_hash(Path(entry.path)), st.st_size, st.st_mtime_ns)
        for name in set(known) - seen:
            manifest.drop_file(SOURCE_REPO, name)


def _accepted(stage: Stage, names) -> list[str]:
    return sorted(p for p in names if not stage.accepts or Path(p).suffix.lower() in stage.accepts)


def _desired(stage: Stage, inputs: dict[str, tuple[str, int, int]]) -> dict[str, str]:
    names = _accepted(stage, inputs)
    if stage.kind == "map":
        return {p: datum_hash(stage, p, inputs[p][0]) for p in names}
    if not names:
        return {}
    return {"/": datum_hash(stage, "/", "\n".join(f"{p}\t{inputs[p][0]}" for p in names))}


def plan(ws: Workspace, manifest: Manifest, stage: Stage, inputs: dict | None = None
         ) -> tuple[dict[str, str], dict, list[str], list[str]]:
    """(desired datums, input files, datums to run, datums to remove) for one stage.

    `inputs` stands in for the manifest's record of the input repo (status passes the
    source repo as it is on disk, before a run has recorded it).
    """
    inputs = manifest.files(stage.input) if inputs is None else inputs
    desired = _desired(stage, inputs)
    existing = manifest.datums(stage.name)
    todo = [i for i, h in desired.items() if existing.get(i) != (h, "done")]
    gone = [i for i in existing if i not in desired and i != HISTORY]
    return desired, inputs, todo, gone


@dataclass
class Pass:
    """One `run` over the stages: where, through what, and how patiently."""
    ws: Workspace
    manifest: Manifest
    pool: object                       # an executor (`make_executor`)
    retries: int
    timeout: float | None
    removals_only: bool
    on_progress: object                # on_progress(stage, done, total), or None
    log: object                        # log(message)


def _run_stage(this: Pass, stage: Stage) -> StageReport:
    ws, manifest, on_progress = this.ws, this.manifest, this.on_progress
    desired, inputs, todo, gone = plan(ws, manifest, stage)
    report = StageReport(skipped=len(desired) - len(todo))
    for input_ in gone:
        _remove_datum(ws, manifest, stage, input_)
        report.removed += 1
    if this.removals_only or not todo:
        return report
    ws.scratch.mkdir(parents=True, exist_ok=True)
    jobs = []
    for input_ in todo:
        names = _accepted(stage, inputs) if stage.kind == "reduce" else [input_]
        paths = [ws.repo(stage.input) / p for p in names]
        context = {}
        if stage.kind == "reduce":
            context["work_dir"] = str(ws.work_dir(stage.name) / desired[input_][:16])
            context["previous"] = latest_output_dir(ws, manifest, stage)
            if on_progress:  # a reduce runs here, so its bar can follow it inside the datum
                context["progress"] = lambda done, total, name=stage.name: on_progress(name, done, total)
        jobs.append(Datum(stage.name, input_, desired[input_], stage.fn, paths,
                          str(ws.scratch / f"{stage.name}-{desired[input_][:16]}"), stage.params, context))
    done = 0
    if on_progress:
        on_progress(stage.name, 0, len(jobs))
    for job, result in this.pool.map(jobs, retries=this.retries, timeout=this.timeout, inline=stage.kind == "reduce"):
        if result.ok:
            _commit(ws, manifest, stage, job, result)
            report.processed += 1
        else:
            _record_failure(ws, manifest, stage, job, result)
            report.failed.append((job.input, result.error))
            this.log(f"{stage.name}: {job.input} failed: {result.error}")
        done += 1
        if on_progress:
            on_progress(stage.name, done, len(jobs))
    if stage.kind == "reduce":
        for input_ in todo:
            shutil.rmtree(ws.work_dir(stage.name) / desired[input_][:16], ignore_errors=True)
    return report


def _commit(ws: Workspace, manifest: Manifest, stage: Stage, job: Datum, result) -> None:
    scratch = Path(job.scratch)
    repo = ws.repo(stage.output)
    if stage.kind == "reduce":  # a reduce datum's outputs get their own folder, named by the datum
        prefix = job.digest[:12] + "/"
        target = replace_dir(scratch, repo / job.digest[:12])
        written = sorted(prefix + p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    else:
        written = sorted(p.relative_to(scratch).as_posix() for p in scratch.rglob("*") if p.is_file())
        for rel in written:
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(scratch / rel, repo / rel)
        shutil.rmtree(scratch, ignore_errors=True)
    old = set(manifest.outputs(stage.name, job.input))
    parents = [p.name for p in job.inputs]
    with manifest.transaction():
        manifest.drop_outputs(stage.name, job.input)
        gone = _retire(manifest, stage, [(r, p) for r, p in old if (r, p) not in {(stage.output, w) for w in written}])
        for rel in written:
            st = (repo / rel).stat()
            manifest.put_file(stage.output, rel, content_hash(repo / rel), st.st_size, st.st_mtime_ns)
            manifest.put_output(stage.name, job.input, stage.output, rel)
            for parent in parents:
                manifest.add_parent(stage.output, rel, stage.input, parent)
        manifest.put_datum(stage.name, job.input, job.digest, "done", None, result.log, result.attempts,
                           result.seconds)
    _delete(ws, gone)


def _record_failure(ws: Workspace, manifest: Manifest, stage: Stage, job: Datum, result) -> None:
    """The datum's input changed and its work failed: its old outputs no longer stand."""
    shutil.rmtree(job.scratch, ignore_errors=True)
    gone = []
    with manifest.transaction():
        if not stage.keep_history:  # a kept model stays where it was; nothing else of a failed input does
            old = manifest.outputs(stage.name, job.input)
            manifest.drop_outputs(stage.name, job.input)
            gone = _retire(manifest, stage, old)
        manifest.put_datum(stage.name, job.input, job.digest, "failed", result.error, result.log, result.attempts,
                           result.seconds)
    _delete(ws, gone)


def _remove_datum(ws: Workspace, manifest: Manifest, stage: Stage, input_: str) -> None:
    old = manifest.outputs(stage.name, input_)
    with manifest.transaction():
        manifest.drop_outputs(stage.name, input_)
        gone = _retire(manifest, stage, old)
        manifest.drop_datum(stage.name, input_)
    _delete(ws, gone)


def _retire(manifest: Manifest, stage: Stage, outputs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Inside a transaction: outputs that no longer stand leave the manifest, or, for a stage
    that keeps its history (every model), stay on as history. The files to delete once the
    transaction has committed (never before: a kill in between must leave the old state)."""
    if stage.keep_history:
        for repo, path in outputs:
            manifest.put_output(stage.name, HISTORY, repo, path)
        return []
    for repo, path in outputs:
        manifest.drop_file(repo, path)
    return list(outputs)


def _delete(ws: Workspace, files: list[tuple[str, str]]) -> None:
    for repo, path in files:
        (ws.repo(repo) / path).unlink(missing_ok=True)


def latest_output_dir(ws: Workspace, manifest: Manifest, stage: Stage) -> str | None:
    """The newest folder a reduce stage committed (the model to fine-tune from)."""
    newest = manifest.newest_output(stage.name)
    return str(ws.repo(stage.output) / newest.split("/")[0]) if newest else None
