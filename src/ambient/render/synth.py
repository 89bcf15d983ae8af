"""Numpy voices: every note a stack of detuned wavetable oscillators under a slow envelope.

A block of audio is rendered from the notes that sound in it. Phases come from absolute
sample times, so blocks join without a seam and a one-hour piece renders in fixed
memory. Each note has its own envelope (no voice stealing), so overlapping and repeated
notes never click; attack and release are raised-cosine ramps of at least 5 ms. Notes of
one pitch share its oscillators (see `render_block`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ambient.notes import Note

TABLE_BITS = 12
TABLE_SIZE = 1 << TABLE_BITS


def _table(harmonics: dict[int, float]) -> np.ndarray:
    phase = np.arange(TABLE_SIZE) / TABLE_SIZE
    wave = sum(a * np.sin(2 * np.pi * h * phase) for h, a in harmonics.items())
    return (wave / np.abs(wave).max()).astype(np.float32)


# Band-limited single cycles (16 harmonics at most, so pads stay clean up to about C7).
WAVES = {
    "sine": _table({1: 1.0}),
    "saw": _table({h: 1.0 / h for h in range(1, 17)}),
    "square": _table({h: 1.0 / h for h in range(1, 17, 2)}),
    "triangle": _table({h: (-1) ** ((h - 1) // 2) / h**2 for h in range(1, 17, 2)}),
    "organ": _table({1: 1.0, 2: 0.6, 3: 0.35, 4: 0.25, 6: 0.12, 8: 0.08}),
    "choir": _table({1: 1.0, 2: 0.45, 3: 0.55, 4: 0.18, 5: 0.22, 6: 0.08, 7: 0.06}),
}


@dataclass(frozen=True)
class Layer:
    """One oscillator per detune, at `ratio` times the note's frequency."""
    wave: str = "saw"
    ratio: float = 1.0
    gain: float = 1.0
    detune_cents: tuple[float, ...] = (0.0,)
    sway: float = 0.0          # depth of a slow per-note loudness movement (0..1)
    sway_hz: float = 0.08


@dataclass(frozen=True)
class Voice:
    layers: tuple[Layer, ...]
    attack: float = 1.5        # seconds
    release: float = 3.0       # seconds
    sustain: float = 0.85      # level the attack settles to
    decay: float = 2.0         # seconds from peak to sustain
    gain: float = 0.2
    spread: float = 0.35       # stereo spread of notes by pitch and chance
    lowest: int = 0            # notes below this pitch drop an octave-lower sub layer
    sub_gain: float = 0.0


def frequency(pitch: int) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def envelope(t: np.ndarray, duration: float, v: Voice) -> np.ndarray:
    """Loudness at times t (seconds since the note began) for a note held `duration` seconds."""
    attack = max(v.attack, 0.005)
    release = max(v.release, 0.005)
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip(t / attack, 0, 1))
    settle = v.sustain + (1 - v.sustain) * np.exp(-np.maximum(t - attack, 0) / max(v.decay, 1e-3))
    level = rise * settle
    # the release starts from whatever level the note had reached when it was let go
    held = 0.5 - 0.5 * np.cos(np.pi * min(duration / attack, 1.0))
    held *= v.sustain + (1 - v.sustain) * np.exp(-max(duration - attack, 0) / max(v.decay, 1e-3))
    fall = held * (0.5 + 0.5 * np.cos(np.pi * np.clip((t - duration) / release, 0, 1)))
    return np.where(t < duration, level, fall)


def note_rng(seed: int, note: Note) -> np.random.Generator:
    """Per-note randomness (pan, sway phases) that does not depend on the block being rendered."""
    return np.random.default_rng([seed, int(round(note.start * 1000)), note.pitch])


class SynthVoices:
    """The synthesised voices of a whole piece, rendered block after block."""

    def __init__(self, notes: list[Note], voice: Voice, rate: int, seed: int):
        self.notes = sorted(notes, key=lambda n: n.start)
        self.voice, self.rate, self.seed = voice, rate, seed
        self.starts = np.array([n.start for n in self.notes])
        self.stops = np.array([n.end for n in self.notes]) + voice.release

    def block(self, start: int, length: int) -> np.ndarray:
        t0, t1 = start / self.rate, (start + length) / self.rate
        sounding = np.flatnonzero((self.starts < t1 + 1e-3) & (self.stops > t0 - 1e-3))
        return render_block([self.notes[i] for i in sounding], self.voice, start, length, self.rate, self.seed)


CONTROL = 64  # samples per step of the envelopes and sways: 1.5 ms, far finer than any attack here


