"""`ambient stream`: music that keeps playing, generated and rendered as it goes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ambient.cli.controls import CONTROL_OPTIONS
from ambient.cli.output import say
from ambient.config import CONTINUATION, RENDER, Sampling

SAMPLING = Sampling()


def stream(
    output: str = typer.Option(..., "--output", "-o", help="An audio file that grows as it plays (.ogg, .mp3, "
                                                            ".flac, .wav), or - for WAV on standard output."),
    primer: str = typer.Option("1", "--primer", "-p", help="Seed MIDI: a path, or a bundled seed's name."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model directory or pipeline workspace."),
    minutes: Optional[float] = typer.Option(None, help="Stop after this many minutes (default: until Ctrl-C)."),
    instrument: str = typer.Option(RENDER.instrument, "--instrument", "-i", help="See `ambient instruments`."),
    save_midi: Optional[Path] = typer.Option(None, help="Also keep the notes played, as MIDI."),
    temperature: float = typer.Option(SAMPLING.temperature, help="Above 1 wilder, below 1 safer."),
    top_p: float = typer.Option(SAMPLING.top_p, help="Sample from the smallest set holding this probability."),
    seed: int = typer.Option(CONTINUATION.seed, help="Random seed; the same seed plays the same music."),
    threads: int = typer.Option(CONTINUATION.threads, help="CPU threads for the model."),
    device: str = typer.Option(CONTINUATION.device, help="auto (a GPU when there is one), cpu, cuda, cuda:N or mps."),
    scale: Optional[str] = typer.Option(CONTINUATION.scale, "--scale",
                                        help="auto (the seed's scale), a scale like 'D dorian', or none."),
    density: Optional[str] = typer.Option("auto", help="Notes per second to hold, or auto (the seed's rate)."),
    pitch_range: Optional[str] = CONTROL_OPTIONS["pitch_range"],
    max_polyphony: Optional[int] = CONTROL_OPTIONS["max_polyphony"],
    journey: Optional[float] = typer.Option(None, help="Move the key a fifth every this many minutes "
                                                       "(with --scale auto the scale follows)."),
):
    """Generate and render without end (or for --minutes), gaplessly, in constant memory."""
    import resource
    import signal
    import threading

    import torch

    from ambient.checkpoint import load_model
    from ambient.codec import CodecConfig
    from ambient.controls import controls_from
    from ambient.errors import AmbientError
    from ambient.midi import read_midi, write_midi
    from ambient.pipeline import model_dir
    from ambient.seeds import resolve_primer
    from ambient.stream import Composer, FileSink, Performer, PipeSink, check_minutes, stream as play

    torch.set_num_threads(threads)
    sampling = Sampling(temperature, SAMPLING.top_k, top_p, SAMPLING.min_p)
    sampling.check()
    controls = controls_from(scale=scale, pitch_range=pitch_range, density=density, max_polyphony=max_polyphony)
    check_minutes(minutes)               # before the output file exists
    performer = Performer(instrument, seed=seed)
    from ambient.device import resolve

    net, config = load_model(model_dir(model), device=resolve(device))
    composer = Composer(net, read_midi(resolve_primer(primer)), codec=CodecConfig.from_dict(config["codec"]),
                        sampling=sampling, controls=controls if controls.active else None, seed=seed,
                        journey_minutes=journey)
    name = "standard output" if output == "-" else output
    try:
        sink = PipeSink(sys.stdout.buffer, performer.rate) if output == "-" else FileSink(Path(output), performer.rate)
    except (OSError, RuntimeError) as e:
        raise AmbientError(f"{name}: cannot write ({e})") from None
    notes: list = []
    marks = {"next": 60.0}

    def progress(report):
        if report.seconds >= marks["next"]:
            marks["next"] += 60.0
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            say(f"{report.seconds / 60:5.1f} min played, {report.realtime:.1f}x real time, peak memory {rss:.0f} MB")

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())   # Ctrl-C ends the stream at the next block, cleanly
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        report = play(composer, performer, sink, minutes=minutes, on_block=progress, stop=stop,
                      notes_out=notes if save_midi else None)
    except BrokenPipeError:
        sys.stdout = None  # nothing more can reach the reader; keep Python from flushing into the closed pipe
        raise AmbientError(f"{name}: closed by the reader") from None
    except OSError as e:
        raise AmbientError(f"{name}: {e.strerror or e}") from None
    finally:
        if save_midi and notes:
            write_midi(save_midi, notes, text=f"ambient stream: primer {primer}, seed {seed}")
    for line in report.reprimed:
        say(f"re-primed at {line}")
    for line in report.turns:
        say(f"journey at {line}")
    say(f"{name}: {report.seconds:.1f} s of {instrument} in {report.wall:.1f} s ({report.realtime:.1f}x real time)")


def register(app: typer.Typer) -> None:
    app.command()(stream)
