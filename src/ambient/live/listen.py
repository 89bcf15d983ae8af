"""MIDI in: what a person plays becomes the primer the stream continues from.

A `PhraseListener` on a MIDI port gathers notes as they are played (the sustain pedal holds
their ends, as on a piano). A phrase ends when nothing has sounded for `pause` seconds, or at
once when the phrase controller (`cc`, e.g. a foot switch) goes down; the phrase, its times
from its first note, goes to `on_phrase`, and the stream starts again from it with its scale
and density (the controls' `auto`).
"""

from __future__ import annotations

import threading
import time

from ambient.errors import ParameterError
from ambient.extras import require
from ambient.live.outputs import find_port, midi_system
from ambient.notes import Note

SHORTEST = 0.05     # seconds: a phrase needs a note at least this long to count


class PhraseListener:
    def __init__(self, port: str, on_phrase, *, api: str = "auto", pause: float = 2.0, cc: int | None = None,
                 clock=time.monotonic):
        if not pause > 0:
            raise ParameterError("phrase_pause", f"must be above 0 seconds, got {pause:g}")
        self.mido = require("mido", "--midi-in")
        self.on_phrase, self.pause, self.cc, self.clock = on_phrase, pause, cc, clock
        self.midi_in = midi_system("in", api, "--midi-in", client="ambient-in")
        ports = self.midi_in.get_ports()
        index = find_port(ports, port, "--midi-in")
        self.name = ports[index]
        self.lock = threading.Lock()
        self.held: dict[int, tuple[float, int]] = {}      # pitch -> (start, velocity), key down
        self.pedalled: dict[int, tuple[float, int]] = {}  # released keys the pedal still holds
        self.pedal = False
        self.notes: list[tuple[float, float, int, int]] = []
        self.last = 0.0
        self.heard = 0                                     # messages received, for the curious
        self.stop = threading.Event()
        self.midi_in.open_port(index, "in")
        self.midi_in.set_callback(self._message)
        self.watch = threading.Thread(target=self._watch, name="ambient-midi-in", daemon=True)
        self.watch.start()

    def _message(self, event, _data=None) -> None:
        raw, _delta = event
        try:
            message = self.mido.Message.from_bytes(raw)
        except (ValueError, TypeError):
            return                                          # system messages and the like
        now = self.clock()
        with self.lock:
            self.heard += 1
            if message.type == "note_on" and message.velocity > 0:
                self._end(message.note, now)               # a repeated key ends its last sounding
                self.held[message.note] = (now, message.velocity)
                self.last = now
            elif message.type in ("note_off", "note_on"):
                if message.note in self.held:
                    start = self.held.pop(message.note)
                    if self.pedal:
                        self.pedalled[message.note] = start
                    else:
                        self._close(message.note, start, now)
                self.last = now
            elif message.type == "control_change" and message.control == 64:
                self.pedal = message.value >= 64
                if not self.pedal:
                    for pitch, start in list(self.pedalled.items()):
                        self._close(pitch, start, now)
                    self.pedalled.clear()
                self.last = now
            elif message.type == "control_change" and message.control == self.cc and message.value >= 64:
                self._finish(now)

    def _end(self, pitch: int, now: float) -> None:
        for sounding in (self.held, self.pedalled):
            if pitch in sounding:
                self._close(pitch, sounding.pop(pitch), now)

    def _close(self, pitch: int, start: tuple[float, int], now: float) -> None:
        self.notes.append((start[0], now, pitch, start[1]))

    def _finish(self, now: float) -> None:
        """The phrase as it stands (keys still down end now) to `on_phrase`; called with the lock."""
        for sounding in (self.held, self.pedalled):
            for pitch, start in sounding.items():
                self._close(pitch, start, now)
            sounding.clear()
        played = [n for n in self.notes if n[1] - n[0] >= SHORTEST]
        self.notes = []
        if not played:
            return
        first = min(n[0] for n in played)
        phrase = sorted((Note(s - first, e - first, p, v) for s, e, p, v in played), key=lambda n: (n.start, n.pitch))
        threading.Thread(target=self.on_phrase, args=(phrase,), daemon=True).start()

    def _watch(self) -> None:
        while not self.stop.wait(0.05):
            with self.lock:
                quiet = not self.held and not self.pedalled and self.notes
                if quiet and self.clock() - self.last >= self.pause:
                    self._finish(self.clock())

    def close(self) -> None:
        self.stop.set()
        self.watch.join()
        self.midi_in.close_port()
        del self.midi_in
