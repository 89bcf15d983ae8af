"""From records to a model by hand: `ingest`, `transcribe`, `train`, and `stage` for other engines."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from ambient.cli.output import fail_if, print_error, progress, report_ingest
from ambient.config import CONTINUATION, ModelConfig, TrainConfig, declared
from ambient.errors import ParameterError

MODEL, TRAINING = declared(ModelConfig), TrainConfig()


def ingest(
    paths: list[Path] = typer.Argument(..., help="Audio files or folders (searched recursively)."),
    into: Path = typer.Option(Path("collection"), "--into", help="Folder to copy the audio into."),
):
    """Copy audio into a collection: standard names, duplicates skipped."""
    from ambient.ingest import ingest as copy_in

    report_ingest(copy_in(paths, into))


def transcribe(
    sources: list[Path] = typer.Argument(..., help="Audio files to transcribe."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="MIDI file (one source) or folder."),
    method: str = typer.Option("ambient", help="ambient (tuned for sustained sound) or basic-pitch (its defaults)."),
    profile: str = typer.Option("auto", help="ambient: pluck (sharp attacks), pad (swells), or auto: chosen "
                                             "per file from how sharp its attacks are."),
    setting: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                      help="ambient: a clean-up setting on top of the profile, e.g. min_note=0.3 "
                                           "(an unknown name lists them all; `--help` imports no transcriber). "
                                           "Repeatable."),
    tempo: Optional[str] = typer.Option(None, help="Lay a bar grid under the notes for a DAW: auto (estimated) "
                                                   "or beats per minute. Notes keep their exact times."),
):
    """Transcribe audio to MIDI with basic-pitch, cleaned up for ambient sound."""
    from ambient.transcribe import transcribe_files, transcriber

    settings = {}
    for item in setting:
        key, _, value = item.partition("=")
        try:
            settings[key.strip().replace("-", "_")] = float(value)
        except ValueError:
            raise ParameterError("set", f"expected KEY=NUMBER, got {item!r}") from None
    report = transcribe_files(sources, output, transcriber(method, profile, **settings), tempo=tempo)
    for source, target, count in report.written:
        typer.echo(f"{target}: {count} notes from {source}")
    for _, reason in report.failed:
        print_error(reason)
    fail_if(len(report.failed))


def train(
    ctx: typer.Context,
    data_dir: Path = typer.Argument(..., help="Folder of MIDI (.mid) or token (.npy) files."),
    out: Path = typer.Option(..., "--out", "-o", help="Model directory to write."),
    steps: int = typer.Option(TRAINING.steps, help="Optimizer steps."),
    batch_size: int = typer.Option(TRAINING.batch_size, help="Windows per step (over all processes)."),
    learning_rate: Optional[float] = typer.Option(TRAINING.learning_rate, help=f"Peak (default "
                                                  f"{TRAINING.scratch_learning_rate:g}, or "
                                                  f"{TRAINING.fine_tune_learning_rate:g} with --from)."),
    warmup_steps: int = typer.Option(TRAINING.warmup_steps),
    val_every: int = typer.Option(TRAINING.val_every, help="Validate and checkpoint every N steps."),
    minutes: float = typer.Option(TRAINING.minutes, help="Stop after this many minutes (0: run every step)."),
    patience: int = typer.Option(TRAINING.patience, help="Stop after this many validations without a better "
                                 "held-out loss (0: never)."),
    seed: int = typer.Option(TRAINING.seed),
    openings: float = typer.Option(TRAINING.openings, help="Share of windows that begin at a piece's first "
                                   "note, as a primer does (0 to 1)."),
    context: int = typer.Option(MODEL.context, help="Tokens of context."),
    n_layer: int = typer.Option(MODEL.n_layer, "--layers"),
    n_head: int = typer.Option(MODEL.n_head, "--heads"),
    d_model: int = typer.Option(MODEL.d_model),
    dropout: float = typer.Option(MODEL.dropout),
    max_relative_distance: int = typer.Option(MODEL.max_relative_distance,
                                              help="0: half the context."),
    positions: str = typer.Option(MODEL.positions, help="relative (Music Transformer) or absolute."),
    sounding_input: bool = typer.Option(MODEL.sounding_input, help="Also feed the model which pitches are "
                                        "sounding (a model fine-tuned with --from gains it)."),
    resume: bool = typer.Option(False, help="Continue from OUT/checkpoint."),
    threads: int = typer.Option(0, help="CPU threads (0: torch's default)."),
    device: str = typer.Option(CONTINUATION.device, help="auto (a GPU when there is one), cpu, cuda, cuda:N or mps."),
    init_from: Optional[str] = typer.Option(None, "--from", help="Fine-tune a model: 'default' (the bundled one), "
                                            "a model directory or a workspace. Its shape is kept; --context may change."),
    ray_workers: int = typer.Option(0, help="Train on this many Ray Train workers (0: here, or under torchrun)."),
    gpus_per_worker: float = typer.Option(0, help="With --ray-workers: GPUs for each worker (0: CPUs)."),
    address: Optional[str] = typer.Option(None, help="With --ray-workers: the Ray cluster (auto, HOST:PORT, "
                                          "ray://HOST:PORT; default a local one)."),
    storage: Optional[str] = typer.Option(None, help="With --ray-workers: Ray's checkpoint storage (default OUT.ray)."),
):
    """Train a Music Transformer on a folder of MIDI files (or fine-tune one with --from)."""
    import torch

    from ambient.device import resolve
    from ambient.errors import ParameterError
    from ambient.train import model_shape, train as fit

    if threads:
        torch.set_num_threads(threads)
    if init_from not in (None, "default"):
        from ambient.pipeline import model_dir

        init_from = str(model_dir(init_from))          # a workspace means its newest model
    asked = ModelConfig(context=context, n_layer=n_layer, n_head=n_head, d_model=d_model, dropout=dropout,
                        max_relative_distance=max_relative_distance, positions=positions, sounding_input=sounding_input)
    typed = {name for name in asked.to_dict()
             if name in ctx.params and ctx.get_parameter_source(name).name == "COMMANDLINE"}
    model_config = model_shape(asked, init_from, typed)
    cfg = TrainConfig(steps=steps, batch_size=batch_size, learning_rate=learning_rate, warmup_steps=warmup_steps,
                      val_every=val_every, seed=seed, minutes=minutes, patience=patience, openings=openings)
    if ray_workers:
        from ambient.cluster.training import train_on_ray

        summary = train_on_ray(data_dir, out, model_config, cfg, workers=ray_workers, gpus_per_worker=gpus_per_worker,
                               address=address, storage=storage, resume=resume, init_from=init_from,
                               threads=threads or 1, command=" ".join(["ambient", *sys.argv[1:]]))
    elif gpus_per_worker or address or storage:
        raise ParameterError("ray_workers", "is needed for --gpus-per-worker, --address and --storage")
    else:
        with progress() as bar:
            summary = fit(data_dir, out, model_config, cfg, resume=resume, device=resolve(device), progress=bar,
                          init_from=init_from, log=lambda m: bar.console.print(m, markup=False, highlight=False),
                          command=" ".join(["ambient", *sys.argv[1:]]))
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun rank 0 speaks for the run
    typer.echo(f"{out}: best validation loss {summary['best_validation_loss']:.4f} nats/token "
               f"after {summary['steps']} steps")


def stage(
    name: str = typer.Argument(..., help="decode, transcribe, tokenize or train."),
    input_dir: Path = typer.Option(..., "--input", help="Folder of the stage's input files."),
    output_dir: Path = typer.Option(..., "--output", help="Folder to write its outputs into."),
    params: str = typer.Option("{}", help="Stage parameters as JSON, e.g. '{\"steps\": 500}'."),
):
    """Run one pipeline stage over plain folders (a container entry point for other engines)."""
    import json

    from ambient.errors import ParameterError
    from ambient.pipeline.standalone import run_stage

    try:
        settings = json.loads(params)
    except json.JSONDecodeError as e:
        raise ParameterError("params", f"is not JSON ({e})") from None
    failed = run_stage(name, input_dir, output_dir, settings)
    for _, error in failed:
        print_error(error)
    fail_if(len(failed))


def register(app: typer.Typer) -> None:
    for command in (ingest, transcribe, train, stage):
        app.command()(command)

