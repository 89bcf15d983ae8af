"""The live clock: each note event sent at its time, and no note ever left hanging.

A `Player` owns the ledger of sounding pitches. A note-on on a pitch already sounding first
ends it (a re-strike, as a piano does), a note-off for a pitch not sounding is dropped, and
`all_off` ends every sounding pitch and then sends each output's panic (MIDI's "all notes
off"). So whatever stops the music (the end, Ctrl-C, a failing output, an exception) the
listener is left with silence, not a drone it cannot stop.

Times are seconds on the music's clock; `start` pins music time 0 to the wall clock (plus the
latency, to line MIDI up with other gear). When the composer falls behind and an event is
already late by more than `SLIP` seconds, the clock slides forward instead of rushing a burst
of late notes out at once: the music breathes for a moment and carries on in time.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ambient.notes import Note

NOTE_OFF, NOTE_ON = 0, 1   # at the same time, note-offs go first: a re-strike ends, then starts
SLIP = 0.05                # seconds late beyond which the clock slides rather than rush
END = None                 # queued after the last batch of a piece that ends


@dataclass(frozen=True, order=True)
class Event:
    time: float          # seconds on the music's clock
    kind: int            # NOTE_OFF or NOTE_ON
    pitch: int
    velocity: int = 0


def events_of(notes: list[Note], *, since: float = 0.0, known: float = float("inf")) -> list[Event]:
    """The note-ons of notes starting at or after `since`, and the note-offs of those ending by
    `known` (a note whose end is not yet written gets its note-off later, or from `all_off`)."""
    out = [Event(n.start, NOTE_ON, n.pitch, n.velocity) for n in notes if n.start >= since]
    out += [Event(n.end, NOTE_OFF, n.pitch) for n in notes if n.end <= known]
    return sorted(out)


@dataclass
class PlayReport:
    sent: int = 0                 # events that reached the outputs
    slid: float = 0.0             # seconds the clock slid forward because the music came late
    slides: int = 0
    lateness: deque = field(default_factory=lambda: deque(maxlen=10_000))  # seconds after due, the last 10,000 sent


class Player:
    """Events to outputs at their times, from a queue filled by the music's producer."""

    def __init__(self, outputs: list, *, latency: float = 0.0, clock=time.monotonic, sleep=time.sleep,
                 on_event=None, ahead: int = 1):
        self.outputs, self.latency, self.clock, self.sleep, self.on_event = outputs, latency, clock, sleep, on_event
        self.sounding: dict[int, int] = {}        # pitch -> velocity
        self.origin: float | None = None          # wall-clock time of music time 0
        self.report = PlayReport()
        self.queue: queue.Queue = queue.Queue(maxsize=ahead)
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self.generation, self.rebase = 0, False   # flushes so far; the next batch starts now
        self.lock = threading.Lock()              # the ledger: sending and all_off never interleave
        self._thread: threading.Thread | None = None

    def start(self, lead: float = 0.0) -> None:
        """Pin music time 0 to now (plus `lead` seconds of look-ahead and the latency) and start
        sending from the queue in a thread of its own."""
        self.origin = self.clock() + lead + self.latency
        self._thread = threading.Thread(target=self._run, name="ambient-player", daemon=True)
        self._thread.start()

    def put(self, events: list[Event], abandon=lambda: False) -> bool:
        """Queue a batch (a segment's events); waits while the player is `ahead` batches behind.
        False when the player has stopped (asked to, or an output failed), or when `abandon()`
        says the batch is no longer wanted while it waits."""
        while not self.stop.is_set() and not abandon():
            try:
                self.queue.put(events, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def music_time(self) -> float:
        return self.clock() - self.origin if self.origin is not None else 0.0

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    batch = self.queue.get(timeout=0.1)
                except queue.Empty:
                    continue
                if batch is END:
                    return
                generation = self.generation
                if self.rebase and batch:       # after a flush the new music starts now
                    self.origin = self.clock() - batch[0].time + 0.05
                    self.rebase = False
                for event in batch:
                    if not self._wait_for(event.time, generation):
                        break
                    self.send(event)
                if self.stop.is_set():
                    return
        except BaseException as e:  # an output failed: say so to whoever is waiting, end the notes
            self.failure = e
            self.stop.set()

    def _wait_for(self, at: float, generation: int) -> bool:
        """True when the event's time has come; False when stopped or flushed meanwhile."""
        due = self.origin + at
        late = self.clock() - due
        if late > SLIP:                   # the music came late: slide the clock, keep its rhythm
            self.origin += late
            self.report.slid += late
            self.report.slides += 1
            return True
        while not self.stop.is_set() and self.generation == generation:
            left = due - self.clock()
            if left <= 0:
                return True
            self.sleep(min(left, 0.05))
        return False

    def flush(self) -> None:
        """Drop what is queued and not yet played, end every sounding note, and start the next
        batch now, whatever its time (the music changed course: a phrase came in on MIDI in)."""
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                break
        self.generation += 1
        self.rebase = True
        self.all_off()

    def send(self, event: Event) -> None:
        with self.lock:
            # the ledger changes before the outputs hear it: if one fails half-way, `all_off`
            # still ends the note on those that heard its note-on (a stray note-off is harmless)
            due = self.origin + event.time
            if event.kind == NOTE_ON:
                if self.sounding.pop(event.pitch, None) is not None:     # a re-strike ends the last one
                    self._each("note_off", event.pitch)
                    self._told(Event(event.time, NOTE_OFF, event.pitch), due)
                self.sounding[event.pitch] = event.velocity
                self._each("note_on", event.pitch, event.velocity)
            elif self.sounding.pop(event.pitch, None) is not None:
                self._each("note_off", event.pitch)
            else:
                return
            sent = self._told(event, due)
            self.report.sent += 1
            self.report.lateness.append(sent - due)

    def _told(self, event: Event, due: float) -> float:
        """Every message that went out, to `on_event` (the --log-events file): the log is the
        whole conversation, so it can be checked note-on against note-off."""
        sent = self.clock()
        if self.on_event is not None:
            self.on_event(event, due, sent)
        return sent

    def _each(self, method: str, *args) -> None:
        for output in self.outputs:
            getattr(output, method)(*args)

    def all_off(self) -> None:
        """End every sounding note on every output that still answers, then each output's panic."""
        with self.lock:
            for output in self.outputs:
                try:
                    for pitch in self.sounding:
                        output.note_off(pitch)
                    output.panic()
                except Exception:  # noqa: BLE001 - one dead output must not keep the others sounding
                    pass
            now = self.clock() - (self.origin or 0.0)
            for pitch in self.sounding:
                self._told(Event(now, NOTE_OFF, pitch), self.clock())
            self.sounding.clear()

    def finish(self, drain: bool) -> None:
        """Stop: with `drain`, first play everything queued (a stop asked meanwhile still cuts it
        short); then end every sounding note."""
        if drain and self._thread is not None and self.put(END):
            while self._thread.is_alive():
                self._thread.join(0.1)
        self.stop.set()
        if self._thread is not None:
            self._thread.join()
        self.all_off()
