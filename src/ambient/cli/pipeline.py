"""`ambient pipeline ...`: argument parsing and printing for the incremental pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ambient.cli.output import fail_if, print_error, progress, report_ingest
from ambient.config import PIPELINE_RUN
from ambient.pipeline.stages import DEFAULT_PARAMS

TRAIN = DEFAULT_PARAMS["train"]
app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Turn a collection into a model, redoing only what changed.")
WORKSPACE = typer.Option(None, "--workspace", "-w", help="Workspace folder (default $AMBIENT_HOME or ./ambient-workspace).")


@app.command()
def init(
    folder: Optional[Path] = typer.Argument(None, help="Where to create it (default ./ambient-workspace)."),
    minutes: str = typer.Option(TRAIN["minutes"], help="Training time per model: auto (grows with the collection, "
                                "5-30 minutes) or minutes."),
    steps: int = typer.Option(TRAIN["steps"], help="Most training steps per model (time decides first)."),
    threads: str = typer.Option(TRAIN["threads"], help="Training threads: auto (this machine's cores) or a number."),
    device: str = typer.Option(TRAIN["device"], help="Training device: auto (a GPU when there is one), cpu, cuda, "
                               "cuda:N or mps."),
    n_layer: int = typer.Option(TRAIN["n_layer"], "--layers"),
    d_model: int = typer.Option(TRAIN["d_model"]),
    n_head: int = typer.Option(TRAIN["n_head"], "--heads"),
    context: int = typer.Option(TRAIN["context"]),
    batch_size: int = typer.Option(TRAIN["batch_size"]),
    fine_tune: bool = typer.Option(TRAIN["fine_tune"], help="Continue from the last model instead of training afresh."),
    start_from: str = typer.Option(TRAIN["start_from"], help="auto (the bundled model for a small collection), "
                                   "bundled or scratch."),
):
    """Create a workspace."""
    from ambient.pipeline import Workspace

    from ambient.device import check_name

    train = {"minutes": _auto_or_number("minutes", minutes), "threads": _auto_or_number("threads", threads),
             "device": check_name(device),
             "steps": steps, "n_layer": n_layer, "d_model": d_model, "n_head": n_head, "context": context,
             "batch_size": batch_size, "fine_tune": fine_tune, "start_from": start_from}
    ws = Workspace.init(folder, {"train": train})
    typer.echo(f"{ws.root}: workspace ready; next: ambient pipeline ingest MUSIC_FOLDER -w {ws.root}")


def _auto_or_number(name: str, text: str):
    from ambient.errors import AmbientError

    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise AmbientError(f"--{name}: must be auto or a number, not {text!r}") from None
    if value <= 0:
        raise AmbientError(f"--{name}: must be auto or above 0, got {text}")
    return int(value) if name == "threads" else value


@app.command("set")
def set_param(
    assignments: list[str] = typer.Argument(..., help="STAGE.KEY=VALUE, e.g. train.steps=2000 (reruns that stage); "
                                                       "STAGE.KEY= (nothing after =) goes back to the default."),
    workspace: Optional[Path] = WORKSPACE,
):
    """Change stage parameters; the next run redoes that stage and those after it."""
    from ambient.errors import AmbientError
    from ambient.pipeline import Workspace

    ws = Workspace(workspace)
    for item in assignments:
        key, eq, raw = item.partition("=")
        stage, dot, name = key.partition(".")
        if not (eq and dot and name):
            raise AmbientError(f"{item}: expected STAGE.KEY=VALUE")
        if raw == "":
            was_set = ws.unset_param(stage, name)
            typer.echo(f"{stage}.{name}: back to its default" if was_set else f"{stage}.{name}: was not set")
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        ws.set_param(stage, name, value)
        typer.echo(f"{stage}.{name} = {value!r}")


@app.command()
def ingest(paths: list[Path] = typer.Argument(...), workspace: Optional[Path] = WORKSPACE):
    """Add audio files or folders to the workspace's source repo."""
    from ambient.pipeline import Workspace
    from ambient.pipeline.sources import add

    report_ingest(add(Workspace(workspace), paths))


def running_line(state: dict) -> str:
    """A training's progress in words: step, time against its budget, held-out loss."""
    budget = state.get("budget_seconds")
    clock = (f"{state['seconds'] / 60:.1f} of {budget / 60:.1f} minutes" if budget
             else f"{state['seconds'] / 60:.1f} minutes")
    loss = state.get("best_validation_loss")
    before = state.get("initial_validation_loss")
    held = "" if loss is None else f", held-out loss {loss:.3f}" + (f" (from {before:.3f})" if before else "")
    return f"step {state['step']}, {clock}{held}"


def _run(ws, **options) -> int:
    from ambient.pipeline import run

    with progress(label_width=11) as bars:
        tasks = {}

        def on_progress(stage, done, total):
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        reports = run(ws, on_progress=on_progress, **options)
    failed = 0
    for name, r in reports.items():
        typer.echo(f"{name:<11} processed {r.processed}, skipped {r.skipped}, removed {r.removed}, "
                   f"failed {len(r.failed)}")
        for _, error in r.failed:
            print_error(f"{name}: {error}")
        failed += len(r.failed)
    if reports.get("train") and reports["train"].processed:
        from ambient.pipeline.queries import latest_model

        typer.echo(f"next: ambient generate --model {ws.root} -o piece.mid --render stratosphere\n"
                   f"      ambient studio --model {latest_model(ws)}")
    return failed


