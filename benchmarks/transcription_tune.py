"""Choose the clean-up's knobs on the transcription benchmark's tuning set only.

For each profile (pluck: the plucked tuning timbres; pad: the sustained ones), a
coordinate search: one knob at a time over a grid around its current value, kept when
the profile's objective (the mean of onset F1 at 50 ms and 150 ms, onset+offset F1 and
frame F1) improves on average and on no tuning condition (timbre + room) falls, for a few
rounds. Prints the settings to write into `PROFILES`. The held-out set is never read here.

    python benchmarks/transcription_tune.py pluck|pad [--from-defaults] [--start KEY=VALUE ...]
        [--knobs KEY,KEY] [--rounds 3] [--per-condition 10]

--start sets a knob before the search, which is how a new knob whose "off" value is 0
(a multiple of 0 is 0) enters it; --knobs searches only those knobs (a new step's own).
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import fields, replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from transcription import METRICS, note_scores  # noqa: E402
from transcription_corpus import TIMBRES, clips  # noqa: E402

from ambient.transcribe.cleanup import SETTINGS, AmbientCleanup  # noqa: E402
from ambient.transcribe.profiles import PROFILES  # noqa: E402

ROOT = Path(__file__).parents[1]
KIND = {"pluck": "plucked", "pad": "sustained"}
START = {f.name: f.default for f in fields(AmbientCleanup) if f.name in SETTINGS} | {"knee_ratio": 0.75}
STEPS = (0.6, 0.8, 0.9, 1.1, 1.25, 1.6)  # multiples of a knob's current value tried in a round


def condition_scores(settings, loaded, seconds: float) -> dict[str, np.ndarray]:
    """{condition (timbre + room): the mean of each of METRICS over its clips}."""
    by_condition: dict[str, list] = {}
    for condition, ref, post, audio in loaded:
        r = note_scores(ref, settings.notes(None, post, audio), seconds)
        by_condition.setdefault(condition, []).append([r[k] for k in METRICS])
    return {c: np.mean(rows, axis=0) for c, rows in by_condition.items()}


def objective(settings, loaded, seconds: float) -> dict[str, float]:
    """{condition: the mean of the four scores over its clips}."""
    return {c: float(np.mean(row)) for c, row in condition_scores(settings, loaded, seconds).items()}


def better(trial: dict, best: dict) -> bool:
    """A change is kept only if it helps on average and costs no tuning condition anything:
    a knob that helps one timbre or room at another's expense is fitting it, and will not
    carry over to sounds the search never heard. (Judged per timbre alone, a gain in a dry
    room paid for a loss in a hall.)"""
    gain = np.mean(list(trial.values())) - np.mean(list(best.values()))
    return gain > 1e-3 and all(trial[t] >= best[t] - 1e-3 for t in best)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", choices=list(KIND))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--from-defaults", action="store_true",
                        help="start from AmbientCleanup's defaults, not the profile as it stands")
    parser.add_argument("--start", action="append", default=[], metavar="KEY=VALUE",
                        help="set this knob before the search")
    parser.add_argument("--knobs", default="", metavar="KEY,KEY", help="search only these knobs")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--per-condition", type=int, default=10)
    parser.add_argument("--cache", type=Path, default=ROOT / "runs" / "transcription-benchmark")
    args = parser.parse_args()
    chosen = [c for c in clips(args.cache, "tuning", args.seconds, args.per_condition)
              if TIMBRES[c.timbre].kind == KIND[args.profile]]
    loaded = [(c.condition, c.reference, c.posteriors(), c.audio()) for c in chosen]
    best = replace(PROFILES[args.profile], **START) if args.from_defaults else PROFILES[args.profile]
    best = replace(best, **{k: float(v) for k, v in (item.split("=", 1) for item in args.start)})
    best_score = objective(best, loaded, args.seconds)
    print(f"start {best_score}", flush=True)
    knobs = [k for k in args.knobs.split(",") if k] or list(SETTINGS)
    unknown = set(knobs) - set(SETTINGS)
    if unknown:
        parser.error(f"no such knob: {', '.join(sorted(unknown))}")
    for _ in range(args.rounds):
        for knob in knobs:
            value = getattr(best, knob)
            for step in STEPS:
                trial = replace(best, **{knob: round(value * step, 4)})
                s = objective(trial, loaded, args.seconds)
                if better(s, best_score):
                    best, best_score = trial, s
                    print(f"{knob}={getattr(best, knob)} {best_score}", flush=True)
    print(json.dumps({"profile": args.profile, "objective": best_score, "settings": best.settings()}))


if __name__ == "__main__":
    main()
