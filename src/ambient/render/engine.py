"""MIDI notes to a finished audio file, in blocks, in three passes over scratch files.

1. voices (synthesised, or a SoundFont) -> noise bed -> moving filter -> effect chain,
   written as float scratch audio while its loudness (BS.1770) is measured;
2. optional Paulstretch smear;
3. gain to the loudness target, fades, and a soft ceiling that keeps every sample under
   `peak_dbfs`, written in the output format.

Every pass holds one block at a time, so an hour renders in a few tens of MB.
"""

from __future__ import annotations

import math
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ambient.audio import audio_writer, output_format, read_blocks
from ambient.config import RENDER
from ambient.errors import AmbientError, ParameterError
from ambient.loudness import LoudnessMeter
from ambient.notes import Note, piece_end, stretch
from ambient.render.presets import Preset, moving_filter, preset
from ambient.render.synth import NoiseBed, SynthVoices

RATE = RENDER.rate
TARGET_LUFS = RENDER.target_lufs
PEAK_DBFS = RENDER.peak_dbfs
BLOCK = 1 << 16       # about 1.5 s at 44.1 kHz
FILTER_STEP = 1024    # the moving filter's cutoff is updated every 23 ms


@dataclass
class RenderReport:
    path: Path
    seconds: float
    lufs: float
    peak_dbfs: float


def render_length(notes: list[Note], p: Preset, rate: int = RATE) -> int:
    """Samples in a render before stretching: the piece plus the preset's tail."""
    return int(math.ceil((piece_end(notes) + p.tail) * rate))


def render(notes: list[Note], path: str | Path, instrument: str | Preset = RENDER.instrument, *,
           seed: int = RENDER.seed, tempo: float = RENDER.tempo, stretch_factor: float = RENDER.stretch_factor,
           soundfont: str | Path | None = None, program: int = RENDER.program, rate: int = RATE,
           target_lufs: float = TARGET_LUFS, peak_dbfs: float = PEAK_DBFS, on_progress=None) -> RenderReport:
    path = Path(path)
    output_format(path)
    p = instrument if isinstance(instrument, Preset) else preset(instrument)
    if not notes:
        raise AmbientError("nothing to render: the piece has no notes")
    if tempo <= 0:
        raise ParameterError("tempo", f"must be above 0, got {tempo}")
    if stretch_factor < 1:
        raise ParameterError("stretch_factor", f"must be 1 or more, got {stretch_factor}")
    notes = stretch(notes, 1.0 / tempo)
    if soundfont is not None:
        from ambient.render.soundfont import SoundFontVoices
        voices = SoundFontVoices(notes, soundfont, program, rate)
    else:
        voices = SynthVoices(notes, p.voice, rate, seed)
    total = render_length(notes, p, rate)
    with tempfile.TemporaryDirectory(prefix=".ambient-render-", dir=path.parent if path.parent.exists() else None) as tmp:
        dry = Path(tmp) / "effects.wav"
        meter = _first_pass(voices, p, total, rate, seed, dry, on_progress)
        if stretch_factor > 1:
            from ambient.render.stretch import paulstretch_file
            smeared = Path(tmp) / "stretched.wav"
            meter = paulstretch_file(dry, smeared, stretch_factor, rate, seed)
            dry = smeared
        gain = 10 ** ((target_lufs - meter.integrated()) / 20) if math.isfinite(meter.integrated()) else 1.0
        final = _finish(dry, path, gain, rate, peak_dbfs)
        frames = final.frames
    peak_out = 20 * math.log10(final.peak) if final.peak > 0 else float("-inf")
    return RenderReport(path, frames / rate, final.integrated(), peak_out)


class Chain:
    """A preset's noise bed, moving filter and effects, fed block after block: every filter,
    delay line and reverb tail carries over, so blocks join as if rendered in one piece."""

    def __init__(self, p: Preset, rate: int, seed: int):
        self.p, self.rate = p, rate
        self.board = p.effects()
        self.sweep = moving_filter(p)
        self.noise = NoiseBed(seed, p.noise_color) if p.noise else None

    def process(self, block: np.ndarray, start: int) -> np.ndarray:
        """The voices' (2, n) block that begins at sample `start`, through the chain."""
        p, length = self.p, block.shape[1]
        if self.noise is not None:
            t = (start + np.arange(length)) / self.rate
            swell = 0.55 + 0.45 * np.sin(2 * np.pi * p.noise_swell_hz * t) if p.noise_swell_hz else 1.0
            block = block + self.noise.block(length) * np.float32(p.noise) * np.asarray(swell, np.float32)
        if self.sweep is not None:
            block = _sweep(self.sweep, block, start, p, self.rate)
        return self.board(block, self.rate, reset=False)


