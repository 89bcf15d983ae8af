"""The yardstick: how a model continues real ambient music it never trained on.

`ambient eval` on the held-out artists of `../shared/ambient-real` (the split is fixed in
`yardstick.py`), twice: with eval's defaults (no controls) and with generate's defaults
(`--scale auto`). Held-out NLL by token type, every feature overlap, notes per minute
against the real continuation's, key fidelity with its ±, degenerate continuations.
One JSON line per setting, each naming the model and the side of the split.

    python benchmarks/ambient_real.py [--model DIR] [--side report|tune] [--takes 2] [--setting eval|generate]
                                      [--per-piece FILE]

`--per-piece` also writes each piece's notes in the real continuation and in every take,
and its longest gap between onsets (a feature overlap is a whole set's; this says which
pieces pull it down).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from yardstick import emit, figures, judge, read, yardstick_paths

from ambient.config import CONTINUATION
from ambient.controls import Controls
from ambient.evaluate.report import takes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory (default: bundled)")
    parser.add_argument("--side", default="report", choices=("report", "tune"))
    parser.add_argument("--takes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--setting", choices=("both", "eval", "generate"), default="both")
    parser.add_argument("--per-piece", default=None, help="JSON lines file: each piece, real and taken")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pieces = read(yardstick_paths(args.side))
    settings = {"eval": ("eval defaults", Controls()),
                "generate": ("generate defaults", Controls(scale=CONTINUATION.scale))}
    for setting, controls in (settings.values() if args.setting == "both" else [settings[args.setting]]):
        started = time.monotonic()
        report = judge(args.model, pieces, takes=args.takes, controls=controls, device=args.device)
        emit({"benchmark": "ambient_real", "model": args.model or "bundled", "side": args.side, "setting": setting,
              "takes": args.takes, **figures(report), "seconds": round(time.monotonic() - started, 1)})
        if args.per_piece:
            with open(args.per_piece, "a") as out:
                for row in report["per_piece"]:
                    made = takes(row)
                    line = {"setting": setting, "piece": row["piece"], "real_notes": row["real"]["notes"],
                            "notes": [t["notes"] for t in made],
                            "real_longest_onset_gap": round(row["real"]["longest_onset_gap"], 2),
                            "longest_onset_gap": [round(t["longest_onset_gap"], 2) for t in made]}
                    out.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
