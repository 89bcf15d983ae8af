"""Codec economy: notes kept and tokens per note, against velocity-before-every-note.

The public Music Transformer encoders write a velocity token before every note-on.
Ours writes one only when the velocity bin changes. Both are run here over the seeds
and a sample of the training corpus (music21's Bach chorales, built on the fly).
Prints one JSON line.

    python benchmarks/codec.py [--corpus-sample 40]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from ambient.codec import NOTE_OFF, NOTE_ON, decode, encode, normalize, velocity_offset
from ambient.midi import read_midi
from ambient.seeds import seed_paths


def velocity_every_note(tokens: np.ndarray) -> int:
    """Token count of the same events with a velocity token before each note-on."""
    note_ons = int(((tokens >= NOTE_ON) & (tokens < NOTE_OFF)).sum())
    velocity_tokens = int((tokens >= velocity_offset()).sum())
    return len(tokens) - velocity_tokens + note_ons


def measure(pieces: list[list]) -> dict:
    notes_in = notes_out = ours = baseline = raw = 0
    for notes in pieces:
        raw += len(notes)
        tokens = encode(notes)
        notes_in += len(normalize(notes))
        notes_out += len(decode(tokens))
        ours += len(tokens)
        baseline += velocity_every_note(tokens)
    # notes_in counts distinct sounds: two voices striking one pitch at one instant are one
    return {"pieces": len(pieces), "notes_in_files": raw, "distinct_notes": notes_in, "notes_kept_percent": round(100 * notes_out / notes_in, 2),
            "tokens_per_note": round(ours / notes_in, 3),
            "velocity_every_note_tokens_per_note": round(baseline / notes_in, 3),
            "tokens_saved_percent": round(100 * (1 - ours / baseline), 1)}


def corpus_sample(count: int) -> list[list]:
    import subprocess
    import sys

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, str(Path(__file__).parents[1] / "scripts" / "build_corpus.py"), tmp],
                       check=True, capture_output=True)
        paths = sorted(Path(tmp).glob("*.mid"))
        chosen = [paths[i] for i in np.random.default_rng(0).choice(len(paths), min(count, len(paths)), replace=False)]
        return [read_midi(p) for p in chosen]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus-sample", type=int, default=40)
    args = parser.parse_args()
    seeds = [read_midi(p) for p in seed_paths()]
    print(json.dumps({"benchmark": "codec", "seeds": measure(seeds),
                      "corpus": measure(corpus_sample(args.corpus_sample))}))


if __name__ == "__main__":
    main()