def render_block(notes: list[Note], voice: Voice, start: int, length: int, rate: int, seed: int) -> np.ndarray:
    """Stereo float32 (2, length) for samples start .. start+length of the piece.

    The cost grows slowly with the number of notes: envelopes and sways are worked out at a
    control rate (every CONTROL samples, linearly joined), and every note of one pitch shares
    that pitch's oscillators, so twenty notes a second, each ringing for seconds, cost a
    handful of oscillators per pitch rather than a stack per note. Each oscillator's phase
    comes from the absolute sample time and a per-pitch offset, so blocks join exactly.
    """
    out = np.zeros((2, length), dtype=np.float32)
    block_end = start + length
    grid = np.arange(start - start % CONTROL, block_end + CONTROL, CONTROL)   # control points over the block
    layers = list(voice.layers)
    sub = Layer("sine", 0.5, voice.sub_gain)
    # per pitch: one amplitude curve per layer and channel, summed over the pitch's notes
    curves: dict[int, np.ndarray] = {}
    for note in notes:
        first = int(round(note.start * rate))
        last = int(round(min(note.end + voice.release, 1e7) * rate))
        lo, hi = max(first, start), min(last, block_end)
        if lo >= hi:
            continue
        rng = note_rng(seed, note)
        t = np.maximum(grid - first, 0) / rate                                   # seconds since the onset
        amp = envelope(t, note.duration, voice) * voice.gain * (note.velocity / 127.0) ** 1.5
        amp = np.where((grid >= first - CONTROL) & (grid <= last + CONTROL), amp, 0.0)
        pan = np.clip((note.pitch - 64) / 40 + rng.uniform(-1, 1) * 0.5, -1, 1) * voice.spread
        gains = np.array([np.cos((pan + 1) * np.pi / 4), np.sin((pan + 1) * np.pi / 4)]) * np.sqrt(2)
        mine = layers + ([sub] if note.pitch < voice.lowest and voice.sub_gain else [])
        curve = curves.setdefault(note.pitch, np.zeros((len(layers) + 1, 2, len(grid))))
        for i, layer in enumerate(mine):
            sway = 1.0
            if layer.sway:
                phase = rng.uniform(0, 2 * np.pi)
                sway = 1 - layer.sway * (0.5 + 0.5 * np.sin(2 * np.pi * layer.sway_hz * t + phase))
            curve[i] += gains[:, None] * (amp * sway)
    n = np.arange(start, block_end, dtype=np.int64)                             # absolute sample times
    offset = start - grid[0]
    ramp = (np.arange(CONTROL) / CONTROL).astype(np.float32)
    for pitch, curve in curves.items():
        f0 = frequency(pitch)
        for i, layer in enumerate(layers + [sub]):
            if not curve[i].any():
                continue
            # straight lines between control points, both channels at once: (2, length)
            points = curve[i].astype(np.float32)
            joined = (points[:, :-1, None] + np.diff(points, axis=1)[:, :, None] * ramp).reshape(2, -1)
            left, right = joined[:, offset:offset + length]
            for k, cents in enumerate(layer.detune_cents):
                f = f0 * layer.ratio * 2 ** (cents / 1200)
                if f >= rate / 2:
                    continue
                # 32-bit fixed-point phase: exact over hours, and integer ops beat float modulo
                step = int(round(f / rate * 2**32))
                phase0 = int(np.random.default_rng([seed, pitch, i, k]).integers(0, 2**32))
                wave = WAVES[layer.wave][(n * step + phase0) >> (32 - TABLE_BITS) & (TABLE_SIZE - 1)]
                wave *= np.float32(layer.gain / len(layer.detune_cents))
                # detuned copies alternate sides: the chorus-like width of an analog pad
                side = 0.0 if len(layer.detune_cents) == 1 else (1.0 if k % 2 else -1.0) * 0.5
                out[0] += wave * left * np.float32((1 - side) / 2)
                out[1] += wave * right * np.float32((1 + side) / 2)
    return out


class NoiseBed:
    """Stereo red-ish noise rendered block after block; the filter's memory carries over."""

    def __init__(self, seed: int, color: float = 0.995):
        self.rng = np.random.default_rng([seed, 7])
        self.color = color
        self.state = np.zeros((2, 1))

    def block(self, length: int) -> np.ndarray:
        from scipy.signal import lfilter

        white = self.rng.standard_normal((2, length))
        red, self.state = lfilter([1 - self.color], [1, -self.color], white, axis=1, zi=self.state)
        return (red * 6).astype(np.float32)
