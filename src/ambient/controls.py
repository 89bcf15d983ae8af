"""Sampling-time controls: constraints on the model's next-token logits, no retraining.

- **scale**: note-ons outside a scale are excluded (or, with a finite `scale_strength`,
  lowered by that many nats). `"auto"` estimates the scale from the primer: the diatonic
  mode or harmonic minor whose notes hold the most of the primer's sounding time; if no
  such seven-note scale holds three quarters of it (chromatic or unusual music), the
  pitch classes that hold 95 % of it are the scale.
- **key_pull**: note-ons lean toward the primer's own pitch-class profile: a class that
  holds share `h` of the primer's sounding time gets `key_pull * ln((h + 0.01) / (max h + 0.01))`
  nats, so the tonic and fifth stay as present as the primer had them (0: off). With
  `scale="auto"` it is `AUTO_KEY_PULL` unless set: chosen with `ambient eval` on held-out
  clean scores, where 0.5 puts the continuations' key fidelity on the real continuations'
  own figure (0.87); 1.0 overshoots (0.91) and their pitch classes grow less like real
  music's (feature overlap 0.83 -> 0.72).
- **pitch_range**: note-ons outside `(low, high)` are excluded.
- **density**: a target in notes per second, held by feedback on every note-on logit
  (clipped to ±`DENSITY_CLIP` nats): `DENSITY_GAIN * ln(target / rate)` for the rate over
  the last `DENSITY_WINDOW` seconds (the primer's included), plus an integral term,
  `DENSITY_INTEGRAL` nats per five seconds' worth of notes the continuation is behind or
  ahead of the target, so the rate over a minute lands on the target, not beside it.
  `"auto"` holds the primer's own rate (its notes over its length): long pieces then
  neither thin out nor pile up.
- **max_polyphony**: no note-on while that many notes sound.
- **max_hold**: a note sounding longer than this (seconds; `"auto"`: twice the primer's
  90th-percentile note length, at least 4 s) gets `HOLD_GAIN * ln(age / max_hold)` nats
  on its note-off: a note the model has lost track of ends, a drone the primer holds
  as long does not.

Whatever the controls, the sampler offers a note-off only for a pitch that is sounding
(any other is a no-op the decoder drops), so a model that must end a note to go on can
(`ambient.sampling.release_sounding`).

`PlayState` follows what the token stream means (time and the notes sounding, as the codec's
`Sounding` reads them, and recent onsets) for the sampler and these controls.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass

import numpy as np

from ambient.codec import DEFAULT_CODEC, NOTE_OFF, NOTE_ON, TIME_SHIFT, CodecConfig, Held, Sounding
from ambient.errors import ParameterError
from ambient.notes import Note

NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E", "E#": "F", "B#": "C"}
MODES = {  # steps above the tonic
    "major": (0, 2, 4, 5, 7, 9, 11), "ionian": (0, 2, 4, 5, 7, 9, 11), "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10), "lydian": (0, 2, 4, 6, 7, 9, 11), "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "minor": (0, 2, 3, 5, 7, 8, 10), "aeolian": (0, 2, 3, 5, 7, 8, 10), "locrian": (0, 1, 3, 5, 6, 8, 10),
    "harmonic-minor": (0, 2, 3, 5, 7, 8, 11), "pentatonic": (0, 2, 4, 7, 9), "minor-pentatonic": (0, 3, 5, 7, 10),
    "whole-tone": (0, 2, 4, 6, 8, 10), "chromatic": tuple(range(12)),
}
DENSITY_WINDOW = 10.0   # seconds of recent onsets the density feedback looks at
DENSITY_GAIN = 3.0      # nats of note-on bias per unit of ln(target / rate)
DENSITY_INTEGRAL = 2.0  # nats per five seconds' worth of notes behind or ahead of the target
DENSITY_CLIP = 10.0     # the most the feedback moves a logit, either way
HOLD_GAIN = 4.0         # nats on a note-off per unit of ln(age / max_hold)
AUTO_KEY_PULL = 0.5     # the key pull that comes with scale="auto" (see key_pull above)


@dataclass(frozen=True)
class Controls:
    scale: str | None = None            # "auto", "D dorian", "F# minor-pentatonic", None
    scale_strength: float = math.inf    # nats taken from out-of-scale note-ons (inf: excluded)
    pitch_range: tuple[int, int] | None = None
    density: float | str | None = None  # notes per second, or "auto" (the primer's)
    max_polyphony: int | None = None
    key_pull: float | None = None       # nats per unit of log pitch-class share (None: AUTO_KEY_PULL with
    #                                     scale="auto", else off)
    max_hold: float | str | None = None  # seconds, or "auto" (from the primer's note lengths)

    def check(self) -> None:
        if self.scale not in (None, "auto"):
            parse_scale(self.scale)
        if not self.scale_strength > 0:
            raise ParameterError("scale_strength", f"must be above 0 (inf excludes), got {self.scale_strength}")
        if self.pitch_range is not None:
            low, high = self.pitch_range
            if not 0 <= low <= high <= 127:
                raise ParameterError("pitch_range", f"must be LOW-HIGH within 0-127, got {low}-{high}")
        if self.density is not None and self.density != "auto" and not (
                isinstance(self.density, (int, float)) and 0 < self.density <= 50):
            raise ParameterError("density", f"must be auto or in (0, 50] notes per second, got {self.density}")
        if self.key_pull is not None and self.key_pull < 0:
            raise ParameterError("key_pull", f"must be 0 (off) or more, got {self.key_pull}")
        if self.max_hold is not None and self.max_hold != "auto" and not (
                isinstance(self.max_hold, (int, float)) and self.max_hold > 0):
            raise ParameterError("max_hold", f"must be auto or seconds above 0, got {self.max_hold}")
        if self.max_polyphony is not None and self.max_polyphony < 1:
            raise ParameterError("max_polyphony", f"must be at least 1, got {self.max_polyphony}")

    @property
    def active(self) -> bool:
        return bool(self.key_pull) or any(x is not None for x in (self.scale, self.pitch_range, self.density,
                                                               self.max_polyphony, self.max_hold))


def parse_scale(text: str) -> frozenset[int]:
    """Pitch classes of "D dorian", "Bb major", "F#" (major), "a minor"."""
    match = re.fullmatch(r"\s*([A-Ga-g][#b]?)\s*([a-z-]*)\s*", text)
    if not match:
        raise ParameterError("scale", f"must be auto, none or TONIC MODE like 'D dorian', got {text!r}")
    tonic = match.group(1)[0].upper() + match.group(1)[1:]
    tonic = FLATS.get(tonic, tonic)
    mode = match.group(2) or "major"
    if mode not in MODES:
        raise ParameterError("scale", f"unknown mode {mode!r} (modes: {', '.join(MODES)})")
    root = NAMES.index(tonic)
    return frozenset((root + step) % 12 for step in MODES[mode])


def pitch_class_weights(notes: list[Note]) -> np.ndarray:
    """Sounding time per pitch class (12,)."""
    weights = np.zeros(12)
    for n in notes:
        weights[n.pitch % 12] += max(n.end - n.start, 0.0)
    return weights


def estimate_scale(notes: list[Note]) -> frozenset[int]:
    """The scale the primer keeps to (see the module doc)."""
    weights = pitch_class_weights(notes)
    total = weights.sum()
    if total <= 0:
        return frozenset(range(12))
    best, held = frozenset(), -1.0
    for mode in ("major", "harmonic-minor"):
        for root in range(12):
            pcs = frozenset((root + s) % 12 for s in MODES[mode])
            share = weights[list(pcs)].sum() / total
            if share > held + 1e-9:
                best, held = pcs, share
    if held >= 0.75:
        return best
    order = np.argsort(-weights)
    covered = np.cumsum(weights[order]) / total
    return frozenset(int(pc) for pc in order[:int(np.searchsorted(covered, 0.95)) + 1])


class PlayState(Sounding):
    """What one token stream means so far: the notes sounding (`Sounding`), and its recent onsets."""

    def __init__(self, codec: CodecConfig = DEFAULT_CODEC):
        super().__init__(codec)
        self.codec = codec
        self.onsets: deque[int] = deque()              # steps of recent note-ons
        self.window = int(round(DENSITY_WINDOW / codec.step_seconds))
        self.origin, self.played = 0, 0                # where the continuation began; note-ons since

    def mark(self) -> None:
        """The primer ends here: count the continuation's own notes from now."""
        self.origin, self.played = self.now, 0

    def feed(self, token: int) -> Held | None:
        ended = super().feed(token)
        if NOTE_ON <= token < NOTE_OFF:
            self.onsets.append(self.now)
            self.played += 1
        elif TIME_SHIFT <= token < self.vel0:
            while self.onsets and self.onsets[0] < self.now - self.window:
                self.onsets.popleft()
        return ended

    def onset_rate(self) -> float:
        """Notes per second over the recent window (or all the time so far, if shorter)."""
        span = min(self.now, self.window) * self.codec.step_seconds
        return len(self.onsets) / span if span > 0 else float("nan")


