"""Measuring a model: `eval`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ambient.cli.controls import takes_controls
from ambient.cli.output import progress, say
from ambient.config import CONTINUATION, Sampling

SAMPLING = Sampling()


@takes_controls()
def eval_command(
    data: Path = typer.Argument(..., help="Folder of held-out MIDI (pieces the model never trained on), or a "
                                          "pipeline workspace (its newest model on the pieces it held out)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model directory or workspace (default: bundled)."),
    output: Path = typer.Option(Path("eval.json"), "--output", "-o", help="JSON report; the PNG goes beside it."),
    pieces: int = typer.Option(16, help="Held-out pieces to continue."),
    primer_seconds: float = typer.Option(20.0, help="Seconds of each piece given as the primer."),
    seconds: float = typer.Option(60.0, help="Seconds of continuation, generated and real."),
    seed: int = typer.Option(CONTINUATION.seed, help="Random seed; the same seed gives the same numbers."),
    takes: int = typer.Option(1, help="Continuations of each primer (one batch); more takes, a smaller standard "
                                      "error (the ± after key fidelity)."),
    temperature: float = typer.Option(SAMPLING.temperature),
    top_p: float = typer.Option(SAMPLING.top_p),
    train_data: Optional[Path] = typer.Option(None, help="The training MIDI, for the copy check."),
    threads: int = typer.Option(CONTINUATION.threads, help="CPU threads."),
    device: str = typer.Option(CONTINUATION.device, help="auto (a GPU when there is one), cpu, cuda, cuda:N or mps."),
    controls=None,
):
    """Evaluate a model on held-out music: NLL, key fidelity, feature overlap, drift, copies."""
    import torch

    from ambient.evaluate import EvalConfig, evaluate_model, write_report
    from ambient.device import resolve
    from ambient.pipeline import evaluation_set

    torch.set_num_threads(threads)
    device = resolve(device)
    cfg = EvalConfig(pieces=pieces, primer_seconds=primer_seconds, seconds=seconds, seed=seed, takes=takes,
                     sampling=Sampling(temperature=temperature, top_p=top_p),
                     controls=controls)
    with progress() as bar:
        task = bar.add_task("continuing held-out pieces", total=pieces)
        chosen = evaluation_set(data, model, train_data, warn=say)
        report = evaluate_model(chosen.model_dir, chosen.pieces, cfg, chosen.corpus, warn=say, label=chosen.label,
                                device=device,
                                on_piece=lambda done, total: bar.update(task, completed=done, total=total))
    json_path, png_path = write_report(report, output)
    real, made = report["summary"]["real"], report["summary"]["generated"]
    spread = f" ± {made['key_fidelity']['sem']}" if made["key_fidelity"]["sem"] is not None else ""
    typer.echo(f"{json_path}: {report['pieces']} pieces × {takes} takes, held-out NLL "
               f"{report['held_out_nll']['nats_per_token']:.3f} nats/token; key fidelity {made['key_fidelity']['mean']}"
               f"{spread} (real {real['key_fidelity']['mean']}); "
               f"density drift {made['density_drift']['mean']} (real {real['density_drift']['mean']}); "
               f"degenerate {made['degenerate']}")
    if png_path is None:
        say("no picture drawn: it needs matplotlib, from the 'render' extra: pip install 'ambient[render]'")
    else:
        typer.echo(str(png_path))


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