def _first_pass(voices, p: Preset, total: int, rate: int, seed: int, scratch: Path, on_progress) -> LoudnessMeter:
    chain = Chain(p, rate, seed)
    meter = LoudnessMeter(rate)
    with audio_writer(scratch, rate, scratch=True) as out:
        for start in range(0, total, BLOCK):
            length = min(BLOCK, total - start)
            wet = chain.process(voices.block(start, length), start)
            meter.feed(wet)
            out.write(wet.T)
            if on_progress:
                on_progress(min(start + length, total) / total)
    return meter


def _sweep(sweep, block: np.ndarray, start: int, p: Preset, rate: int) -> np.ndarray:
    """The moving lowpass: its cutoff follows a slow sine, updated every FILTER_STEP samples."""
    out = np.empty_like(block)
    for i in range(0, block.shape[1], FILTER_STEP):
        t = (start + i) / rate
        sweep.cutoff_hz = p.filter_hz * 2 ** (p.filter_octaves * math.sin(2 * math.pi * p.filter_rate_hz * t))
        out[:, i:i + FILTER_STEP] = sweep(block[:, i:i + FILTER_STEP], rate, reset=False)
    return out


def soft_ceiling(x: np.ndarray, ceiling: float) -> np.ndarray:
    """Identity below 70 % of the ceiling, then a tanh knee that never reaches it.

    Ambient mixes at -16 LUFS rarely come near -1 dBFS, so this touches only the odd
    peak, with no lookahead, no pumping, and the same output every time.
    """
    knee = 0.7 * ceiling
    over = np.abs(x) > knee
    if not over.any():
        return x
    y = x.copy()
    m = np.abs(x[over])
    y[over] = np.sign(x[over]) * (knee + (ceiling - knee) * np.tanh((m - knee) / (ceiling - knee)))
    return y


def _finish(source: Path, target: Path, gain: float, rate: int, peak_dbfs: float) -> LoudnessMeter:
    """Gain, fades and the ceiling, into the output file; returns its meter."""
    import soundfile as sf

    total = sf.info(str(source)).frames
    ceiling = 10 ** (peak_dbfs / 20)
    fade_in, fade_out = int(0.05 * rate), max(1, int(min(4.0 * rate, total * 0.2)))
    meter = LoudnessMeter(rate)
    with audio_writer(target, rate) as out:
        for block in read_blocks(source, BLOCK):
            index = meter.frames + np.arange(block.shape[1])
            shape = np.minimum(1.0, np.minimum((index + 1) / fade_in, (total - index) / fade_out))
            block = soft_ceiling((block * (gain * shape)).astype(np.float32), ceiling)
            meter.feed(block)
            out.write(block.T)
    return meter


class Level:
    """Loudness held near a target without seeing the future: a short-term K-weighted meter
    (3 s) steers a gain that moves at most `SLEW_DB` per second; quiet passages below
    -50 LUFS keep the gain they had (no pumping up the room's tail); a soft ceiling holds
    every sample under the peak."""

    SLEW_DB = 1.0

    def __init__(self, rate: int, target_lufs: float, peak_dbfs: float):
        self.rate, self.target = rate, target_lufs
        self.ceiling = 10 ** (peak_dbfs / 20)
        self.meter = LoudnessMeter(rate)
        self.recent: deque[float] = deque(maxlen=30)     # 100 ms energies: the last 3 s
        self.gain_db: float | None = None

    def apply(self, block: np.ndarray) -> np.ndarray:
        if not block.shape[1]:
            return block
        before = len(self.meter.energies)
        self.meter.feed(block)
        self.recent.extend(self.meter.energies[before:])
        del self.meter.energies[:]                         # the meter's history would grow for ever
        energy = float(np.mean(self.recent)) if self.recent else 0.0
        loudness = -0.691 + 10 * math.log10(energy) if energy > 0 else -math.inf
        seconds = block.shape[1] / self.rate
        if loudness > -50:
            wanted = self.target - loudness
            if self.gain_db is None:
                self.gain_db = wanted
            step = max(-self.SLEW_DB * seconds, min(self.SLEW_DB * seconds, wanted - self.gain_db))
            start, self.gain_db = self.gain_db, self.gain_db + step
        else:
            start = self.gain_db = self.gain_db if self.gain_db is not None else 0.0
        ramp = np.linspace(10 ** (start / 20), 10 ** (self.gain_db / 20), block.shape[1], dtype=np.float32)
        return soft_ceiling(block * ramp, self.ceiling).astype(np.float32)