@app.command("run")
def run_command(
    workspace: Optional[Path] = WORKSPACE,
    workers: Optional[int] = typer.Option(PIPELINE_RUN.workers, help=f"Datums at once (default "
                                          f"{PIPELINE_RUN.pool_workers} processes; ray: the cluster's CPUs)."),
    executor: str = typer.Option(PIPELINE_RUN.executor, help="process, serial or ray."),
    retries: int = typer.Option(PIPELINE_RUN.retries, help="Attempts per datum before it fails."),
    timeout: Optional[float] = typer.Option(PIPELINE_RUN.timeout, help="Seconds a datum may take."),
    address: Optional[str] = typer.Option(None, help="Ray cluster: auto, HOST:PORT or ray://HOST:PORT "
                                          "(default: a local one on this machine)."),
    storage: Optional[str] = typer.Option(None, help="Ray: where files travel when the workspace is not on a "
                                          "shared folder (s3://, gs://, file://)."),
):
    """Bring every stage up to date."""
    from ambient.pipeline import Workspace

    fail_if(_run(Workspace(workspace), workers=workers, executor=executor, retries=retries, timeout=timeout,
                 address=address, storage=storage))


@app.command()
def status(workspace: Optional[Path] = WORKSPACE, as_json: bool = typer.Option(False, "--json")):
    """Datums done, to do and failed, per stage (--json: with every source)."""
    from ambient.pipeline import Workspace, list_sources, status as query

    ws = Workspace(workspace)
    report = query(ws)
    if as_json:
        typer.echo(json.dumps({"stages": report, "sources": list_sources(ws)}, indent=2))
        return
    for name, s in report.items():
        typer.echo(f"{name:<11} done {s['done']}, to do {s['to_do']}, failed {s['failed']}")
        if s.get("running"):
            typer.echo(f"  running: {running_line(s['running'])}")
        for input_, error in s["errors"].items():
            typer.echo(f"  {input_}: {error}")


@app.command()
def sources(workspace: Optional[Path] = WORKSPACE):
    """Every source by the name `ambient pipeline remove` takes, and how far it has come."""
    from ambient.pipeline import Workspace, list_sources

    for row in list_sources(Workspace(workspace)):
        stages = ", ".join(f"{stage} {state}" for stage, state in row["stages"].items())
        typer.echo(f"{row['name']}  {row['bytes']} bytes  {stages}")


@app.command()
def lineage(file: Path = typer.Argument(..., help="A file or model folder in the workspace."),
            workspace: Optional[Path] = WORKSPACE):
    """Every source file behind an output."""
    from ambient.pipeline import Workspace, lineage as query

    for source in query(Workspace(workspace), file):
        typer.echo(source)


@app.command()
def logs(stage: str = typer.Argument(...), file: Optional[str] = typer.Argument(None),
         workspace: Optional[Path] = WORKSPACE):
    """A failed datum's error and captured traceback."""
    from ambient.pipeline import Workspace
    from ambient.pipeline.queries import logs as query

    for input_, error, log in query(Workspace(workspace), stage, file):
        typer.echo(f"== {stage} {input_}: {error}")
        if log:
            typer.echo(log.rstrip())


@app.command()
def remove(name: str = typer.Argument(..., help="A source file's name in the workspace."),
           workspace: Optional[Path] = WORKSPACE):
    """Remove a source and everything derived from it."""
    from ambient.pipeline import Workspace, run
    from ambient.pipeline.sources import remove as drop

    ws = Workspace(workspace)
    drop(ws, name)
    reports = run(ws, removals_only=True)
    typer.echo(f"removed {name} and {sum(r.removed for r in reports.values())} derived datums")


@app.command()
def models(workspace: Optional[Path] = WORKSPACE):
    """Every model trained, newest first."""
    from ambient.pipeline import Workspace, models as query

    for m in query(Workspace(workspace)):
        loss = m["validation_loss"]
        typer.echo(f"{m['path']}  {m['files']} files  validation {loss if loss is None else f'{loss:.3f}'} nats/token"
                   + (f"  fine-tuned from {Path(m['fine_tuned_from']).name}" if m["fine_tuned_from"] else ""))


@app.command()
def export(
    engine: str = typer.Argument(..., help="pachyderm"),
    out: Path = typer.Option(Path("pachyderm"), "--out", "-o", help="Folder for the specs and Dockerfile."),
    image: str = typer.Option("ambient:latest", help="Container image the pipelines run."),
    schema: Optional[Path] = typer.Option(None, help="Pachyderm's CreatePipelineRequest JSON schema to check against."),
    workspace: Optional[Path] = WORKSPACE,
):
    """Write this workspace's stages as pipelines for a cluster engine."""
    from ambient.errors import AmbientError
    from ambient.pipeline import Workspace
    from ambient.pipeline.export import export_pachyderm

    if engine != "pachyderm":
        raise AmbientError(f"{engine}: no exporter (available: pachyderm)")
    for path in export_pachyderm(Workspace(workspace).params, out, image, schema):
        typer.echo(str(path))


@app.command()
def watch(folder: Path = typer.Argument(...), workspace: Optional[Path] = WORKSPACE,
          interval: float = typer.Option(PIPELINE_RUN.watch_interval, help="Seconds between looks."),
          passes: Optional[int] = typer.Option(None, help="Stop after this many looks (default: never).")):
    """Ingest and run whenever audio appears in or leaves a folder."""
    from ambient.pipeline import Workspace
    from ambient.pipeline.sources import watch as follow

    ws = Workspace(workspace)
    follow(ws, folder, interval=interval, passes=passes, on_change=lambda report, gone: _run(ws))
