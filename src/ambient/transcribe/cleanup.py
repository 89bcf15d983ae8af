"""Frame and onset activations to notes, for sustained and reverberant sound.

Pure functions from arrays to notes, each step testable alone (after basic-pitch's
note_creation.py, with the opposite bias: trust the frames, use onsets only to place
and split).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ambient.notes import Note, sort_notes

LOWEST_PITCH = 21  # basic-pitch's 88 note bins start at A0
HARMONICS = (12, 19, 24)  # an octave, an octave and a fifth, two octaves


@dataclass(frozen=True)
class AmbientCleanup:
    """Note creation for sustained, reverberant sound; every field is a CLI flag."""
    frame_high: float = 0.45      # a note needs its activation above this somewhere
    frame_low: float = 0.22       # ... and lasts while it stays above this
    merge_gap: float = 0.25       # seconds: dips inside one held note shorter than this are bridged
    release_ratio: float = 0.35   # the note ends where activation falls below this × its peak
    onset_threshold: float = 0.5  # an onset peak this strong inside a note may be a re-strike,
    restrike_rise: float = 0.25   # ... if the note's activation rises this much around it
    attack_search: float = 0.5    # seconds a start may move back to the foot of a slow swell
    onset_search: float = 0.08    # seconds around a note's start searched for its onset peak
    min_note: float = 0.1         # seconds; shorter notes are fragments
    harmonic_ratio: float = 0.7   # a note an octave, twelfth or two octaves over a louder one,
    #                               overlapping it, peaking under this × its peak, is its echo
    name = "basic-pitch+ambient"

    def settings(self) -> dict:
        return asdict(self)

    def notes(self, model, post: dict, audio: np.ndarray) -> list[Note]:
        return activations_to_notes(post["note"], post["onset"], post["times"], self, level_db(audio, len(post["times"])))


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def held_regions(act: np.ndarray, s: AmbientCleanup, fps: float) -> list[tuple[int, int]]:
    """Hysteresis: runs above frame_low that reach frame_high, with short gaps bridged."""
    kept = [(a, b) for a, b in runs(act > s.frame_low) if act[a:b].max() > s.frame_high]
    merged: list[tuple[int, int]] = []
    for a, b in kept:
        if merged and a - merged[-1][1] <= s.merge_gap * fps:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def split_restrikes(act: np.ndarray, onset: np.ndarray, a: int, b: int, s: AmbientCleanup, fps: float) -> list[int]:
    """Frames inside [a, b) where the same pitch is struck again.

    A strong onset peak alone is not enough: when other notes start, the onset head
    also flickers on pitches that are merely held. A real re-strike makes this pitch's
    own activation jump.
    """
    lo, hi = a + int(s.min_note * fps), b - int(s.min_note * fps)
    if hi <= lo:
        return []
    seg = onset[lo:hi]
    peaks = np.flatnonzero((seg[1:-1] > s.onset_threshold) & (seg[1:-1] >= seg[:-2]) & (seg[1:-1] > seg[2:])) + 1 + lo
    w = max(1, int(0.05 * fps))
    return [int(p) for p in peaks if act[p:p + w + 1].max() - act[max(0, p - w):p].min() > s.restrike_rise]


def foot_of_swell(act: np.ndarray, start: int, s: AmbientCleanup, fps: float) -> int:
    """Walk back from where a note crossed frame_low to where its activation began to rise."""
    floor = 0.5 * s.frame_low
    limit = max(0, start - int(s.attack_search * fps))
    i = start
    while i > limit and act[i - 1] > floor and act[i - 1] < act[i]:
        i -= 1
    return i


def level_db(audio: np.ndarray, frames: int) -> np.ndarray:
    """The mix's level per model frame in dB below its loudest frame."""
    hop = max(1, len(audio) // max(frames, 1))
    usable = audio[:hop * frames] if len(audio) >= hop * frames else np.pad(audio, (0, hop * frames - len(audio)))
    rms = np.sqrt((usable.reshape(frames, hop).astype(np.float64) ** 2).mean(axis=1) + 1e-12)
    return 20 * np.log10(rms / rms.max())


def activations_to_notes(note: np.ndarray, onset: np.ndarray, times: np.ndarray, s: AmbientCleanup,
                         level: np.ndarray | None = None) -> list[Note]:
    fps = 1.0 / float(np.median(np.diff(times))) if len(times) > 1 else 86.0
    frame_end = lambda i: float(times[min(i, len(times) - 1)]) if i < len(times) else float(times[-1]) + 1 / fps
    found: list[tuple[int, int, int, float]] = []  # (bin, start frame, end frame, peak)
    for b in range(note.shape[1]):
        act, ons = note[:, b], onset[:, b]
        for a, e in held_regions(act, s, fps):
            cuts = [a] + split_restrikes(act, ons, a, e, s, fps) + [e]
            for k, (start, end) in enumerate(zip(cuts[:-1], cuts[1:])):
                peak = float(act[start:end].max())
                # the reverb tail is not the note: end where it falls below a share of the peak
                strong = np.flatnonzero(act[start:end] >= s.release_ratio * peak)
                end = start + int(strong[-1]) + 1
                # a start goes onto the onset peak the model saw nearby; for a slow swell with
                # no clear onset, back to the foot of the swell
                foot = foot_of_swell(act, start, s, fps) if k == 0 else start
                w = int(s.onset_search * fps)
                window = ons[max(0, start - w):start + w + 1]
                if window.size and window.max() > s.onset_threshold:
                    start = max(0, start - w) + int(window.argmax())
                else:
                    start = foot  # a slow swell: the model's onset comes late, the rise does not
                if end - start >= max(1, int(round(s.min_note * fps))):
                    found.append((b, start, end, peak))
    found = drop_harmonic_echoes(found, s)
    notes = []
    for b, start, end, peak in found:
        loudness = 0.0 if level is None else float(level[min(start + int(0.1 * fps), len(level) - 1)])
        velocity = int(np.clip(round(127 * np.sqrt(peak) * 10 ** (loudness / 40)), 1, 127))
        notes.append(Note(float(times[start]), frame_end(end), b + LOWEST_PITCH, velocity))
    return sort_notes(notes)


def drop_harmonic_echoes(found: list[tuple[int, int, int, float]], s: AmbientCleanup):
    """Remove notes that sit a harmonic above a louder note sounding at the same time."""
    by_bin: dict[int, list[tuple[int, int, float]]] = {}
    for b, start, end, peak in found:
        by_bin.setdefault(b, []).append((start, end, peak))
    kept = []
    for b, start, end, peak in found:
        echo = False
        for interval in HARMONICS:
            for fs, fe, fpeak in by_bin.get(b - interval, []):
                overlap = min(end, fe) - max(start, fs)
                if overlap > 0.8 * (end - start) and peak < s.harmonic_ratio * fpeak and fs <= start + 2:
                    echo = True
                    break
            if echo:
                break
        if not echo:
            kept.append((b, start, end, peak))
    return kept
