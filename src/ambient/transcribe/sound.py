"""What a file's sound says beside the model's activations: how sharp its attacks are (which
clean-up profile suits it), how fast its room lets it fall silent (whether it is dry), and
each key's own level over time (where a plucked note was let go).

All read a magnitude spectrogram worked out a chunk of frames at a time (`spectra`), so an
hour-long record never holds its whole spectrogram (1.3 GB) or a padded copy of itself.
"""

from __future__ import annotations

import numpy as np

PLUCK_RISE = 0.1        # seconds: attacks faster than this are struck or plucked
PLUCK_PEAKINESS = 3.5   # ... as is sound whose spectral flux comes in spikes this far above its median


def attack_features(audio: np.ndarray, rate: int) -> tuple[float, float]:
    """(rise, peakiness) of a file's sound, from its magnitude spectrogram (square-rooted,
    so neither the loudest partials nor the noise floor rule).

    rise: the median time the sound's level takes from 10 % to 90 % of the way up to the
    top at its strongest attacks (the top 5 % of spectral flux). A pluck takes 10-40 ms
    with or without reverb; a swell or a choir 0.15-0.7 s. Dense, overlapping notes blur it.
    peakiness: the 99th percentile of the flux over its median while anything sounds.
    Dense plucked music stays spiky (2.5-16 on the tuning set) where pads and choirs flow
    (1.4-1.9), but a sparse, static swell can reach 3 (its held notes do not move at all).
    """
    hop = 256
    flux, level = flux_and_level(audio, hop)
    sounding = level > 0.05 * level.max() if level.size else level.astype(bool)
    if sounding.sum() < 10:
        return 0.0, 0.0
    peakiness = float(np.percentile(flux[sounding], 99) / (np.median(flux[sounding]) + 1e-9))
    top = np.percentile(flux[sounding], 95)
    peaks = np.flatnonzero((flux[1:-1] >= flux[:-2]) & (flux[1:-1] > flux[2:]) & (flux[1:-1] >= top)) + 1
    back, ahead = int(0.5 * rate / hop), int(1.0 * rate / hop)
    rises = []
    for p in peaks:
        low_at = max(0, p - back) + int(np.argmin(level[max(0, p - back):p + 1]))
        high_at = p + int(np.argmax(level[p:p + ahead]))
        low, high = level[low_at], level[high_at]
        if high - low < 0.1 * high:  # a flicker on a held sound, not an attack
            continue
        way_up = (level[low_at:high_at + 1] - low) / (high - low)
        rises.append((np.argmax(way_up >= 0.9) - np.argmax(way_up >= 0.1)) * hop / rate)
    return (float(np.median(rises)) if rises else 1.0), peakiness


def spectra(audio: np.ndarray, hop: int = 256, n_fft: int = 1024, chunk: int = 1024):
    """The magnitude spectra of centred, Hann-windowed frames, `chunk` frames at a time."""
    half = n_fft // 2  # frames are centred: the audio is read as if padded with silence
    frames = 1 + max(0, len(audio) + 2 * half - n_fft) // hop
    window = np.hanning(n_fft).astype(np.float32)
    for first in range(0, frames, chunk):
        count = min(chunk, frames - first)
        lo, hi = first * hop - half, (first + count - 1) * hop + n_fft - half  # in the audio's samples
        piece = np.zeros(hi - lo, np.float32)
        inside = slice(max(lo, 0), min(hi, len(audio)))
        if inside.stop > inside.start:
            piece[inside.start - lo:inside.stop - lo] = audio[inside]
        rows = np.lib.stride_tricks.sliding_window_view(piece, n_fft)[::hop]
        yield np.abs(np.fft.rfft(rows * window, axis=1))


def flux_and_level(audio: np.ndarray, hop: int = 256, n_fft: int = 1024, chunk: int = 1024):
    """Per frame (after the first): the spectral flux and the level of the square-rooted
    magnitude spectrum."""
    flux, level, previous = [], [], None
    for magnitude in spectra(audio, hop, n_fft, chunk):
        spectrum = np.sqrt(magnitude)
        joined = spectrum if previous is None else np.vstack([previous, spectrum])
        flux.append(np.maximum(0.0, np.diff(joined, axis=0)).sum(axis=1))
        level.append(joined[1:].sum(axis=1))
        previous = spectrum[-1:]
    return (np.concatenate(flux), np.concatenate(level)) if flux else (np.zeros(0), np.zeros(0))


def band_levels(audio: np.ndarray, rate: int, hop: int = 256, n_fft: int = 1024, chunk: int = 1024) -> np.ndarray:
    """Per frame, the power in half-octave bands from 62.5 Hz to 8 kHz (those under
    Nyquist), in dB: (frames, bands)."""
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    edges = [e for e in 62.5 * 2 ** np.arange(0, 7.5, 0.5) if e <= rate / 2]
    bins = [(freqs >= lo) & (freqs < hi) for lo, hi in zip(edges[:-1], edges[1:])]
    blocks = [np.stack([(magnitude[:, b] ** 2).sum(axis=1) for b in bins], axis=1)
              for magnitude in spectra(audio, hop, n_fft, chunk)]
    power = np.concatenate(blocks) if blocks else np.zeros((0, len(bins)))
    return (10 * np.log10(power + 1e-12)).astype(np.float32)


