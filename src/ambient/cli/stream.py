"""`ambient stream`: music that keeps playing, generated and rendered as it goes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ambient.cli.controls import CONTROL_OPTIONS
from ambient.cli.live import LIVE_OPTIONS
from ambient.cli.output import say
from ambient.config import CONTINUATION, RENDER, Sampling

SAMPLING = Sampling()


def stream(
    output: Optional[str] = typer.Option(None, "--output", "-o", help="An audio file that grows as it plays "
                                                                     "(.ogg, .mp3, .flac, .wav), or - for WAV on "
                                                                     "standard output."),
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
    play_sound: bool = typer.Option(False, "--play", help="Play on this computer's sound card, live."),
    sound_device: Optional[str] = typer.Option(None, "--sound-device", help="Sound card for --play (a name or "
                                                                            "number; default: the system's)."),
    midi_out: Optional[str] = LIVE_OPTIONS["midi_out"],
    midi_api: str = LIVE_OPTIONS["midi_api"],
    channel: int = LIVE_OPTIONS["channel"],
    program: Optional[int] = typer.Option(None, "--program", help="Send this General MIDI program first "
                                                                  "(--midi-out)."),
    latency: float = LIVE_OPTIONS["latency"],
    osc: Optional[str] = LIVE_OPTIONS["osc"],
    control: Optional[int] = typer.Option(None, "--control", help="Listen for OSC on 127.0.0.1:PORT to turn "
                                                                  "temperature, density, scale, instrument and "
                                                                  "program while it plays."),
    log_events: Optional[Path] = LIVE_OPTIONS["log_events"],
    midi_in: Optional[str] = typer.Option(None, "--midi-in", help="Continue from what is played on this MIDI "
                                                                  "port: play a phrase, pause, and it answers."),
    phrase_pause: float = typer.Option(2.0, "--phrase-pause", help="Seconds of silence that end a phrase "
                                                                   "(--midi-in)."),
    phrase_cc: Optional[int] = typer.Option(None, "--phrase-cc", help="A controller (e.g. a foot switch's CC) "
                                                                      "that ends a phrase at once (--midi-in)."),
):
    """Generate without end (or for --minutes), gaplessly, in constant memory: rendered to a file or
    a pipe, or played live to the sound card, a MIDI port or OSC."""
    import resource
    import signal
    import threading

    import torch

    from ambient.checkpoint import load_model
    from ambient.controls import controls_from
    from ambient.errors import AmbientError
    from ambient.midi import read_midi, write_midi
    from ambient.pipeline import model_dir
    from ambient.seeds import resolve_primer
    from ambient.live.session import LIVE_SEGMENT
    from ambient.render.sinks import open_sink
    from ambient.stream import SEGMENT_SECONDS, check_minutes, open_stream, stream as play

    torch.set_num_threads(threads)
    sampling = Sampling(temperature, SAMPLING.top_k, top_p, SAMPLING.min_p)
    sampling.check()
    controls = controls_from(scale=scale, pitch_range=pitch_range, density=density, max_polyphony=max_polyphony)
    check_minutes(minutes)               # before the output file exists
    live = play_sound or midi_out is not None or osc is not None
    if midi_in is not None and not live:
        raise AmbientError("--midi-in answers live: add --play, --midi-out or --osc for the answer to go to")
    if output is None and not live:
        raise AmbientError("say where the music goes: -o FILE (or - for a pipe), --play, --midi-out PORT "
                           "or --osc HOST:PORT")
    if control is not None and not live:
        raise AmbientError("--control turns a live stream's knobs: add --play, --midi-out or --osc")
    card = rate = None
    if play_sound:
        from ambient.live.outputs import sound_card

        card, rate = sound_card(sound_device)
    from ambient.device import resolve
    from ambient.render.presets import preset

    preset(instrument)                   # an unknown instrument fails before the model loads
    net, model_card = load_model(model_dir(model), device=resolve(device))
    composer, performer = open_stream(net, model_card, read_midi(resolve_primer(primer)), instrument=instrument,
                                      seed=seed, sampling=sampling, controls=controls, journey_minutes=journey,
                                      segment_seconds=LIVE_SEGMENT if live else SEGMENT_SECONDS, rate=rate,
                                      audio=not live or play_sound or output is not None)
    if live:
        from ambient.cli.live import stream_live

        return stream_live(composer, performer, output=output,
                           play=play_sound, sound_device=card, minutes=minutes, control=control,
                           save_midi=save_midi, primer=primer, seed=seed,
                           listen=dict(port=midi_in, pause=phrase_pause, cc=phrase_cc, api=midi_api),
                           player_options=dict(midi_out=midi_out, midi_api=midi_api, channel=channel,
                                               latency=latency, osc=osc, log_events=log_events, program=program))
    name = "standard output" if output == "-" else output
    sink = open_sink(output, performer.rate)
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
