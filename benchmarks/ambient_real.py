"""The yardstick: how a model continues real ambient music it never trained on.

`ambient eval` on the held-out artists of `../shared/ambient-real` (the split is fixed in
`yardstick.py`), twice: with eval's defaults (no controls) and with generate's defaults
(`--scale auto`). Held-out NLL by token type, every feature overlap, notes per minute
against the real continuation's, key fidelity with its ±, degenerate continuations.
One JSON line per setting, each naming the model and the side of the split.

    python benchmarks/ambient_real.py [--model DIR] [--side report|tune] [--takes 2] [--setting eval|generate]
"""

from __future__ import annotations

import argparse
import time

import torch

from yardstick import emit, figures, judge, read, yardstick_paths

from ambient.config import CONTINUATION
from ambient.controls import Controls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory (default: bundled)")
    parser.add_argument("--side", default="report", choices=("report", "tune"))
    parser.add_argument("--takes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--setting", choices=("both", "eval", "generate"), default="both")
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


if __name__ == "__main__":
    main()
