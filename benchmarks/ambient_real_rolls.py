"""Piano rolls to look at: real ambient primers, their real continuation, and what each
model makes of them (eval's windows: 20 s of primer, 60 s after it), one PNG per piece
with a row per model. The pieces come from the yardstick's report side.

    python benchmarks/ambient_real_rolls.py OUT_DIR --model bundled --model runs/candA [--pieces 2]
                                            [--piece subtractivelad-01-throughthetrees.mid]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from yardstick import read, yardstick_paths

from ambient.checkpoint import load_model
from ambient.evaluate.report import window
from ambient.sampling import continue_piece

PRIMER, SECONDS = 20.0, 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", action="append", default=[])
    parser.add_argument("--pieces", type=int, default=2)
    parser.add_argument("--piece", action="append", default=[], help="also this report-side piece (file name)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pieces = read(yardstick_paths("report"))
    chosen = sorted(pieces)[::max(1, len(pieces) // args.pieces)][:args.pieces] + args.piece
    models = [(name, *load_model(None if name == "bundled" else name)) for name in args.model or ["bundled"]]
    args.out.mkdir(parents=True, exist_ok=True)
    for name in chosen:
        notes = pieces[name]
        first = min(n.start for n in notes)
        primer = window(notes, first, first + PRIMER)
        rows = [("real", window(notes, first, first + PRIMER + SECONDS))]
        for label, model, card in models:
            codec = card.codec
            [made] = [c.notes for c in continue_piece(model, primer, seconds=SECONDS, seed=args.seed, codec=codec)]
            rows.append((label, made))
        fig, axes = plt.subplots(len(rows), 1, figsize=(14, 2.6 * len(rows)), sharex=True, squeeze=False)
        for ax, (label, piece) in zip(axes[:, 0], rows):
            for n in piece:
                ax.barh(n.pitch, n.end - n.start, left=n.start, height=0.8, linewidth=0,
                        color="#4a6fb5" if n.start < PRIMER else "#d9962b")
            ax.axvline(PRIMER, color="#2a9d8f", linewidth=1)
            after = sum(1 for n in piece if n.start >= PRIMER)
            ax.set_title(f"{label}: {after} notes after the primer", loc="left", fontsize=10)
            ax.set_ylabel("pitch")
        axes[-1, 0].set_xlabel("seconds (primer in blue, continuation in amber)")
        axes[-1, 0].set_xlim(0, PRIMER + SECONDS)
        fig.suptitle(name)
        fig.tight_layout()
        path = args.out / (Path(name).stem + ".png")
        fig.savefig(path, dpi=80)
        plt.close(fig)
        print(path)


if __name__ == "__main__":
    main()
