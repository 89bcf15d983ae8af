"""Train a model on a GPU in one prepared run, where only torch, numpy and safetensors are.

The device machine lent to a session has torch with CUDA, numpy and safetensors (its
image's package list) and nothing else of ours; our CLI imports the audio stack. So the
run is cut in two:

- here, with the full install, `pack` writes every MIDI file under a folder as a token
  file (`.npy`, the codec's own form, same relative paths), so the data travels small
  and the GPU machine neither needs a MIDI library nor spends its minutes parsing;
- there, `train` runs `ambient.train.train` on CUDA (bf16 autocast) for a wall-clock
  budget and writes the best model, `config.json` and `model.safetensors` (14 MB at the
  bundled shape), into the output folder, plus one JSON line. The optimizer's checkpoint
  stays in a scratch folder in the temp folder, so nothing that comes back is over the
  16 MB a file the device allows (`model_mb` in the line says what the model weighs: a
  shape much larger than the bundled one will not come back whole).

    python scripts/train_on_gpu.py pack runs/mix runs/mix-tokens              # here
    PYTHONPATH=src python3 scripts/train_on_gpu.py train runs/mix-tokens $OUT/prior \\
        --minutes 8 --from default --batch 64                                  # there

On a CPU it runs the same (`--device cpu`), which is how the tests hold it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ambient.errors import AmbientError

KEPT = ("config.json", "model.safetensors")   # the model directory, without the resumable checkpoint


def pack(source: Path, dest: Path) -> int:
    """Every MIDI file under source as a token file under dest; a bad file is named and skipped."""
    from ambient.codec import encode_piece, write_tokens
    from ambient.midi import read_midi

    if not source.is_dir():
        raise AmbientError(f"{source}: no such folder")
    written = 0
    for path in sorted(p for p in source.rglob("*") if p.suffix.lower() in (".mid", ".midi")):
        try:
            notes = read_midi(path)
        except (AmbientError, ValueError, OSError) as error:
            print(f"skipped {path}: {error}", file=sys.stderr)
            continue
        if notes:
            target = dest / path.relative_to(source).with_suffix(".npy")
            target.parent.mkdir(parents=True, exist_ok=True)
            write_tokens(target, encode_piece(notes))
            written += 1
    return written


def train(data: Path, out: Path, args: argparse.Namespace) -> dict:
    """The best model in out (KEPT files only) and the run's summary."""
    from ambient.config import ModelConfig, TrainConfig
    from ambient.train import model_shape, train as run

    asked = ModelConfig(context=args.context, n_layer=args.layers, d_model=args.d_model, n_head=args.heads)
    chosen = {"context"} | ({"n_layer", "d_model", "n_head"} if args.init_from is None else set())
    shape = model_shape(asked, args.init_from, chosen)
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch, minutes=args.minutes, val_every=args.val_every,
                      learning_rate=args.learning_rate, warmup_steps=args.warmup, patience=args.patience)
    scratch = args.scratch or Path(tempfile.gettempdir()) / f"{out.name}.run"
    if scratch.exists():
        raise AmbientError(f"{scratch}: left by another run; move it away or pass another --scratch")
    start = time.perf_counter()
    summary = run(data, scratch, shape, cfg, device=args.device, init_from=args.init_from,
                  log=lambda line: print(line, file=sys.stderr))
    out.mkdir(parents=True, exist_ok=True)
    for name in KEPT:
        shutil.copy2(scratch / name, out / name)
    return {"benchmark": "train_on_gpu", "device": args.device, "seconds": round(time.perf_counter() - start, 1),
            "steps": summary["steps"], "batch": args.batch, "context": args.context,
            "layers": shape.n_layer, "d_model": shape.d_model, "from": args.init_from,
            "validation_before": summary.get("initial_validation_loss"),
            "validation_best": summary["best_validation_loss"], "run_folder": str(scratch),
            "model_mb": round((out / "model.safetensors").stat().st_size / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="MIDI files -> token files (here, with the full install)")
    p.add_argument("source", type=Path)
    p.add_argument("dest", type=Path)
    t = sub.add_parser("train", help="train on token files (there: torch, numpy, safetensors)")
    t.add_argument("data", type=Path)
    t.add_argument("out", type=Path)
    t.add_argument("--from", dest="init_from", default=None, help="a model folder or 'default' (fine-tune)")
    t.add_argument("--device", default="cuda")
    t.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget for training")
    t.add_argument("--steps", type=int, default=100_000, help="at most this many steps")
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--context", type=int, default=1024)
    t.add_argument("--layers", type=int, default=4)
    t.add_argument("--d-model", type=int, default=256)
    t.add_argument("--heads", type=int, default=8)
    t.add_argument("--learning-rate", type=float, default=None)
    t.add_argument("--warmup", type=int, default=50)
    t.add_argument("--val-every", type=int, default=100)
    t.add_argument("--patience", type=int, default=0)
    t.add_argument("--scratch", type=Path, default=None,
                   help="the run's own folder, with the optimizer checkpoint (default: in the temp folder)")
    args = parser.parse_args()
    try:
        if args.command == "pack":
            print(json.dumps({"packed": pack(args.source, args.dest), "into": str(args.dest)}))
        else:
            print(json.dumps(train(args.data, args.out, args)))
    except AmbientError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
