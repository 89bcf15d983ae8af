"""Musical measures of a piece, as pure functions on notes (never on a model's internals).

Key fidelity is the Pearson correlation of two duration-weighted pitch-class histograms:
real music keeps its key, so a 20 s window and the next minute of one piece correlate
at about 0.85-0.95, and unrelated music near 0. The feature comparison follows Yang &
Lerch 2020 ("On the evaluation of generative models in music"): for each feature, the
distances within the real set and between the generated and the real set are smoothed
into densities, and their overlapping area says how alike the two sets are (1: the
generated pieces sit among the real ones as the real ones sit among themselves).
"""

from __future__ import annotations

import math

import numpy as np

from ambient.notes import Note

FEATURES = ("pitch_class_histogram", "pitch_range", "note_count", "inter_onset_interval", "note_length",
            "polyphony", "velocity")


def pitch_class_histogram(notes: list[Note]) -> np.ndarray:
    """Share of sounding time per pitch class (12,), summing to 1 (zeros for silence)."""
    h = np.zeros(12)
    for n in notes:
        h[n.pitch % 12] += max(n.end - n.start, 0.0)
    return h / h.sum() if h.sum() > 0 else h


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; nan when either side is constant (silence, or every class alike)."""
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def key_fidelity(primer: list[Note], continuation: list[Note]) -> float:
    return correlation(pitch_class_histogram(primer), pitch_class_histogram(continuation))


def mean_polyphony(notes: list[Note]) -> float:
    """Notes sounding on average over the time anything sounds."""
    events = sorted([(n.start, 1) for n in notes] + [(n.end, -1) for n in notes])
    sounding, last, weighted, covered = 0, None, 0.0, 0.0
    for t, change in events:
        if last is not None and sounding > 0:
            weighted += sounding * (t - last)
            covered += t - last
        sounding += change
        last = t
    return weighted / covered if covered > 0 else 0.0


def features(notes: list[Note]) -> dict[str, float | np.ndarray]:
    """The compared features of one piece (Yang & Lerch 2020's pitch and rhythm set, plus velocity)."""
    starts = np.array(sorted(n.start for n in notes))
    return {
        "pitch_class_histogram": pitch_class_histogram(notes),
        "pitch_range": float(max(n.pitch for n in notes) - min(n.pitch for n in notes)) if notes else 0.0,
        "note_count": float(len(notes)),
        "inter_onset_interval": float(np.mean(np.diff(starts))) if len(starts) > 1 else 0.0,
        "note_length": float(np.mean([n.end - n.start for n in notes])) if notes else 0.0,
        "polyphony": mean_polyphony(notes),
        "velocity": float(np.mean([n.velocity for n in notes])) if notes else 0.0,
    }


def onsets_per_window(notes: list[Note], start: float, end: float, window: float) -> np.ndarray:
    """Note-ons in each window of `window` seconds from start to end (the last may be shorter)."""
    edges = np.arange(start, end + 1e-9, window)
    if edges[-1] < end:
        edges = np.append(edges, end)
    counts, _ = np.histogram([n.start for n in notes if start <= n.start < end], bins=edges)
    return counts


def density_drift(notes: list[Note], start: float, end: float, window: float = 60.0) -> float:
    """Onset rate of the last window over the first (1: steady; below 1: thinning).

    The window is a minute, or a third of the piece when it is shorter than three.
    """
    window = min(window, (end - start) / 3)
    first = sum(1 for n in notes if start <= n.start < start + window)
    last = sum(1 for n in notes if end - window <= n.start < end)
    return last / first if first else (float("inf") if last else float("nan"))


def polyphony_drift(notes: list[Note], start: float, end: float, window: float = 60.0) -> float:
    window = min(window, (end - start) / 3)
    first = mean_polyphony([n for n in notes if start <= n.start < start + window])
    last = mean_polyphony([n for n in notes if end - window <= n.start < end])
    return last / first if first else float("nan")


def longest_onset_gap(notes: list[Note], start: float, end: float) -> float:
    """Longest time without a new note, from start to end (seconds)."""
    times = [start] + sorted(n.start for n in notes if start <= n.start < end) + [end]
    return float(max(np.diff(times)))


def longest_silence(notes: list[Note], start: float, end: float) -> float:
    """Longest time with nothing sounding between start and end (seconds)."""
    longest, reach = 0.0, start
    for n in sorted(notes, key=lambda n: n.start):
        if n.end <= start or n.start >= end:
            continue
        longest = max(longest, n.start - reach)
        reach = max(reach, n.end)
    return float(max(longest, end - reach))


def _events(notes: list[Note]) -> list[tuple[int, int]]:
    """Transposition-free melody events: (interval from the previous onset's pitch, onset gap in 50 ms)."""
    ordered = sorted(notes, key=lambda n: (n.start, n.pitch))
    return [(b.pitch - a.pitch, int(round((b.start - a.start) / 0.05))) for a, b in zip(ordered, ordered[1:])]


def loop_share(notes: list[Note], max_period: int = 32, min_repeats: int = 4) -> float:
    """Share of the piece's events inside an exact repetition (period <= max_period, repeated
    at least min_repeats times in a row): a token loop shows as a large share."""
    events = _events(notes)
    n = len(events)
    covered = np.zeros(n, dtype=bool)
    for period in range(1, min(max_period, n // min_repeats) + 1):
        run = 0
        for i in range(period, n):
            run = run + 1 if events[i] == events[i - period] else 0
            if run >= period * (min_repeats - 1):
                covered[i - run - period + 1:i + 1] = True
    return float(covered.mean()) if n else 0.0


def degenerate(notes: list[Note], start: float, end: float) -> list[str]:
    """What is wrong with a continuation, if anything: 'silent', 'loop', 'stuck note'."""
    span = end - start
    inside = [n for n in notes if n.start >= start]
    problems = []
    if not inside or longest_silence(notes, start, end) >= 0.5 * span:
        problems.append("silent")
    if loop_share(inside) >= 0.5:
        problems.append("loop")
    held = [n for n in notes if n.end - max(n.start, start) >= 0.9 * span and n.end > start]
    if held and len(inside) < span / 10:  # one note holds on while the music has stopped
        problems.append("stuck note")
    return problems


def _ngrams(events: list[tuple[int, int]], n: int) -> set:
    return {tuple(events[i:i + n]) for i in range(len(events) - n + 1)}


def longest_shared_run(piece: list[Note], corpus: list[list[Note]]) -> int:
    """Notes in the longest melody (intervals and rhythm) the piece shares with any corpus piece.

    Transposition-free, so a memorised phrase shows even when it was moved to another key.
    """
    mine = _events(piece)
    theirs = [_events(p) for p in corpus]
    low, high = 0, len(mine)
    while low < high:  # binary search: a shared run of n events implies one of n - 1
        n = (low + high + 1) // 2
        grams = _ngrams(mine, n)
        if any(grams & _ngrams(e, n) for e in theirs):
            low = n
        else:
            high = n - 1
    return low + 1 if low else 0


def gaussian_density(sample: list[float], grid: np.ndarray) -> np.ndarray:
    """A Gaussian kernel density estimate at `grid`, bandwidth by Scott's rule (scipy's
    gaussian_kde in one dimension, without needing scipy in a base install)."""
    sample = np.asarray(sample, dtype=float)
    width = np.std(sample, ddof=1) * len(sample) ** (-1 / 5)
    z = (grid[:, None] - sample[None, :]) / width
    return np.exp(-0.5 * z ** 2).sum(axis=1) / (len(sample) * width * math.sqrt(2 * math.pi))


def overlap(real: list, generated: list, distance=None) -> float:
    """Yang & Lerch's overlapping area of intra-set (real) and inter-set distance densities."""
    distance = distance or (lambda a, b: float(np.linalg.norm(np.asarray(a) - np.asarray(b))))
    intra = [distance(a, b) for i, a in enumerate(real) for b in real[i + 1:]]
    inter = [distance(a, b) for a in generated for b in real]
    if len(intra) < 2 or len(inter) < 2:
        return float("nan")
    grid_max = max(max(intra), max(inter))
    if grid_max == 0:
        return 1.0
    grid = np.linspace(0, grid_max * 1.2, 512)
    densities = []
    for sample in (intra, inter):
        if np.std(sample) == 0:  # all distances alike: a narrow bump where they are
            width = grid_max * 0.02
            densities.append(np.exp(-0.5 * ((grid - sample[0]) / width) ** 2) / (width * math.sqrt(2 * math.pi)))
        else:
            densities.append(gaussian_density(sample, grid))
    return float(np.trapezoid(np.minimum(*densities), grid))
