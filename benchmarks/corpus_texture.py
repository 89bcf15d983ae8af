"""Does a training corpus sound like the records? Its texture beside the yardstick's.

Every piece of each named set and of one side of the real ambient split is cut into
back-to-back 60 s windows (eval's continuation length; `yardstick.segments`), and each
window's features are those `ambient eval` compares (`evaluate.metrics.features`). For
each set: the median of every scalar feature, and its overlap with the real windows'
(Yang & Lerch's overlapping area, as eval reports it: 1 means alike). A family whose
timing or density is far from the records' shows here, before any training is spent on
it. One JSON line per set, the real side's own first.

Beside the features, the tokens: how many nats a token of each kind (note-on, time shift,
velocity) would cost a model that knew only the set's token frequencies, reading the real
side (cross-entropy against the real side's own frequencies; for the real side, their
entropy). A set off the records' time grid or level pays for it here: the records were
transcribed by Onsets and Frames, whose onsets fall on 32 ms frames.

And the openings: each piece's rate of notes in its first 20 s (from its first note, as
eval primes) over the minute after (eval's continuation). Records open sparser than they
go on, and a model answers a sparse primer the way its corpus' openings went on.

    python benchmarks/corpus_texture.py --set composed='runs/composed/composed-*.mid' \\
        --set heard='runs/composed/heard-*.mid' --set chorales='runs/mixB/chorales/*.mid' [--side tune]
"""

from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path

import numpy as np

from yardstick import read, segments, yardstick_paths

from ambient.evaluate.metrics import features, overlap

SCALARS = ("note_count", "inter_onset_interval", "note_length", "polyphony", "velocity", "pitch_range",
           "velocity_spread", "velocity_step")


def windows(paths: list[Path], most: int, limit: int, seed: int = 0) -> list[dict]:
    """Features of up to `limit` windows (a fixed random choice when there are more)."""
    cut = list(segments(read(paths), span=60.0, most=most).values())
    if len(cut) > limit:
        cut = [cut[i] for i in sorted(np.random.default_rng(seed).choice(len(cut), limit, replace=False))]
    return [features(notes) | level_moves(notes) for notes in cut]


def level_moves(notes) -> dict:
    """How far velocity moves within a window and from one onset to the next (MIDI velocity):
    a transcriber's levels follow the sound's swells, so successive notes sit close."""
    levels = [n.velocity for n in sorted(notes, key=lambda n: (n.start, n.pitch))]
    step = float(np.std(np.diff(levels))) if len(levels) > 1 else 0.0
    return {"velocity_spread": float(np.std(levels)), "velocity_step": step}


def token_counts(paths: list[Path]) -> np.ndarray:
    from ambient import codec

    counts = np.zeros(codec.vocab_size())
    for notes in read(paths).values():
        np.add.at(counts, codec.encode_piece(notes), 1)
    return counts


def token_nats(real: np.ndarray, found: np.ndarray, smooth: float = 0.5) -> dict:
    """Nats a real token of each kind costs under the set's frequencies (`smooth` counts added
    to each token, so a token the set never has costs much but not infinitely; the real
    side against itself, with none added, gives its entropy)."""
    from ambient import codec

    kinds = {"note_on": (codec.NOTE_ON, codec.NOTE_OFF), "time_shift": (codec.TIME_SHIFT, codec.velocity_offset()),
             "velocity": (codec.velocity_offset(), codec.vocab_size())}
    out = {}
    for kind, (a, b) in kinds.items():
        p = real[a:b] / real[a:b].sum()
        q = (found[a:b] + smooth) / (found[a:b] + smooth).sum()
        seen = p > 0
        out[f"{kind}_nats"] = round(float(-(p[seen] * np.log(q[seen])).sum()), 2)
    return out


def opening_rate(notes, primer: float = 20.0, after: float = 60.0) -> float | None:
    """Notes a second in a piece's first `primer` seconds over the `after` seconds that
    follow; None when the piece is too short for both (eval's 90 % rule) or silent after."""
    first = min(n.start for n in notes)
    if max(n.start for n in notes) - first < 0.9 * (primer + after):
        return None
    opening = sum(1 for n in notes if n.start - first < primer) / primer
    then = sum(1 for n in notes if primer <= n.start - first < primer + after) / after
    return opening / then if then else None


def openings(paths: list[Path]) -> dict:
    rates = [r for r in map(opening_rate, read(paths).values()) if r is not None]
    return {"opening_rate_median": round(float(np.median(rates)), 2), "opens_sparser": f"{sum(r < 1 for r in rates)}"
            f"/{len(rates)}"} if rates else {}


def describe(name: str, found: list[dict], real: list[dict], tokens: dict) -> dict:
    row = {"set": name, "windows": len(found)}
    for key in SCALARS:
        row[f"{key}_median"] = round(float(np.median([f[key] for f in found])), 3)
        row[f"{key}_overlap"] = round(overlap([r[key] for r in real], [f[key] for f in found]), 2)
    return row | tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=GLOB", help="a corpus to describe")
    parser.add_argument("--side", choices=("tune", "report"), default="tune")
    parser.add_argument("--windows", type=int, default=150, help="at most this many windows a set")
    args = parser.parse_args()
    real_paths = yardstick_paths(args.side)
    real, real_tokens = windows(real_paths, most=3, limit=10**6), token_counts(real_paths)
    print(json.dumps(describe(f"real ({args.side})", real, real, token_nats(real_tokens, real_tokens, smooth=0))
                     | openings(real_paths)))
    for spec in args.set:
        name, _, pattern = spec.partition("=")
        paths = [Path(p) for p in sorted(glob.glob(pattern))]
        if not paths:
            raise SystemExit(f"--set {spec}: no file matches {pattern}")
        sample = [paths[i] for i in np.linspace(0, len(paths) - 1, min(len(paths), args.windows)).astype(int)]
        tokens = token_nats(real_tokens, token_counts(sample))
        print(json.dumps(describe(name, windows(paths, most=2, limit=args.windows), real, tokens) | openings(sample)))


if __name__ == "__main__":
    main()
