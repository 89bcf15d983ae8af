"""The `ambient` command: argument parsing and printing only.

Each command is a thin call into a layer. Bad input arrives here as an `AmbientError`
and leaves as one line on stderr and exit status 1 (`--debug` shows the traceback).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ambient.errors import AmbientError
from ambient.transcribe.cleanup import AmbientCleanup as _CLEANUP  # the flags' defaults are its own

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Learn ambient music from a collection and generate new pieces you can hear.")
console = Console(stderr=True)
_debug = False


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors.")):
    global _debug
    _debug = debug


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True, disable=not console.is_terminal)


@app.command()
def generate(
    primer: str = typer.Option("1", "--primer", "-p", help="Seed MIDI: a path, or a bundled seed's name."),
    output: Path = typer.Option(Path("out.mid"), "--output", "-o", help="MIDI file to write."),
    model: Optional[Path] = typer.Option(None, "--model", "-m",
                                         help="Model directory or pipeline workspace (default: bundled)."),
    length: Optional[int] = typer.Option(None, "--length", "-n", help="New tokens to generate."),
    seconds: Optional[float] = typer.Option(None, "--seconds", "-s", help="New music in seconds (default 60)."),
    primer_seconds: Optional[float] = typer.Option(None, help="Prime with only the seed's last N seconds."),
    temperature: float = typer.Option(1.0, help="Above 1 wilder, below 1 safer."),
    top_k: int = typer.Option(0, help="Sample from the k likeliest tokens (0: all)."),
    top_p: float = typer.Option(0.95, help="Sample from the smallest set holding this probability."),
    min_p: float = typer.Option(0.0, help="Drop tokens below this fraction of the likeliest."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same file."),
    variations: int = typer.Option(1, help="Continuations to write, generated as one batch."),
    program: int = typer.Option(89, help="General MIDI program of the output (89: warm pad)."),
    threads: int = typer.Option(1, help="CPU threads (1 is fastest for one piece on a busy machine)."),
    render_instrument: Optional[str] = typer.Option(None, "--render", help="Also render with this instrument."),
    audio_format: str = typer.Option("wav", "--audio-format", help="wav, flac, mp3 or ogg (with --render)."),
):
    """Continue a seed MIDI with a Music Transformer."""
    import torch

    from ambient.checkpoint import load_model
    from ambient.codec import CodecConfig
    from ambient.generate import Sampling, generate as run
    from ambient.midi import read_midi, write_midi
    from ambient.notes import piece_end
    from ambient.seeds import resolve_primer

    torch.set_num_threads(threads)
    sampling = Sampling(temperature, top_k, top_p, min_p)
    sampling.check()
    if not 0 <= program <= 127:
        raise AmbientError(f"--program must be 0-127, got {program}")
    if length is None and seconds is None:
        seconds = 60.0
    if render_instrument is not None:
        from ambient.render import preset

        preset(render_instrument)  # an unknown name fails before any work is done
    primer_path = resolve_primer(primer)
    notes = read_midi(primer_path)
    if model is not None and (model / "ambient.json").exists():  # a pipeline workspace: its newest model
        from ambient.pipeline import Workspace, latest_model

        model = latest_model(Workspace(model))
    net, config = load_model(model)
    codec = CodecConfig.from_dict(config["codec"])
    with _progress() as progress:
        task = progress.add_task("generating", total=length)
        pieces = run(net, notes, primer_seconds=primer_seconds, length=length, seconds=seconds,
                     sampling=sampling, variations=variations, seed=seed, program=program, codec=codec,
                     on_step=lambda n: progress.update(task, completed=n))
    for i, piece in enumerate(pieces, 1):
        path = output if variations == 1 else output.with_name(f"{output.stem}-{i}{output.suffix}")
        write_midi(path, piece, text=f"ambient: primer {primer_path.name}, seed {seed}")
        typer.echo(f"{path}: {len(piece)} notes, {piece_end(piece):.1f} s")
        if render_instrument is not None:
            _render_and_report(piece, path.with_suffix("." + audio_format.lstrip(".")), render_instrument, seed=seed)


def _render_and_report(notes, output: Path, instrument: str, **options) -> None:
    from ambient.render import render as run

    with _progress() as progress:
        task = progress.add_task(f"rendering {output.name}", total=1000)
        report = run(notes, output, instrument, on_progress=lambda f: progress.update(task, completed=f * 1000),
                     **options)
    typer.echo(f"{report.path}: {report.seconds:.1f} s of {instrument}, {report.lufs:.1f} LUFS, "
               f"peak {report.peak_dbfs:.1f} dBFS")


@app.command()
def train(
    data_dir: Path = typer.Argument(..., help="Folder of MIDI (.mid) or token (.npy) files."),
    out: Path = typer.Option(..., "--out", "-o", help="Model directory to write."),
    steps: int = typer.Option(2000, help="Optimizer steps."),
    batch_size: int = typer.Option(8, help="Windows per step (over all processes)."),
    learning_rate: float = typer.Option(1e-3),
    warmup_steps: int = typer.Option(100),
    val_every: int = typer.Option(100, help="Validate and checkpoint every N steps."),
    minutes: float = typer.Option(0.0, help="Stop after this many minutes (0: run every step)."),
    seed: int = typer.Option(0),
    context: int = typer.Option(512, help="Tokens of context."),
    layers: int = typer.Option(4),
    heads: int = typer.Option(8),
    d_model: int = typer.Option(256),
    dropout: float = typer.Option(0.1),
    max_relative_distance: int = typer.Option(0, help="0: half the context."),
    positions: str = typer.Option("relative", help="relative (Music Transformer) or absolute."),
    resume: bool = typer.Option(False, help="Continue from OUT/checkpoint."),
    threads: int = typer.Option(0, help="CPU threads (0: torch's default)."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
):
    """Train a Music Transformer on a folder of MIDI files."""
    import torch

    from ambient.codec import vocab_size
    from ambient.model import ModelConfig
    from ambient.train import TrainConfig, train as run

    if threads:
        torch.set_num_threads(threads)
    try:
        model_config = ModelConfig(vocab_size=vocab_size(), context=context, n_layer=layers, n_head=heads,
                                   d_model=d_model, dropout=dropout,
                                   max_relative_distance=max_relative_distance, positions=positions)
    except ValueError as e:
        raise AmbientError(str(e)) from None
    if steps < 1:
        raise AmbientError(f"--steps must be at least 1, got {steps}")
    cfg = TrainConfig(steps=steps, batch_size=batch_size, learning_rate=learning_rate, warmup_steps=warmup_steps,
                      val_every=val_every, seed=seed, minutes=minutes)
    with _progress() as progress:
        summary = run(data_dir, out, model_config, cfg, resume=resume, device=device, progress=progress,
                      log=lambda m: progress.console.print(m, markup=False, highlight=False),
                      command=" ".join(["ambient", *sys.argv[1:]]))
    typer.echo(f"{out}: best validation loss {summary['best_validation_loss']:.4f} nats/token "
               f"after {summary['steps']} steps")


@app.command()
def render(
    midi: Path = typer.Argument(..., help="MIDI file to play."),
    output: Path = typer.Option(..., "--output", "-o", help="Audio file: .wav, .flac, .mp3 or .ogg."),
    instrument: str = typer.Option("stratosphere", "--instrument", "-i", help="See `ambient instruments`."),
    stretch: float = typer.Option(1.0, help="Paulstretch the audio this many times longer (e.g. 4)."),
    tempo: float = typer.Option(1.0, help="Play the MIDI at this speed (0.5: half speed)."),
    soundfont: Optional[Path] = typer.Option(None, help="Play through this SoundFont (.sf2) instead."),
    program: int = typer.Option(0, help="SoundFont program (General MIDI numbering from 0)."),
    seed: int = typer.Option(0, help="Random seed for the voices; the same seed gives the same file."),
):
    """Render MIDI to audio through an ambient instrument and its effects."""
    from ambient.midi import read_midi

    _render_and_report(read_midi(midi), output, instrument, stretch_factor=stretch, tempo=tempo,
                       soundfont=soundfont, program=program, seed=seed)


@app.command()
def instruments():
    """List the ambient instruments."""
    from ambient.render import PRESETS

    for p in PRESETS.values():
        typer.echo(f"{p.name:<18} {p.description}")


@app.command()
def plot(
    source: Path = typer.Argument(..., help="A MIDI file (piano roll) or an audio file (spectrogram)."),
    output: Path = typer.Option(..., "--output", "-o", help="PNG file to write."),
):
    """Draw a piano roll of a MIDI file or a spectrogram of an audio file."""
    from ambient import plot as pictures

    if source.suffix.lower() in (".mid", ".midi"):
        from ambient.midi import read_midi

        pictures.piano_roll(read_midi(source), output, title=source.name)
    else:
        from ambient.audio import read_audio

        audio, rate = read_audio(source)
        pictures.spectrogram(audio, rate, output, title=source.name)
    typer.echo(str(output))


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Audio files or folders (searched recursively)."),
    into: Path = typer.Option(Path("collection"), "--into", help="Folder to copy the audio into."),
):
    """Copy audio into a collection: standard names, duplicates skipped."""
    from ambient.ingest import ingest as run

    report_ingest(run(paths, into))


def report_ingest(report) -> None:
    """What an ingest did, a line a file; exit 1 when any file failed."""
    for source, stored in report.added:
        typer.echo(f"added {source} as {stored.name}")
    for source, stored in report.duplicates:
        typer.echo(f"skipped {source}: same content as {stored.name}")
    for _, reason in report.failed:
        console.print(f"error: {reason}", markup=False, highlight=False, soft_wrap=True)
    typer.echo(f"{len(report.added)} added, {len(report.duplicates)} duplicates, {len(report.failed)} failed, "
               f"{len(report.ignored)} not audio")
    if report.failed:
        raise typer.Exit(1)


@app.command()
def transcribe(
    sources: list[Path] = typer.Argument(..., help="Audio files to transcribe."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="MIDI file (one source) or folder."),
    method: str = typer.Option("ambient", help="ambient (tuned for sustained sound) or basic-pitch (its defaults)."),
    frame_high: float = typer.Option(_CLEANUP.frame_high, help="ambient: a note's activation must pass this."),
    frame_low: float = typer.Option(_CLEANUP.frame_low, help="ambient: ... and lasts while above this."),
    merge_gap: float = typer.Option(_CLEANUP.merge_gap, help="ambient: seconds of dip bridged inside a held note."),
    release_ratio: float = typer.Option(_CLEANUP.release_ratio, help="ambient: a note ends below this share of its peak."),
    onset_threshold: float = typer.Option(_CLEANUP.onset_threshold, help="Onset peak strength that places or splits a note."),
    restrike_rise: float = typer.Option(_CLEANUP.restrike_rise, help="ambient: activation rise that confirms a re-strike."),
    onset_search: float = typer.Option(_CLEANUP.onset_search, help="ambient: seconds around a start searched for its onset."),
    attack_search: float = typer.Option(_CLEANUP.attack_search, help="ambient: seconds a slow swell's start may move back."),
    min_note: float = typer.Option(_CLEANUP.min_note, help="ambient: seconds; shorter notes are dropped."),
    harmonic_ratio: float = typer.Option(_CLEANUP.harmonic_ratio, help="ambient: echoes of a louder note below this share go."),
):
    """Transcribe audio to MIDI with basic-pitch, cleaned up for ambient sound."""
    from ambient.transcribe import AmbientCleanup, BasicPitchDefaults, BasicPitchModel, transcribe_file

    if method == "ambient":
        chosen = AmbientCleanup(frame_high=frame_high, frame_low=frame_low, merge_gap=merge_gap,
                                release_ratio=release_ratio, onset_threshold=onset_threshold,
                                restrike_rise=restrike_rise, onset_search=onset_search, attack_search=attack_search,
                                min_note=min_note, harmonic_ratio=harmonic_ratio)
    elif method == "basic-pitch":
        chosen = BasicPitchDefaults()
    else:
        raise AmbientError(f"--method must be ambient or basic-pitch, not {method!r}")
    if output is not None and len(sources) > 1 and output.suffix.lower() in (".mid", ".midi"):
        raise AmbientError(f"{output}: give a folder for --output when transcribing several files")
    model = BasicPitchModel()
    failed = 0
    for source in sources:
        if output is None:
            target = source.with_suffix(".mid")
        elif output.suffix.lower() in (".mid", ".midi"):
            target = output
        else:
            target = output / f"{source.stem}.mid"
        try:
            notes = transcribe_file(source, target, chosen, model)
        except AmbientError as e:
            failed += 1
            console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
            continue
        typer.echo(f"{target}: {len(notes)} notes from {source}")
    if failed:
        raise typer.Exit(1)


@app.command()
def stage(
    name: str = typer.Argument(..., help="decode, transcribe, tokenize or train."),
    input_dir: Path = typer.Option(..., "--input", help="Folder of the stage's input files."),
    output_dir: Path = typer.Option(..., "--output", help="Folder to write its outputs into."),
    params: str = typer.Option("{}", help="Stage parameters as JSON, e.g. '{\"steps\": 500}'."),
):
    """Run one pipeline stage over plain folders (a container entry point for other engines)."""
    import json

    from ambient.pipeline.standalone import run_stage

    try:
        settings = json.loads(params)
    except json.JSONDecodeError as e:
        raise AmbientError(f"--params: not JSON ({e})") from None
    failed = run_stage(name, input_dir, output_dir, settings)
    for _, error in failed:
        console.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def seeds():
    """List the bundled seed MIDIs."""
    from ambient.seeds import describe_seeds

    for row in describe_seeds():
        typer.echo(f"{row['name']:>4}  {row['seconds']:6.1f} s  {row['notes']:5d} notes  {row['path']}")


def _add_pipeline() -> None:
    from ambient.cli_pipeline import app as pipeline

    app.add_typer(pipeline, name="pipeline")


_add_pipeline()


def main() -> None:
    try:
        code = app(standalone_mode=False)  # click hands back typer.Exit codes here instead of raising
        sys.exit(code if isinstance(code, int) else 0)
    except AmbientError as e:
        if _debug:
            raise
        console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except (typer.Exit, SystemExit) as e:
        sys.exit(getattr(e, "exit_code", getattr(e, "code", 0)))
    except KeyboardInterrupt:
        console.print("interrupted", markup=False)
        sys.exit(130)
    except Exception as e:  # click's usage errors and friends
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(1)
        raise
