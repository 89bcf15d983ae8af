"""Paulstretch: extreme time stretching that smears sound into slowly moving clouds.

After Paul Nasca's algorithm: take overlapping windows of the input at a hop shortened
by the stretch factor, keep each window's magnitude spectrum, give every bin a random
phase, and overlap-add at the normal hop. Processed window by window from the scratch
file, so memory does not grow with the length of the piece.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ambient.audio import audio_writer
from ambient.loudness import LoudnessMeter

WINDOW_SECONDS = 0.25


def paulstretch_file(source: Path, target: Path, factor: float, rate: int, seed: int) -> LoudnessMeter:
    """Write `source` stretched `factor` times into `target`; returns the output's loudness meter."""
    window = int(WINDOW_SECONDS * rate) // 2 * 2
    hop_out = window // 4
    hop_in = hop_out / factor
    shape = np.hanning(window).astype(np.float32)
    norm = (shape**2).sum() / hop_out  # overlap-added squared windows sum to this constant
    rng = np.random.default_rng([seed, 11])
    meter = LoudnessMeter(rate)
    with sf.SoundFile(str(source)) as src, audio_writer(target, rate, scratch=True) as out:
        frames_in = src.frames
        total = int(frames_in * factor)
        pending = np.zeros((src.channels, window), dtype=np.float32)
        position = 0.0
        written = 0
        while written < total:
            src.seek(min(int(position), frames_in))
            grain = src.read(window, dtype="float32", always_2d=True).T
            if grain.shape[1] < window:
                grain = np.pad(grain, ((0, 0), (0, window - grain.shape[1])))
            spectrum = np.abs(np.fft.rfft(grain * shape, axis=1))
            phases = np.exp(2j * np.pi * rng.random(spectrum.shape[1]))  # one phase set for both sides
            smeared = np.fft.irfft(spectrum * phases, n=window, axis=1).astype(np.float32) * shape / norm
            pending += smeared
            ready = min(hop_out, total - written)
            meter.feed(pending[:, :ready])
            out.write(pending[:, :ready].T)
            written += ready
            pending = np.concatenate([pending[:, hop_out:], np.zeros((src.channels, hop_out), np.float32)], axis=1)
            position += hop_in
    return meter
