"""Long pieces: do continuations keep their density, or thin out, loop or fall silent?

1. Every bundled seed continued for 10 minutes: notes in the last minute against the
   first (a piece that keeps its form stays near 1; the issue's floor is 0.6), and the
   longest time without a new note (the floor: none over 10 s unless the seed has one).
2. 20 continuations of 2,048 tokens (seeds cycled): how many are degenerate (a loop, a
   stuck note, silence), by `ambient.evaluate.metrics.degenerate`.

Prints one JSON line. `--model` compares another model; `--scale`/`--density` add controls.

    python benchmarks/long_form.py [--model DIR] [--minutes 10] [--scale auto] [--density 1.5]
"""

from __future__ import annotations

import argparse
import json

import torch

from ambient.checkpoint import load_model
from ambient.controls import Controls
from ambient.evaluate import metrics
from ambient.midi import read_midi
from ambient.notes import piece_end
from ambient.sampling import continue_piece
from ambient.seeds import seed_paths


def continuation(piece, primer):
    end = piece_end(primer)
    return [n for n in piece if n.start >= end - 1e-6], end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--short", type=int, default=20, help="continuations of 2,048 tokens")
    parser.add_argument("--scale", default=None)
    parser.add_argument("--density", default=None, help="notes per second, or auto (the primer's)")
    parser.add_argument("--max-hold", default=None, help="seconds, or auto (from the primer's note lengths)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, card = load_model(args.model)
    codec = card.codec
    density = args.density if args.density in (None, "auto") else float(args.density)
    hold = args.max_hold if args.max_hold in (None, "auto") else float(args.max_hold)
    controls = Controls(scale=args.scale, density=density, max_hold=hold)
    seconds = args.minutes * 60
    pieces = []
    for i, path in enumerate(seed_paths()):
        primer = read_midi(path)
        [piece] = [c.notes for c in continue_piece(model, primer, seconds=seconds, seed=i, controls=controls, codec=codec)]
        notes, start = continuation(piece, primer)
        first = sum(1 for n in notes if n.start < start + 60)
        last = sum(1 for n in notes if n.start >= start + seconds - 60)
        pieces.append({"seed": path.stem, "notes": len(notes), "first_minute": first, "last_minute": last,
                       "last_over_first": round(last / first, 3) if first else None,
                       "longest_onset_gap_s": round(metrics.longest_onset_gap(notes, start, start + seconds), 2),
                       "primer_longest_gap_s": round(metrics.longest_onset_gap(primer, 0, start), 2),
                       "degenerate": metrics.degenerate(notes, start, start + seconds)})
    seeds = seed_paths()
    broken = []
    for k in range(args.short):
        primer = read_midi(seeds[k % len(seeds)])
        [piece] = [c.notes for c in continue_piece(model, primer, length=2048, seed=100 + k, controls=controls,
                                                    codec=codec)]
        notes, start = continuation(piece, primer)
        end = max([n.end for n in notes], default=start + 1)
        problems = metrics.degenerate(notes, start, end)
        if problems:
            broken.append({"run": k, "seed": seeds[k % len(seeds)].stem, "problems": problems})
    ratios = [p["last_over_first"] for p in pieces if p["last_over_first"] is not None]
    print(json.dumps({
        "benchmark": "long_form", "model": args.model or "bundled", "minutes": args.minutes,
        "controls": {"scale": args.scale, "density": args.density, "max_hold": args.max_hold},
        "min_last_over_first": min(ratios) if ratios else None,
        "mean_last_over_first": round(sum(ratios) / len(ratios), 3) if ratios else None,
        "max_onset_gap_s": max(p["longest_onset_gap_s"] for p in pieces),
        "seeds_with_gap_over_10s_not_in_primer": [p["seed"] for p in pieces if p["longest_onset_gap_s"] > 10
                                                  and p["primer_longest_gap_s"] <= 10],
        "degenerate_of_short": f"{len(broken)}/{args.short}", "degenerate_runs": broken, "pieces": pieces}))


if __name__ == "__main__":
    main()
