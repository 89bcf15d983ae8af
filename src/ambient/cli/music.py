"""Making and hearing pieces: `generate`, `render`, `instruments`, `plot`, `seeds`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

from ambient.cli.controls import takes_controls
from ambient.cli.live import LIVE_OPTIONS
from ambient.cli.output import progress
from ambient.config import CONTINUATION, RENDER, Sampling

SAMPLING = Sampling()


@takes_controls(scale=typer.Option(CONTINUATION.scale, "--scale", help="auto (the primer's scale and key "
                                  "profile), a scale like 'D dorian', or none (the model alone)."))
def generate(
    primer: str = typer.Option("1", "--primer", "-p", help="Seed MIDI: a path, or a bundled seed's name."),
    output: Path = typer.Option(Path("out.mid"), "--output", "-o", help="MIDI file to write."),
    model: Optional[Path] = typer.Option(None, "--model", "-m",
                                         help="Model directory or pipeline workspace (default: bundled)."),
    length: Optional[int] = typer.Option(None, "--length", "-n", help="New tokens to generate."),
    seconds: Optional[float] = typer.Option(None, "--seconds", "-s",
                                            help=f"New music in seconds (default {CONTINUATION.default_seconds:g})."),
    primer_seconds: Optional[float] = typer.Option(None, help="Prime with only the seed's last N seconds."),
    temperature: float = typer.Option(SAMPLING.temperature, help="Above 1 wilder, below 1 safer."),
    top_k: int = typer.Option(SAMPLING.top_k, help="Sample from the k likeliest tokens (0: all)."),
    top_p: float = typer.Option(SAMPLING.top_p, help="Sample from the smallest set holding this probability."),
    min_p: float = typer.Option(SAMPLING.min_p, help="Drop tokens below this fraction of the likeliest."),
    seed: int = typer.Option(CONTINUATION.seed, help="Random seed; the same seed gives the same file."),
    variations: int = typer.Option(CONTINUATION.variations, help="Continuations to write, generated as one batch."),
    program: int = typer.Option(CONTINUATION.program, help="General MIDI program of the output (89: warm pad)."),
    threads: int = typer.Option(CONTINUATION.threads,
                                help="CPU threads (1 is fastest for one piece on a busy machine)."),
    device: str = typer.Option(CONTINUATION.device, help="auto (a GPU when there is one), cpu, cuda, cuda:N or mps."),
    render_instrument: Optional[str] = typer.Option(None, "--render", help="Also render with this instrument."),
    audio_format: str = typer.Option(RENDER.audio_format, "--audio-format",
                                     help="wav, flac, mp3 or ogg (with --render)."),
    midi_out: Optional[str] = LIVE_OPTIONS["midi_out"],
    midi_api: str = LIVE_OPTIONS["midi_api"],
    channel: int = LIVE_OPTIONS["channel"],
    latency: float = LIVE_OPTIONS["latency"],
    osc: Optional[str] = LIVE_OPTIONS["osc"],
    log_events: Optional[Path] = LIVE_OPTIONS["log_events"],
    controls=None,
):
    """Continue a seed MIDI with a Music Transformer (and play it live with --midi-out or --osc)."""
    import torch

    from ambient.checkpoint import load_model
    from ambient.errors import ParameterError
    from ambient.midi import read_midi, write_midi
    from ambient.notes import piece_end
    from ambient.pipeline import model_dir
    from ambient.sampling import continue_piece
    from ambient.seeds import resolve_primer

    torch.set_num_threads(threads)
    sampling = Sampling(temperature, top_k, top_p, min_p)
    sampling.check()
    if not 0 <= program <= 127:
        raise ParameterError("program", f"must be 0-127, got {program}")
    if length is None and seconds is None:
        seconds = CONTINUATION.default_seconds
    if render_instrument is not None:
        from ambient.render import preset

        preset(render_instrument)  # an unknown name fails before any work is done
    primer_path = resolve_primer(primer)
    notes = read_midi(primer_path)
    from ambient.cli.live import open_player, play_piece

    player = open_player(midi_out=midi_out, midi_api=midi_api, channel=channel, latency=latency, osc=osc,
                         log_events=log_events, program=program)   # a missing port fails before any work
    from ambient.device import resolve

    net, card = load_model(model_dir(model), device=resolve(device))
    with progress() as bar:
        total = length if length is not None else seconds          # the bar counts tokens, or seconds of music
        task = bar.add_task("generating " + ("tokens" if length is not None else "seconds"), total=total)
        made = continue_piece(net, notes, primer_seconds=primer_seconds, length=length, seconds=seconds,
                              sampling=sampling, variations=variations, seed=seed, program=program,
                              codec=card.codec, controls=controls,
                              on_step=lambda n, done: bar.update(task, completed=done * total))
    pieces = [c.notes for c in made]
    for i, piece in enumerate(pieces, 1):
        path = output if variations == 1 else output.with_name(f"{output.stem}-{i}{output.suffix}")
        write_midi(path, piece, text=f"ambient: primer {primer_path.name}, seed {seed}")
        typer.echo(f"{path}: {len(piece)} notes, {piece_end(piece):.1f} s")
        if render_instrument is not None:
            render_and_report(piece, path.with_suffix("." + audio_format.lstrip(".")), render_instrument, seed=seed)
    if player is not None:
        play_piece(pieces[0], player)


def render_and_report(notes, output: Path, instrument: str, **options) -> None:
    from ambient.render import render as play

    with progress() as bar:
        task = bar.add_task(f"rendering {output.name}", total=1000)
        report = play(notes, output, instrument, on_progress=lambda f: bar.update(task, completed=f * 1000),
                      **options)
    typer.echo(f"{report.path}: {report.seconds:.1f} s of {instrument}, {report.lufs:.1f} LUFS, "
               f"peak {report.peak_dbfs:.1f} dBFS")
    if not math.isfinite(report.lufs):  # under the meter's -70 LUFS gate: nothing anyone would hear
        typer.echo(f"warning: {report.path}: the render is silent: its {len(notes)} notes are too short or too "
                   f"quiet to sound", err=True)


def render(
    midi: Path = typer.Argument(..., help="MIDI file to play."),
    output: Path = typer.Option(..., "--output", "-o", help="Audio file: .wav, .flac, .mp3 or .ogg."),
    instrument: str = typer.Option(RENDER.instrument, "--instrument", "-i", help="See `ambient instruments`."),
    stretch_factor: float = typer.Option(RENDER.stretch_factor, "--stretch",
                                         help="Paulstretch the audio this many times longer (e.g. 4)."),
    tempo: float = typer.Option(RENDER.tempo, help="Play the MIDI at this speed (0.5: half speed)."),
    soundfont: Optional[Path] = typer.Option(None, help="Play through this SoundFont (.sf2) instead."),
    program: int = typer.Option(RENDER.program, help="SoundFont program (General MIDI numbering from 0)."),
    seed: int = typer.Option(RENDER.seed, help="Random seed for the voices; the same seed gives the same file."),
):
    """Render MIDI to audio through an ambient instrument and its effects."""
    from ambient.midi import read_midi

    render_and_report(read_midi(midi), output, instrument, stretch_factor=stretch_factor, tempo=tempo,
                      soundfont=soundfont, program=program, seed=seed)


def instruments():
    """List the ambient instruments."""
    from ambient.render import PRESETS

    for p in PRESETS.values():
        typer.echo(f"{p.name:<18} {p.description}")


def plot(
    source: Path = typer.Argument(..., help="A MIDI file (piano roll) or an audio file (spectrogram)."),
    output: Path = typer.Option(..., "--output", "-o", help="PNG file to write."),
    primer_end: Optional[float] = typer.Option(None, help="Where the primer ends, in seconds: its notes blue, "
                                               "the continuation's amber (as the studio draws a take)."),
):
    """Draw a piano roll of a MIDI file or a spectrogram of an audio file."""
    from ambient import plot as pictures

    if source.suffix.lower() in (".mid", ".midi"):
        from ambient.midi import read_midi

        pictures.piano_roll(read_midi(source), output, title=source.name, primer_end=primer_end)
    else:
        from ambient.audio import read_audio

        audio, rate = read_audio(source)
        pictures.spectrogram(audio, rate, output, title=source.name)
    typer.echo(str(output))


def seeds():
    """List the bundled seed MIDIs."""
    from ambient.seeds import describe_seeds

    for row in describe_seeds():
        typer.echo(f"{row['name']:>4}  {row['seconds']:6.1f} s  {row['notes']:5d} notes  {row['path']}")


def register(app: typer.Typer) -> None:
    for command in (generate, render, instruments, plot, seeds):
        app.command()(command)
