"""Endless ambient: a piece generated and rendered as it plays, for as long as it is wanted.

Three parts, each with bounded memory, so an hour costs what a minute does:

- `Composer` continues the music a segment at a time. It keeps only the last context of
  tokens (the notes still sounding are stated again at its start, as the sampler does
  after a slide) and a `Decoder` that turns tokens into notes with absolute times. Its
  guard rails re-prime from the seed when a segment thins out, piles up or loops; on a
  journey (`journey_minutes`) the key moves a fifth every so many minutes.
- `Performer` renders the notes as they become known, block after block: a note whose
  end is not yet written sounds as held (the envelope before the release does not depend
  on the length), so no block waits for the future, and voices, envelopes, filters and
  reverb tails carry across blocks (`render.engine.Chain`). A two-pass normalisation
  cannot see the future, so loudness is held by a slow gain that follows a short-term
  meter, and a soft ceiling catches the odd peak.
- `stream` runs the composer in its own thread, a bounded queue of segments ahead of the
  performer, and hands each finished block of audio to a sink (`ambient.render.sinks`: a
  file that grows, or a pipe).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ambient.codec import DEFAULT_CODEC, NOTE_OFF, NOTE_ON, TIME_SHIFT, CodecConfig, Decoder, encode, restate
from ambient.config import RENDER, Sampling
from ambient.controls import Controls
from ambient.evaluate.metrics import loop_share
from ambient.errors import AmbientError, ParameterError
from ambient.notes import Note, piece_end

SEGMENT_SECONDS = 20.0     # music generated per step of the composer
AHEAD_SEGMENTS = 3         # segments the composer may run ahead of the performer
HELD = 1e6                 # seconds: the length of a note whose end is not yet written
GUARD_LOW, GUARD_HIGH = 0.25, 4.0  # a segment's onset rate against the seed's, outside which it re-primes


@dataclass
class Segment:
    start: float                       # seconds since the stream began
    end: float                         # every note that starts before this is known
    notes: list[Note]                  # notes closed in this segment (absolute times)
    open: list[Note] = field(default_factory=list)  # notes sounding at `end`, their ends unknown (HELD)
    reprimed: str | None = None        # why the guard rails started again from the seed
    turned: str | None = None          # the journey's key change at this segment's start
    course: int = 0                    # phrases continued from so far (`Composer.restart`)


class Composer:
    """The music, a segment at a time, from a model and a seed."""

    def __init__(self, model, seed_notes: list[Note], *, codec: CodecConfig = DEFAULT_CODEC,
                 sampling: Sampling = Sampling(), controls: Controls | None = None, seed: int = 0,
                 segment_seconds: float = SEGMENT_SECONDS, primer_seconds: float = 20.0,
                 journey_minutes: float | None = None):
        from ambient.sampling import primer_tokens

        if not seed_notes:
            raise AmbientError("the seed has no notes to continue")
        self.model, self.codec, self.sampling, self.controls = model, codec, sampling, controls
        self.seed, self.segment_seconds = seed, segment_seconds
        _, self.primer = primer_tokens(seed_notes, primer_seconds, codec)   # the seed's last seconds
        self.seed_rate = len(self.primer) / max(piece_end(self.primer), 1.0)
        self.journey = None if not journey_minutes else journey_minutes * 60.0
        self.next_turn = self.journey
        self.decoder = Decoder(codec)
        self.window: deque[int] = deque(maxlen=model.config.context)
        self.count = 0
        self.played: list[Note] | None = None   # a phrase someone played, to continue from next
        self.course = 0                          # phrases asked for so far; a segment carries its own
        self._start_from_primer()

    def restart(self, notes: list[Note]) -> None:
        """Continue from these notes from the next segment on: what a person played on MIDI in.
        They become the seed the guard rails return to, and what `auto` controls follow."""
        if notes:
            self.played = notes
            self.course += 1

    def _start_from_primer(self, pause_steps: int = 0) -> None:
        """The seed's primer, played from where the stream is now (after a pause, when re-priming)."""
        tokens = encode(self.primer, self.codec)
        if pause_steps:
            tokens = np.concatenate([[TIME_SHIFT + min(pause_steps, self.codec.max_shift_steps) - 1], tokens])
        self.window.clear()
        self.window.extend(int(t) for t in tokens)
        self._pending = tokens                  # fed to the decoder before the next segment

    def _model_window(self) -> np.ndarray:
        """The window the model reads: notes still sounding whose note-on has left it are stated
        again at its start (`codec.restate`, as the sampler does after a slide), so the model can
        still end them."""
        tokens = list(self.window)
        seen = {t - NOTE_ON for t in tokens if NOTE_ON <= t < NOTE_OFF}
        held = [(p, n) for p, n in self.decoder.sounding.notes.items() if p not in seen]
        head = restate(held, len(tokens) // 8)
        return np.asarray(head + tokens[len(head):], dtype=np.int64)

    def next_segment(self) -> Segment:
        from ambient.sampling import continue_tokens, primer_tokens

        course = self.course
        if self.played is not None:     # the model reads the phrase; it was heard already, so it is not replayed
            _, self.primer = primer_tokens(self.played, 20.0, self.codec)
            self.seed_rate = len(self.primer) / max(piece_end(self.primer), 1.0)
            self.played = None
            self.window.clear()
            self.window.extend(int(t) for t in encode(self.primer, self.codec))
            self._pending = None
        start = self.decoder.now * self.codec.step_seconds
        turned = None
        if self.next_turn is not None and start >= self.next_turn:
            turned = self._turn()
            self.next_turn += self.journey
        closed: list[Note] = []
        if self._pending is not None:
            closed += self.decoder.feed(self._pending)
            self._pending = None
        [tokens] = continue_tokens(self.model, self._model_window(), seconds=self.segment_seconds,
                                   sampling=self.sampling, controls=self.controls, codec=self.codec,
                                   seed=self.seed * 100003 + self.count)
        self.count += 1
        closed += self.decoder.feed(tokens)
        self.window.extend(int(t) for t in tokens)
        end = self.decoder.now * self.codec.step_seconds
        held = [Note(n.step * self.codec.step_seconds, HELD, p, self.decoder.velocity(n))
                for p, n in self.decoder.sounding.notes.items()]
        segment = Segment(start, end, closed, held, turned=turned, course=course)
        segment.reprimed = self._guard(segment)
        return segment

    def _turn(self) -> str:
        """The journey's step: the music the model reads moves a fifth (up, or down when that
        keeps the register nearer the middle), so what it plays next is in the new key; the
        primer the guard rails return to moves with it."""
        tokens = list(self.window)
        pitches = [t - NOTE_ON for t in tokens if NOTE_ON <= t < NOTE_OFF] or [60]
        shift_by = 7 if np.mean(pitches) + 7 <= 72 else -5
        def moved(seq):
            return [t + shift_by if NOTE_ON <= t < TIME_SHIFT and 0 <= (t - NOTE_ON) % 128 + shift_by < 128 else t
                    for t in seq]

        self.window.clear()
        self.window.extend(moved(tokens))
        if self._pending is not None:          # a re-priming still to play moves too
            self._pending = np.asarray(moved(self._pending.tolist()), dtype=self._pending.dtype)
        self.primer = [Note(n.start, n.end, min(127, max(0, n.pitch + shift_by)), n.velocity, n.program)
                       for n in self.primer]
        return f"moved {'up a fifth' if shift_by > 0 else 'down a fourth'}"

    def _guard(self, segment: Segment) -> str | None:
        """Re-prime from the seed when the music has thinned out, piled up or fallen into a loop."""
        onsets = [n for n in segment.notes + segment.open if n.start >= segment.start]
        rate = len(onsets) / max(segment.end - segment.start, 1e-3)
        why = None
        if rate < GUARD_LOW * self.seed_rate:
            why = f"thinned out ({rate:.2f} notes/s, the seed has {self.seed_rate:.2f})"
        elif rate > GUARD_HIGH * self.seed_rate:
            why = f"piled up ({rate:.2f} notes/s, the seed has {self.seed_rate:.2f})"
        elif len(onsets) >= 16 and loop_share(onsets) >= 0.5:
            why = "fell into a loop"
        if why is not None:
            self._start_from_primer(pause_steps=50)  # half a second's breath, then the seed again
        return why


class Performer:
    """Notes to audio as they become known, block after block, at a held loudness."""

    def __init__(self, instrument: str = RENDER.instrument, rate: int = RENDER.rate, seed: int = RENDER.seed,
                 target_lufs: float = RENDER.target_lufs, peak_dbfs: float = RENDER.peak_dbfs):
        from ambient.render.engine import Chain, Level
        from ambient.render.presets import preset

        self.preset = preset(instrument)
        self.rate, self.seed = rate, seed
        self.chain = Chain(self.preset, rate, seed)
        self.notes: dict[tuple[int, float], Note] = {}   # (pitch, start) -> note, held or ended
        self.frames = 0                                   # samples rendered so far
        self.level = Level(rate, target_lufs, peak_dbfs)

    def use(self, instrument: str) -> None:
        """Another instrument from the next block on (the old one's voices and tail stop there)."""
        from ambient.render.engine import Chain
        from ambient.render.presets import preset

        self.preset = preset(instrument)
        self.chain = Chain(self.preset, self.rate, self.seed)

    def skip_to(self, seconds: float) -> None:
        """Jump the playhead forward: what sounds now stops (its reverb rings on), and the music
        that follows is rendered from `seconds` (a phrase on MIDI in changed the music's course)."""
        self.notes.clear()
        self.frames = max(self.frames, int(seconds * self.rate))

    def add(self, segment: Segment) -> None:
        for n in segment.notes + segment.open:
            self.notes[(n.pitch, round(n.start, 4))] = n  # an ended note replaces its held self

    def render(self, until: float) -> np.ndarray:
        """Stereo float32 (2, n) from where the last call stopped up to `until` seconds."""
        from ambient.render.synth import render_block

        end = int(until * self.rate)
        if end <= self.frames:
            return np.zeros((2, 0), np.float32)
        t0, t1 = self.frames / self.rate, end / self.rate
        release = self.preset.voice.release
        live = [n for n in self.notes.values() if n.start < t1 + 1e-3 and n.end + release > t0 - 1e-3]
        dry = render_block(live, self.preset.voice, self.frames, end - self.frames, self.rate, self.seed)
        wet = self.chain.process(dry, self.frames)
        self.frames = end
        for key in [k for k, n in self.notes.items() if n.end + release < t0 - 1.0]:
            del self.notes[key]                           # gone quiet: memory stays flat
        return self.level.apply(wet)


def open_stream(net, card, seed_notes: list[Note], *, instrument: str = RENDER.instrument, seed: int = 0,
                sampling: Sampling = Sampling(), controls: Controls | None = None,
                journey_minutes: float | None = None, segment_seconds: float = SEGMENT_SECONDS,
                rate: int | None = None, audio: bool = True) -> tuple[Composer, Performer | None]:
    """A stream's composer and, when its audio is wanted, its performer (at the sound card's `rate`
    when it plays there): the one way `ambient stream`, the studio's Play forever and its live desk
    begin one. `card` is the model's `checkpoint.ModelCard`; controls that do nothing are left out."""
    composer = Composer(net, seed_notes, codec=card.codec, sampling=sampling, seed=seed,
                        controls=controls if controls is not None and controls.active else None,
                        journey_minutes=journey_minutes, segment_seconds=segment_seconds)
    performer = Performer(instrument, seed=seed, **({"rate": rate} if rate else {})) if audio else None
    return composer, performer


@dataclass
class StreamReport:
    seconds: float = 0.0          # audio written
    wall: float = 0.0             # seconds of compute
    segments: int = 0
    reprimed: list[str] = field(default_factory=list)
    turns: list[str] = field(default_factory=list)

    def add(self, segment: Segment) -> None:
        self.segments += 1
        if segment.reprimed:
            self.reprimed.append(f"{segment.start:.0f} s: {segment.reprimed}")
        if segment.turned:
            self.turns.append(f"{segment.start:.0f} s: {segment.turned}")

    @property
    def realtime(self) -> float:
        return self.seconds / self.wall if self.wall > 0 else math.inf


def check_minutes(minutes: float | None) -> None:
    if minutes is not None and not minutes > 0:
        raise ParameterError("minutes", f"must be above 0, got {minutes}")


def give_back_memory() -> None:
    """Hand freed heap back to the system (glibc's malloc_trim). Each segment's tensors have
    their own sizes; in the composer's thread glibc kept the freed ones, and a live stream's
    memory grew by about 10 MB a minute (benchmarks/live.py). Trimmed after every segment it
    stays flat. Elsewhere than glibc this does nothing."""
    global _libc
    if _libc is None:
        import ctypes
        import ctypes.util

        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _libc.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.malloc_trim(0)


_libc = None


class Ahead:
    """The composer in its own thread, a bounded queue of segments ahead of whoever plays them.
    `get` hands the next segment (None when none is ready yet) and raises what the composer
    raised; `close` stops it and waits for its segment to finish (torch must not die mid-call)."""

    def __init__(self, composer: Composer, stop: threading.Event, segments: int = AHEAD_SEGMENTS):
        self.stop = stop
        self.queue: queue.Queue = queue.Queue(maxsize=segments)
        self.thread = threading.Thread(target=self._compose, args=(composer,), name="ambient-composer", daemon=True)
        self.thread.start()

    def _compose(self, composer: Composer) -> None:
        try:
            while not self.stop.is_set():
                segment = composer.next_segment()
                give_back_memory()
                while not self.stop.is_set():
                    try:
                        self.queue.put(segment, timeout=0.2)
                        break
                    except queue.Full:
                        continue
        except BaseException as e:  # handed to the player, who raises it
            self.queue.put(e)

    def get(self, timeout: float = 0.2) -> Segment | None:
        try:
            segment = self.queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(segment, BaseException):
            raise segment
        return segment

    def close(self) -> None:
        self.stop.set()
        while self.thread.is_alive():
            try:
                self.queue.get(timeout=0.1)
            except queue.Empty:
                pass


def stream(composer: Composer, performer: Performer, sink, *, minutes: float | None = None,
           on_block=None, stop: threading.Event | None = None, notes_out: list | None = None) -> StreamReport:
    """Play until `minutes` (None: until stopped by `stop` or Ctrl-C); the sink is closed whatever
    happens, after a short fade, so what was written stays playable."""
    check_minutes(minutes)
    stop = stop or threading.Event()
    ahead = Ahead(composer, stop)
    report, started = StreamReport(), time.perf_counter()
    limit = None if minutes is None else minutes * 60.0
    failed = True
    try:
        while not stop.is_set() and (limit is None or report.seconds < limit):
            segment = ahead.get()
            if segment is None:
                continue
            report.add(segment)
            performer.add(segment)
            if notes_out is not None:
                notes_out.extend(segment.notes)
            until = segment.end if limit is None else min(segment.end, limit)
            block = performer.render(until)
            sink.write(block)
            report.seconds = performer.frames / performer.rate
            report.wall = time.perf_counter() - started
            if on_block:
                on_block(report)
        failed = False
    finally:
        ahead.close()
        try:
            if not failed:  # a sink that failed is not written again
                fade = performer.render(report.seconds + 0.5)
                fade *= np.linspace(1.0, 0.0, fade.shape[1], dtype=np.float32)
                sink.write(fade)
                report.seconds = performer.frames / performer.rate
        finally:
            sink.close()
        report.wall = time.perf_counter() - started
    return report
