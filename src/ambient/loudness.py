"""Integrated loudness (ITU-R BS.1770-4, LUFS), measured block by block.

K-weighting is the standard's two biquads (a high shelf near 1.7 kHz and a high-pass
near 38 Hz), designed for any sample rate from their analog parameters. Loudness is
gated at -70 LUFS absolute and 10 LU below the ungated mean, over 400 ms windows that
overlap by 75 %.
"""

from __future__ import annotations

import math

import numpy as np


def _lfilter():
    from scipy.signal import lfilter  # half a second to import: only when something is measured

    return lfilter


def _k_weighting(rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    # stage 1: high shelf, +4 dB above about 1.68 kHz (the head's acoustic effect)
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = (np.array([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]),
             np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]))
    # stage 2: high-pass near 38 Hz (the RLB curve)
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    highpass = (np.array([1.0, -2.0, 1.0]), np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]))
    return [shelf, highpass]


class LoudnessMeter:
    """Feed (channels, n) blocks in order; read `integrated()` and `peak` at the end."""

    def __init__(self, rate: int, channels: int = 2):
        self.rate = rate
        self.filters = _k_weighting(rate)
        self.state = [np.zeros((channels, 2)) for _ in self.filters]
        self.step = int(round(0.1 * rate))        # 100 ms: a quarter of a gating window
        self.carry = np.zeros((channels, 0))
        self.energies: list[float] = []          # summed channel mean squares per 100 ms
        self.peak = 0.0
        self.frames = 0

    def feed(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float64)
        self.frames += block.shape[1]
        if block.size:
            self.peak = max(self.peak, float(np.abs(block).max()))
        for i, (b, a) in enumerate(self.filters):
            block, self.state[i] = _lfilter()(b, a, block, axis=1, zi=self.state[i])
        data = np.concatenate([self.carry, block], axis=1)
        whole = data.shape[1] // self.step
        if whole:
            squares = (data[:, :whole * self.step] ** 2).reshape(data.shape[0], whole, self.step).mean(axis=2)
            self.energies.extend(squares.sum(axis=0).tolist())
        self.carry = data[:, whole * self.step:]

    def integrated(self) -> float:
        """LUFS; -inf for silence or audio shorter than one 400 ms window."""
        e = np.asarray(self.energies)
        if len(e) < 4:
            return float("-inf")
        windows = np.convolve(e, np.ones(4) / 4, mode="valid")
        loud = -0.691 + 10 * np.log10(np.maximum(windows, 1e-20))
        gated = windows[loud > -70]
        if not len(gated):
            return float("-inf")
        relative = -0.691 + 10 * np.log10(gated.mean()) - 10
        final = windows[(loud > -70) & (loud > relative)]
        return float(-0.691 + 10 * np.log10(final.mean()))


def loudness(audio: np.ndarray, rate: int) -> float:
    meter = LoudnessMeter(rate, audio.shape[0])
    meter.feed(audio)
    return meter.integrated()