def pitch_levels(audio: np.ndarray, rate: int, frames: int, lowest: int = 21, pitches: int = 88,
                 hop: int = 256, n_fft: int = 4096, chunk: int = 512) -> np.ndarray:
    """Per frame, each piano key's own level in dB: the power within half a semitone of its
    fundamental (the nearest bin, where the band holds none), (frames, pitches), padded or cut
    to `frames`. A long window (4096 samples: 5.4 Hz bins at 22050 Hz) tells neighbouring keys
    apart above the bass; the bands are summed a chunk at a time, so an hour never holds more
    than its (frames, 88) levels."""
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    f0 = 440.0 * 2 ** ((np.arange(lowest, lowest + pitches) - 69) / 12)
    near = np.abs(np.log2(np.maximum(freqs, 1e-9)[None, :] / f0[:, None])) < 0.5 / 12
    for k in np.flatnonzero(~near.any(axis=1)):
        near[k, np.argmin(np.abs(freqs - f0[k]))] = True
    used = np.flatnonzero(near.any(axis=0))
    lo, hi = int(used[0]), int(used[-1]) + 1  # the bins any key hears: under 4.3 kHz
    bands = near[:, lo:hi].T.astype(np.float32)  # (bins, pitches): a bin is in at most two keys' bands
    out = np.full((frames, pitches), -120.0, np.float32)
    at = 0
    for magnitude in spectra(audio, hop, n_fft, chunk):
        power = np.square(magnitude[:, lo:hi], dtype=np.float32)
        block = 10 * np.log10(power @ bands + 1e-12)
        take = min(len(block), frames - at)
        if take <= 0:
            break
        out[at:at + take] = block[:take]
        at += take
    return out


DRY_FALL_DB = 60.0  # a room that lets sound fall this far in FALL_SECONDS is dry (RT60 under it)
FALL_SECONDS = 0.5
SILENCE_DB = 90.0  # the whole sound this far under its loudest is silence
RELEASE_DB, RELEASE_SECONDS = 6.0, 0.1  # a sound that fell this much this long before silence was let go


def room_fall(audio: np.ndarray, rate: int, hop: int = 256, n_fft: int = 1024) -> float:
    """How far, in dB, the file's sound falls in `FALL_SECONDS` where it falls fastest: the 1st
    percentile of every half-octave band's fall over that time, from wherever the band
    sounded within 35 dB of its loudest.

    A room rings on after a note stops, so no fall can be faster than its reverberation
    allows: 60 dB in RT60 seconds. On the transcription benchmark's tuning set, every clip in
    a Freeverb room or hall fell 38 dB or less in half a second and every dry synth pluck 93
    dB or more; dry bells, pads, SoundFont strings and the choir, whose own releases ring, 20-115.
    A recording's noise floor also stops a fall, so a noisy dry recording reads as a room,
    never the other way. An excerpt cut off mid-note also falls into silence as fast as a
    dry release, so the file's trailing silence counts only if the sound was already
    falling `RELEASE_DB` over the `RELEASE_SECONDS` before it went (a release), not still
    holding (a cut). A cut that comes just after a note was let go, in a reverberant room,
    still reads as dry.
    """
    db = band_levels(audio, rate, hop, n_fft)
    span = int(round(FALL_SECONDS * rate / hop))
    mix = 10 * np.log10((10.0 ** (db / 10)).sum(axis=1)) if len(db) else np.zeros(0)
    sounding = np.flatnonzero(mix > mix.max() - SILENCE_DB) if len(db) else np.zeros(0, int)
    last = int(sounding[-1]) + 1 if sounding.size else 0  # frames after this are the trailing silence
    clear = last - n_fft // hop  # the last frame whose window ends before the silence
    before = clear - int(round(RELEASE_SECONDS * rate / hop))
    if before >= 0 and last < len(db) and mix[before] - mix[clear] >= RELEASE_DB:
        last = len(db)  # it was let go: its fall into the silence is the room's
    if last <= span:
        return 0.0
    fall = db[:last - span] - db[span:last]
    live = db[:last - span] > db.max(axis=0) - 35
    return float(np.percentile(fall[live], 99)) if live.any() else 0.0


def choose_profile(audio: np.ndarray, rate: int) -> str:
    """pluck or pad, from the sound itself: fast attacks, or flux in spikes, mean pluck.
    Both limits sit in the gap between the tuning set's plucked and sustained timbres
    (9 of its 270 clips, a bell, a dulcimer or a harpsichord in a long hall, are heard as pads)."""
    rise, peakiness = attack_features(audio, rate)
    return "pluck" if rise < PLUCK_RISE or peakiness >= PLUCK_PEAKINESS else "pad"
