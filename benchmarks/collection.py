"""A collection's style: the bundled model fine-tuned on one artist's pieces with the
pipeline's own train-stage defaults (time budget, every core, early stopping), judged on
that artist's other pieces, before and after.

The pieces are MIDI transcriptions already (`../shared/ambient-real`); the split is
`yardstick.collection_split`. Pieces are cut to their first `--seconds` (a user's tracks,
as `collection_from_audio.py` renders them). One JSON line per artist: NLL before and
after and its fall, every feature overlap before and after, wall time. Models are
written under `--work` and may be thrown away (never ship one: see the set's README).

    python benchmarks/collection.py [--artists rudyadrian,deuter] [--minutes auto] [--work runs/collection]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from yardstick import COLLECTIONS, collection_split, emit, figures, judge, read, segments

from ambient.checkpoint import DEFAULT_MODEL_DIR
from ambient.config import ModelConfig, TrainConfig
from ambient.midi import write_midi
from ambient.pipeline.stages import DEFAULT_PARAMS, train_budget
from ambient.train import train


def cut(notes: list, seconds: float) -> list:
    from ambient.notes import Note

    return [Note(n.start, min(n.end, seconds), n.pitch, n.velocity, n.program) for n in notes if n.start < seconds]


def fine_tune(learn: dict, work: Path, overrides: dict) -> tuple[Path, dict]:
    """The pipeline's train stage on these pieces (as MIDI), its defaults under `overrides`."""
    data = work / "data"
    shutil.rmtree(work, ignore_errors=True)
    for name, notes in learn.items():
        write_midi(data / name, notes)
    params, why = train_budget({**DEFAULT_PARAMS["train"], **overrides}, len(learn))
    torch.set_num_threads(params["threads"])
    base = ModelConfig.from_dict(json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())["model"])
    model_config = ModelConfig(**{**base.to_dict(), "context": params["context"]})
    cfg = TrainConfig(**{k: v for k, v in params.items() if k in TrainConfig.__dataclass_fields__})
    summary = train(data, work / "model", model_config, cfg, init_from="default", log=lambda m: None)
    return work / "model", {"chose": why, "steps": summary["steps"], "stopped_early": summary["stopped_early"],
                            "validation_before": summary["initial_validation_loss"],
                            "validation_after": summary["best_validation_loss"]}


def compare(artist: str, before: dict, after: dict, **extra) -> dict:
    return {"artist": artist, **extra,
            "nll_before": before["nll"], "nll_after": after["nll"],
            "nll_fall": round(1 - after["nll"] / before["nll"], 4),
            "overlap_before": before["overlap"], "overlap_after": after["overlap"],
            "notes_per_minute": {"real": after["real_notes_per_minute"], "before": before["notes_per_minute"],
                                 "after": after["notes_per_minute"]},
            "key_fidelity": {"before": [before["key_fidelity"], before["key_fidelity_sem"]],
                             "after": [after["key_fidelity"], after["key_fidelity_sem"]]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artists", default=",".join(COLLECTIONS))
    parser.add_argument("--minutes", default="auto")
    parser.add_argument("--threads", default="auto")
    parser.add_argument("--seconds", type=float, default=150.0, help="each piece cut to its first seconds")
    parser.add_argument("--takes", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="another train param, KEY=VALUE (JSON)")
    parser.add_argument("--work", type=Path, default=Path("runs/collection"))
    args = parser.parse_args()
    overrides = {"minutes": args.minutes if args.minutes == "auto" else float(args.minutes),
                 "threads": args.threads if args.threads == "auto" else int(args.threads)}
    overrides.update({k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)})
    for artist in args.artists.split(","):
        learn_paths, judged_paths = collection_split(artist)
        learn = {name: cut(notes, args.seconds) for name, notes in read(learn_paths).items()}
        judged = segments(read(judged_paths))
        started = time.monotonic()
        model, training = fine_tune(learn, args.work / artist, overrides)
        trained = time.monotonic() - started
        before = figures(judge(None, judged, takes=args.takes))
        after = figures(judge(model, judged, takes=args.takes))
        emit(compare(artist, before, after, learnt_from=len(learn), judged=len(judged_paths), windows=len(judged),
                     settings=overrides, training=training, train_seconds=round(trained, 1)))


if __name__ == "__main__":
    main()
