"""Notes <-> performance-event tokens (Oore et al. 2018, as used by Huang et al. 2018).

The vocabulary lives here and nowhere else:

    0 pad, 1 start, 2 end,
    128 note-on, 128 note-off, 100 time shifts (10 ms .. 1 s), 32 velocity bins.

Where the public implementations go wrong, this one does not:
- a velocity token is written only when the bin changes, not before every note-on;
- notes are never dropped for lack of pedal data, and the sustain pedal is already
  folded into durations by `ambient.midi`;
- the decoder closes notes left hanging (at the end, or after `max_note_seconds`),
  ignores a note-off with no note sounding, and treats a repeated note-on of a sounding
  pitch as a re-strike: the old note ends where the new one begins.

The encoding cannot tell apart two overlapping notes of one pitch, so `normalize`
defines what it represents: times on the 10 ms grid, every note at least one step and at
most `max_note_seconds` long, and an earlier note of a pitch cut where the next one of that pitch starts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ambient.errors import AmbientError
from ambient.files import partial_path
from ambient.notes import Note, sort_notes


@dataclass(frozen=True)
class CodecConfig:
    name: str = "performance"
    version: int = 1
    step_seconds: float = 0.01
    max_shift_steps: int = 100
    velocity_bins: int = 32
    max_note_seconds: float = 120.0  # the stuck-note guard: drones are held, a note no one ends is not

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CodecConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


DEFAULT_CODEC = CodecConfig()

PAD, START, END = 0, 1, 2
NOTE_ON = 3
NOTE_OFF = NOTE_ON + 128
TIME_SHIFT = NOTE_OFF + 128  # TIME_SHIFT + k - 1 means k steps, k = 1 .. max_shift_steps


def velocity_offset(config: CodecConfig = DEFAULT_CODEC) -> int:
    return TIME_SHIFT + config.max_shift_steps


def vocab_size(config: CodecConfig = DEFAULT_CODEC) -> int:
    return velocity_offset(config) + config.velocity_bins


def velocity_bin(velocity: int, config: CodecConfig = DEFAULT_CODEC) -> int:
    """MIDI velocity 1..127 to a bin 0..bins-1 of (nearly) equal width."""
    v = min(127, max(1, int(velocity)))
    return (v - 1) * config.velocity_bins // 127


@lru_cache(maxsize=None)
def bin_velocity(b: int, config: CodecConfig = DEFAULT_CODEC) -> int:
    """The middle velocity of a bin, so decoding is within half a bin of the original."""
    members = [v for v in range(1, 128) if velocity_bin(v, config) == b]
    return members[len(members) // 2]


def quantize(note: Note, config: CodecConfig = DEFAULT_CODEC) -> tuple[int, int]:
    """A note's (start, end) in grid steps: nearest step, at least one step long.

    A note shorter than half a step would round to nothing; it starts on the step
    below instead, so both its ends stay within one step of the truth.
    """
    step = config.step_seconds
    s, e = int(round(note.start / step)), int(round(note.end / step))
    if e <= s:
        s = int(note.start // step)
        e = s + 1
    return s, min(e, s + int(round(config.max_note_seconds / step)))


def normalize(notes: list[Note], config: CodecConfig = DEFAULT_CODEC) -> list[Note]:
    """The notes exactly as the encoding represents them, on the time grid (see module doc)."""
    step = config.step_seconds
    by_pitch: dict[int, list[tuple[int, int, int]]] = {}
    for n in notes:
        s, e = quantize(n, config)
        by_pitch.setdefault(n.pitch, []).append((s, e, n.velocity))
    out = []
    for pitch, group in by_pitch.items():
        group.sort(key=lambda x: (x[0], -x[1]))
        kept: list[tuple[int, int, int]] = []
        for s, e, v in group:
            if kept and kept[-1][0] == s:
                continue  # two strikes of one pitch in one 10 ms step sound as one
            if kept and kept[-1][1] > s:
                kept[-1] = (kept[-1][0], s, kept[-1][2])
            kept.append((s, e, v))
        velocity = [bin_velocity(velocity_bin(v, config), config) for _, _, v in kept]
        out += [Note(s * step, e * step, pitch, vel) for (s, e, _), vel in zip(kept, velocity)]
    return sort_notes(out)


def encode(notes: list[Note], config: CodecConfig = DEFAULT_CODEC, *,
           add_start: bool = False, add_end: bool = False) -> np.ndarray:
    """Tokens (uint16) for a list of notes."""
    step = config.step_seconds
    events: list[tuple[int, int, int, int]] = []  # (step, order, pitch, velocity bin)
    for n in normalize(notes, config):
        s, e = int(round(n.start / step)), int(round(n.end / step))
        events.append((e, 0, n.pitch, 0))  # at one instant, note-offs come first
        events.append((s, 1, n.pitch, velocity_bin(n.velocity, config)))
    events.sort()
    tokens = [START] if add_start else []
    now, current_bin = 0, -1
    vel0 = velocity_offset(config)
    for at, kind, pitch, vbin in events:
        gap = at - now
        while gap > 0:
            k = min(gap, config.max_shift_steps)
            tokens.append(TIME_SHIFT + k - 1)
            gap -= k
        now = at
        if kind == 0:
            tokens.append(NOTE_OFF + pitch)
        else:
            if vbin != current_bin:
                tokens.append(vel0 + vbin)
                current_bin = vbin
            tokens.append(NOTE_ON + pitch)
    if add_end:
        tokens.append(END)
    return np.asarray(tokens, dtype=np.uint16)


def encode_piece(notes: list[Note], config: CodecConfig = DEFAULT_CODEC) -> np.ndarray:
    """A whole piece as the model learns it: start token, events, end token."""
    return encode(notes, config, add_start=True, add_end=True)


class Held(NamedTuple):
    """A note a token stream has begun and not yet ended."""
    index: int                # where its note-on is among the tokens read
    step: int                 # when it began, in time steps
    velocity: int | None      # the velocity token in force at its note-on (None: none read yet)


class Sounding:
    """Which notes a token stream leaves sounding, read token by token.

    The one account of it: the decoder, the sampler and its controls (`controls.PlayState`),
    the restated windows of training and the stream all read tokens through this. A note-on
    of a pitch already sounding ends that note and begins another (a re-strike), so `notes`
    is always in note-on order. The model's sounding-notes input is the same rule written
    for whole tensors at once (`model.sounding_notes`; a test holds the two together).
    """

    def __init__(self, config: CodecConfig = DEFAULT_CODEC):
        self.vel0, self.size = velocity_offset(config), vocab_size(config)
        self.now = 0                              # time steps read
        self.index = 0                            # tokens read
        self.velocity: int | None = None          # the velocity token in force
        self.notes: dict[int, Held] = {}          # pitch -> the note sounding on it

    def feed(self, token: int) -> Held | None:
        """Read one token; the note it ended (by its note-off, or by a re-strike), if any."""
        ended = None
        if NOTE_ON <= token < NOTE_OFF:
            ended = self.notes.pop(token - NOTE_ON, None)
            self.notes[token - NOTE_ON] = Held(self.index, self.now, self.velocity)
        elif NOTE_OFF <= token < TIME_SHIFT:
            ended = self.notes.pop(token - NOTE_OFF, None)
        elif TIME_SHIFT <= token < self.vel0:
            self.now += token - TIME_SHIFT + 1
        elif self.vel0 <= token < self.size:
            self.velocity = token
        self.index += 1
        return ended

    def before(self, index: int) -> list[tuple[int, Held]]:
        """(pitch, note) of the notes sounding whose note-on came before token `index`, oldest first."""
        return [(pitch, note) for pitch, note in self.notes.items() if note.index < index]


def restate(held: list[tuple[int, Held]], most: int, then: int | None = None) -> list[int]:
    """Tokens that begin these notes again, for a window that no longer shows their note-ons:
    the newest `most` of them, each note-on after its velocity where that changes; `then`, the
    velocity in force after them, is stated again if it differs, so the window's own first
    notes keep the velocity they had."""
    head: list[int] = []
    current = None
    for pitch, note in held[max(0, len(held) - most):] if most > 0 else []:  # not held[-k:] of a shorter list
        if note.velocity is not None and note.velocity != current:
            head.append(note.velocity)
            current = note.velocity
        head.append(NOTE_ON + pitch)
    if head and then is not None and then != current:
        head.append(then)
    return head


def restated_window(tokens: np.ndarray, begin: int, length: int, config: CodecConfig = DEFAULT_CODEC) -> np.ndarray:
    """`length` tokens from `begin`, opened by the note-ons (and velocities) of the notes already
    sounding there, so every note-off in the window ends a note the window shows.

    A window cut from the middle of a piece otherwise holds note-offs of notes it never
    began (0.3 % of note-offs in the bundled training data), which teaches a model that a
    note-off may name a pitch that is not sounding, and makes a sounding-notes input
    (`ModelConfig.sounding_input`) disagree with the notes' own note-offs. The sampler after a
    slide and the stream restate the notes they carry the same way (`restate`).
    """
    sounding = Sounding(config)
    for t in tokens[:begin].tolist():
        sounding.feed(t)
    head = restate(sounding.before(begin), length // 8, then=sounding.velocity)
    return np.concatenate([np.asarray(head, dtype=tokens.dtype), tokens[begin:begin + length - len(head)]])


TOKEN_SUFFIX = ".npy"  # token files: a 1-D uint16 array, as `np.save` writes it


def write_tokens(path: str | Path, tokens: np.ndarray) -> Path:
    """Save a token array atomically."""
    with partial_path(path, suffix=TOKEN_SUFFIX) as tmp:
        np.save(tmp, np.asarray(tokens, dtype=np.uint16))
    return Path(path)


def read_tokens(path: str | Path, config: CodecConfig = DEFAULT_CODEC) -> np.ndarray:
    """A token file, checked: one dimension, whole numbers inside the vocabulary. Never unpickles."""
    try:
        tokens = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise AmbientError(f"{path}: not a token file ({e})") from None
    if tokens.ndim != 1 or tokens.dtype.kind not in "ui":
        raise AmbientError(f"{path}: not a token file (expected a 1-D integer array, found {tokens.dtype} "
                           f"of shape {tokens.shape})")
    if tokens.size and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size(config)):
        raise AmbientError(f"{path}: tokens outside the vocabulary of {vocab_size(config)}")
    return tokens.astype(np.uint16)


class Decoder:
    """Tokens to notes as they come: `feed` returns the notes each token closes.

    Always well formed, whatever the model wrote: a note-off with nothing sounding is
    ignored, a re-strike ends the note still sounding, a note held past
    `max_note_seconds` is closed there. `sounding` follows the open notes (`Sounding`);
    `finish` closes them. `decode` is this over a whole sequence, the stream
    (`ambient.stream`) the same over a sequence that never ends.
    """

    def __init__(self, config: CodecConfig = DEFAULT_CODEC, program: int = 0):
        self.config, self.program = config, program
        self.step = config.step_seconds
        self.max_steps = int(round(config.max_note_seconds / self.step))
        self.sounding = Sounding(config)
        self.ended = False

    @property
    def now(self) -> int:
        """Time steps decoded."""
        return self.sounding.now

    def velocity(self, note: Held) -> int:
        """A note's MIDI velocity (the middle bin's before any velocity token)."""
        token = note.velocity
        return bin_velocity(self.config.velocity_bins // 2 if token is None else token - self.sounding.vel0,
                            self.config)

    def _note(self, pitch: int, held: Held, end: int) -> Note:
        return Note(held.step * self.step, max(end, held.step + 1) * self.step, pitch, self.velocity(held),
                    self.program)

    def feed(self, tokens) -> list[Note]:
        out: list[Note] = []
        sounding = self.sounding
        for t in (int(x) for x in tokens):
            if t == END or self.ended:
                self.ended = True
                break
            if t in (PAD, START) or t >= sounding.size:
                continue
            ended = sounding.feed(t)
            if ended is not None:
                out.append(self._note(t - NOTE_ON if t < NOTE_OFF else t - NOTE_OFF, ended, sounding.now))
            elif TIME_SHIFT <= t < sounding.vel0:
                for pitch in [p for p, n in sounding.notes.items() if sounding.now - n.step >= self.max_steps]:
                    held = sounding.notes.pop(pitch)
                    out.append(self._note(pitch, held, held.step + self.max_steps))
        return out

    def finish(self) -> list[Note]:
        """Close every note still sounding, now."""
        notes = [self._note(pitch, held, self.now) for pitch, held in self.sounding.notes.items()]
        self.sounding.notes.clear()
        return notes


def decode(tokens, config: CodecConfig = DEFAULT_CODEC, *, program: int = 0) -> list[Note]:
    """Notes for any token sequence; always well formed, whatever the model wrote."""
    decoder = Decoder(config, program)
    return sort_notes(decoder.feed(tokens) + decoder.finish())


def describe(token: int, config: CodecConfig = DEFAULT_CODEC) -> str:
    """A readable name for one token, for debugging and tests."""
    if token in (PAD, START, END):
        return ("pad", "start", "end")[token]
    if token < NOTE_OFF:
        return f"on:{token - NOTE_ON}"
    if token < TIME_SHIFT:
        return f"off:{token - NOTE_OFF}"
    if token < velocity_offset(config):
        return f"shift:{(token - TIME_SHIFT + 1) * 10}ms"
    return f"vel:{token - velocity_offset(config)}"
