"""Choosing the fine-tune recipe for a small collection: held-out NLL after a fixed budget.

Each recipe (learning rate, context, batch, patience) fine-tunes the bundled model on the
same pieces for the same minutes, then the held-out NLL on the judged pieces is measured
(the fall against the bundled model's). Only NLL: it is what a recipe moves first, and it
costs seconds where a full `eval` costs minutes. Run it on a **tuning** artist's
collection (`yardstick.TUNE`), then report the chosen recipe with `collection.py` or
`collection_from_audio.py` on the others. One JSON line per recipe.

    python benchmarks/fine_tune_recipe.py LEARN_DIR JUDGED_DIR --minutes 3 \\
        --recipe lr=3e-4,context=1024 --recipe lr=1e-3,context=256
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from yardstick import emit, segments

from ambient.checkpoint import DEFAULT_MODEL_DIR, load_model, read_config
from ambient.config import ModelConfig, TrainConfig
from ambient.evaluate import read_pieces
from ambient.evaluate.likelihood import held_out_nll
from ambient.train import train

KEYS = {"lr": "learning_rate", "context": "context", "batch": "batch_size", "patience": "patience",
        "val_every": "val_every", "warmup": "warmup_steps"}


def nll(model_dir, pieces: list) -> float:
    model, card = load_model(model_dir)
    return held_out_nll(model, pieces, card.codec)["nats_per_token"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("learn", type=Path)
    parser.add_argument("judged", type=Path)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--recipe", action="append", default=[])
    parser.add_argument("--work", type=Path, default=Path("runs/recipes"))
    parser.add_argument("--base", default="default", help="The model each recipe fine-tunes (default: the bundled "
                                                          "one); the fall is still against the bundled model.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    judged = list(segments(read_pieces(args.judged)).values())
    base = nll(DEFAULT_MODEL_DIR, judged)
    shape = read_config(DEFAULT_MODEL_DIR if args.base == "default" else args.base).model.to_dict()
    for recipe in args.recipe or ["lr=3e-4"]:
        chosen = {KEYS[k]: json.loads(v) for k, v in (item.split("=") for item in recipe.split(","))}
        model_config = ModelConfig(**{**shape, **{k: v for k, v in chosen.items() if k == "context"}})
        cfg = TrainConfig(**{"steps": 100_000, "minutes": args.minutes, "val_every": 25, "warmup_steps": 10,
                             **{k: v for k, v in chosen.items() if k != "context"}})
        out = args.work / recipe.replace(",", "_").replace("=", "-")
        shutil.rmtree(out, ignore_errors=True)
        started = time.monotonic()
        summary = train(args.learn, out, model_config, cfg, init_from=args.base, log=lambda m: None)
        after = nll(out, judged)
        emit({"recipe": recipe, "base": str(args.base), "minutes": args.minutes, "steps": summary["steps"],
              "seconds": round(time.monotonic() - started, 1), "validation": [summary["initial_validation_loss"],
                                                                             summary["best_validation_loss"]],
              "nll_bundled": base, "nll_after": after, "nll_fall": round(1 - after / base, 4)})


if __name__ == "__main__":
    main()
