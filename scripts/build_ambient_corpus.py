"""Build the composed share of the bundled model's training set (no network, no licences).

Every piece comes from `ambient.compose` with a recipe drawn across keys, modes, families
and densities; `--heard` of them (a share) are also written as an automatic piano
transcription would read them (`compose.as_heard`), the form a user's records reach the
model in. Files are `composed-NNNN.mid` and `heard-composed-NNNN.mid` in one folder.

    python scripts/build_ambient_corpus.py runs/composed --pieces 600 --heard 0.7
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ambient.compose import as_heard, compose, random_hearing, random_recipe
from ambient.midi import write_midi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--pieces", type=int, default=600)
    parser.add_argument("--heard", type=float, default=0.7, help="share also written as a transcription hears it")
    parser.add_argument("--clean", type=float, default=1.0, help="share kept as written")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    notes_total = 0
    for i in range(args.pieces):
        recipe = random_recipe(rng)
        notes = compose(recipe, seed=args.seed * 100_003 + i)
        if rng.random() < args.clean:
            write_midi(args.out / f"composed-{i:04d}.mid", notes)
            notes_total += len(notes)
        if rng.random() < args.heard:
            heard = as_heard(notes, random_hearing(rng), seed=i)
            write_midi(args.out / f"heard-composed-{i:04d}.mid", heard)
            notes_total += len(heard)
    print(f"{args.out}: {len(list(args.out.glob('*.mid')))} files, {notes_total} notes")


if __name__ == "__main__":
    main()