class Constraint:
    """Controls made concrete for one primer: a static bias plus per-stream feedback."""

    def __init__(self, controls: Controls, primer: list[Note], vocab: int, codec: CodecConfig = DEFAULT_CODEC):
        controls.check()
        self.controls = controls
        self.static = np.zeros(vocab, dtype=np.float32)
        pitches = np.arange(128)
        if controls.scale is not None:
            pcs = estimate_scale(primer) if controls.scale == "auto" else parse_scale(controls.scale)
            self.scale = pcs
            outside = ~np.isin(pitches % 12, sorted(pcs))
            self.static[NOTE_ON:NOTE_OFF][outside] -= controls.scale_strength
        if controls.pitch_range is not None:
            low, high = controls.pitch_range
            self.static[NOTE_ON:NOTE_OFF][(pitches < low) | (pitches > high)] = -math.inf
        self.key_pull = controls.key_pull if controls.key_pull is not None else (
            AUTO_KEY_PULL if controls.scale == "auto" else 0.0)
        if self.key_pull > 0:
            share = pitch_class_weights(primer)
            share = share / share.sum() if share.sum() > 0 else np.full(12, 1 / 12)
            pull = self.key_pull * np.log((share + 0.01) / (share.max() + 0.01))
            self.static[NOTE_ON:NOTE_OFF] += pull[pitches % 12].astype(np.float32)
        self.max_hold_steps = None
        if controls.max_hold is not None:
            hold = controls.max_hold
            if hold == "auto":
                lengths = [n.end - n.start for n in primer]
                hold = max(4.0, 2 * float(np.percentile(lengths, 90))) if lengths else None
            self.max_hold_steps = None if hold is None else hold / codec.step_seconds
        self.density = controls.density
        if controls.density == "auto":
            length = max((n.end for n in primer), default=0.0)
            self.density = min(50.0, max(0.05, len(primer) / length)) if length > 0 else None

    def note_on_bias(self, state: PlayState) -> float:
        """The dynamic bias on every note-on of one stream (-inf forbids them)."""
        c, density = self.controls, self.density
        if c.max_polyphony is not None and len(state.notes) >= c.max_polyphony:
            return -math.inf
        if density is None:
            return 0.0
        rate = state.onset_rate()
        if math.isnan(rate):
            return 0.0
        shift = DENSITY_GAIN * math.log((density + 0.05) / (rate + 0.05))
        elapsed = (state.now - state.origin) * state.codec.step_seconds
        behind = density * elapsed - state.played                        # notes
        shift += DENSITY_INTEGRAL * behind / (density * 5.0 + 1.0)
        return max(-DENSITY_CLIP, min(DENSITY_CLIP, shift))

    def note_off_bias(self, state: PlayState) -> np.ndarray:
        """(128,) nats for each note-off now: the hold guard's push on notes held past `max_hold`
        (the sampler offers note-offs only for sounding pitches, `ambient.sampling.release_sounding`)."""
        bias = np.zeros(128, dtype=np.float32)
        for pitch, note in state.notes.items():
            age = state.now - note.step
            push = 0.0
            if self.max_hold_steps is not None and age > self.max_hold_steps:
                push = min(DENSITY_CLIP, HOLD_GAIN * math.log(age / self.max_hold_steps))
            bias[pitch] = push
        return bias


def _seconds_or_auto(name: str, value: str | None) -> float | str | None:
    if value is None or value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise ParameterError(name, f"must be auto or a number, got {value!r}") from None


def controls_from(*, scale: str | None = None, scale_strength: float = math.inf, pitch_range: str | None = None,
                  density: str | None = None, max_polyphony: int | None = None, key_pull: float | None = None,
                  max_hold: str | None = None) -> Controls:
    """Controls from the words a person types (CLI flags, the studio's fields): 'none', '36-84', 'auto'."""
    if scale is not None and scale.strip().lower() == "none":
        scale = None
    bounds = None
    if pitch_range is not None:
        low, dash, high = pitch_range.partition("-")
        if not (dash and low.strip().isdigit() and high.strip().isdigit()):
            raise ParameterError("pitch_range", f"must be LOW-HIGH like 36-84, got {pitch_range!r}")
        bounds = (int(low), int(high))
    controls = Controls(scale=scale, scale_strength=scale_strength, pitch_range=bounds,
                        density=_seconds_or_auto("density", density), max_polyphony=max_polyphony,
                        key_pull=key_pull, max_hold=_seconds_or_auto("max_hold", max_hold))
    controls.check()
    return controls
