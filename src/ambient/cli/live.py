"""The live outputs as CLI options, shared by `stream` and `generate`, and opening them.

`--midi-out virtual` makes a port named ambient:out that a DAW or synth picks up; any other
name connects to that port. `--osc HOST:PORT` sends each note as OSC. `--latency MS` holds
the notes back to line up with other gear (or with `--play`'s sound card, which is lined
up by itself). `--log-events FILE` writes each event with the time it was due and the time
it went, as JSON lines, to check the timing against a recording.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

LIVE_OPTIONS = {
    "midi_out": typer.Option(None, "--midi-out", help="Play to a MIDI port: its name, or 'virtual' to make "
                                                      "ambient:out for a DAW to pick up."),
    "midi_api": typer.Option("auto", "--midi-api", help="auto (JACK when its server runs, else ALSA), jack or alsa."),
    "channel": typer.Option(1, "--channel", help="MIDI channel, 1-16."),
    "latency": typer.Option(0.0, "--latency", help="Hold MIDI and OSC back this many milliseconds, to line up "
                                                   "with other gear."),
    "osc": typer.Option(None, "--osc", help="Send /ambient/note_on and /ambient/note_off to HOST:PORT."),
    "log_events": typer.Option(None, "--log-events", help="Write each event, its due and sent time, as JSON "
                                                          "lines."),
}


class EventLog:
    """Events as JSON lines: kind, pitch, velocity, due and sent (seconds on the monotonic clock)."""

    def __init__(self, path: Path):
        from ambient.errors import AmbientError

        try:
            self.file = open(path, "w", buffering=1)
        except OSError as e:
            raise AmbientError(f"{path}: cannot write ({e.strerror or e})") from None

    def __call__(self, event, due: float, sent: float) -> None:
        kind = "note_on" if event.kind else "note_off"
        self.file.write(json.dumps({"kind": kind, "pitch": event.pitch, "velocity": event.velocity,
                                    "due": round(due, 6), "sent": round(sent, 6)}) + "\n")

    def close(self) -> None:
        self.file.close()


def open_player(*, midi_out: Optional[str], midi_api: str, channel: int, latency: float, osc: Optional[str],
                log_events: Optional[Path], program: Optional[int] = None):
    """The player and its outputs, from the options; None when no live output was asked for."""
    from ambient.errors import ParameterError
    from ambient.live.outputs import MidiOutput, OscOutput
    from ambient.live.player import Player

    if midi_out is None and osc is None:
        return None
    if not 0 <= latency <= 10_000:
        raise ParameterError("latency", f"must be 0-10000 milliseconds, got {latency:g}")
    outputs = []
    if osc is not None:
        outputs.append(OscOutput(osc))
    if midi_out is not None:
        outputs.append(MidiOutput(midi_out, channel=channel, program=program, api=midi_api))
    log = EventLog(log_events) if log_events is not None else None
    return Player(outputs, latency=latency / 1000.0, on_event=log)


def close_player(player) -> None:
    for output in player.outputs:
        output.close()
    if isinstance(player.on_event, EventLog):
        player.on_event.close()


def describe(player) -> str:
    return ", ".join(output.name for output in player.outputs)


def stream_live(composer, performer, *, output: Optional[str], play: bool, sound_device,
                minutes: Optional[float], control: Optional[int], save_midi: Optional[Path], primer: str, seed: int,
                listen: dict, player_options: dict) -> None:
    """`ambient stream` played in real time: to the sound card, MIDI, OSC and (alongside) a file."""
    import signal
    import threading

    from ambient.cli.output import say
    from ambient.live.control import Knobs, OscControl
    from ambient.live.outputs import SoundOutput
    from ambient.live.player import Player
    from ambient.live.session import play_live
    from ambient.midi import write_midi
    from ambient.render.sinks import open_sink

    player = open_player(**player_options) or Player([])
    audio = []
    knobs = osc_control = listener = None
    try:
        if listen["port"] is not None:
            from ambient.live.listen import PhraseListener

            def heard(phrase):
                say(f"heard {len(phrase)} notes over {phrase[-1].end:.1f} s: continuing from them")
                composer.restart(phrase)

            listener = PhraseListener(on_phrase=heard, **listen)
            say(f"listening on {listener.name}: play a phrase and pause {listen['pause']:g} s")
        if play:
            audio.append(SoundOutput(performer.rate, device=sound_device))
        if output is not None:
            audio.append(open_sink(output, performer.rate))
        knobs = Knobs(composer, performer=performer, outputs=player.outputs, on_change=lambda s: say(f"now {s}"))
        if control is not None:
            osc_control = OscControl(knobs, control, warn=say)
            say(f"turn the knobs with OSC on 127.0.0.1:{osc_control.port} (/ambient/temperature, /ambient/density, "
                "/ambient/scale, /ambient/instrument, /ambient/program)")
        where = [o.name for o in player.outputs] + (["the sound card"] if play else []) + ([output] if output else [])
        say(f"playing to {', '.join(str(w) for w in where)}; Ctrl-C ends it with every note off")
        stop = threading.Event()

        def halt(*_):
            stop.set()
            player.stop.set()

        signal.signal(signal.SIGINT, halt)
        signal.signal(signal.SIGTERM, halt)
        notes: list = []
        try:
            report = play_live(composer, player, performer=performer, audio=tuple(audio), minutes=minutes, stop=stop,
                               knobs=knobs, notes_out=notes if save_midi else None)
        finally:
            if save_midi and notes:
                write_midi(save_midi, notes, text=f"ambient stream: primer {primer}, seed {seed}")
    finally:
        for part in (osc_control, listener):
            if part is not None:
                part.close()
        close_player(player)
    for line in report.reprimed:
        say(f"re-primed at {line}")
    late = sorted(player.report.lateness)
    timing = f", sent {1000 * late[len(late) // 2]:.1f} ms after due (median)" if late else ""
    slid = f", waited {player.report.slid:.1f} s for the composer" if player.report.slides else ""
    underruns = sum(getattr(a, "underruns", 0) for a in audio)
    sound = f", {underruns} sound card underruns" if play else ""
    say(f"played {report.seconds:.1f} s live: {player.report.sent} events{timing}{slid}{sound}")


def play_piece(notes: list, player) -> None:
    """`ambient generate --midi-out`: the piece once, in real time; Ctrl-C ends it with every note off."""
    import signal

    from ambient.cli.output import say
    from ambient.live.session import play_notes
    from ambient.notes import piece_end

    signal.signal(signal.SIGINT, lambda *_: player.stop.set())
    signal.signal(signal.SIGTERM, lambda *_: player.stop.set())
    say(f"playing {piece_end(notes):.0f} s to {describe(player)}; Ctrl-C ends it with every note off")
    try:
        play_notes(notes, player)
    finally:
        close_player(player)
    say(f"played {player.report.sent} events")
