"""Transcription quality on sound the clean-up was not tuned on, beside basic-pitch's defaults.

Known notes are played in fourteen timbres under seven rooms (`transcription_corpus.py`),
written as MP3 and decoded. The conditions fall in a tuning set and two held-out sets
that share no timbre and no reverb algorithm with it or each other; every knob of the
clean-up is chosen on the tuning set (`transcription_tune.py`) and the held-out figures
are the ones to quote. The second held-out set was built after the first had been read
eight times, so it is the one no choice has seen. Both methods
note-create from the same model activations; ours picks its profile (pluck or pad) from
each clip's sound, and the table says how it heard each condition. Scores are mir_eval's note F1 (onset within
50 ms and 150 ms; onset within 50 ms and offset within 20 % of the note or 50 ms) and
frame F1 on a 10 ms grid, averaged over the clips of a condition. Prints a table per
split and one JSON line.

    python benchmarks/transcription.py [--split tuning|held-out|held-out-2|all] [--per-condition 10]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from transcription_corpus import SPLITS, TIMBRES, clips  # noqa: E402

from ambient.audio import TRANSCRIBER_RATE, decode  # noqa: E402
from ambient.notes import Note  # noqa: E402
from ambient.transcribe import BasicPitchDefaults, BasicPitchModel  # noqa: E402
from ambient.transcribe.profiles import AutoCleanup  # noqa: E402
from ambient.transcribe.sound import DRY_FALL_DB, choose_profile, room_fall  # noqa: E402

ROOT = Path(__file__).parents[1]
METHODS = {"basic-pitch defaults": BasicPitchDefaults(), "ours": AutoCleanup("auto")}
METRICS = ("onset_f1_50ms", "onset_f1_150ms", "onset_offset_f1", "frame_f1")


def frame_f1(ref: list[Note], est: list[Note], seconds: float, step: float = 0.01) -> float:
    def roll(notes):
        r = np.zeros((int(seconds / step) + 1, 128), bool)
        for n in notes:
            r[int(n.start / step):max(int(n.start / step) + 1, int(min(n.end, seconds) / step)), n.pitch] = True
        return r
    a, b = roll(ref), roll(est)
    tp = (a & b).sum()
    return float(2 * tp / max(a.sum() + b.sum(), 1))


def note_scores(ref: list[Note], est: list[Note], seconds: float) -> dict:
    import mir_eval

    def arrays(notes):
        if not notes:
            return np.zeros((0, 2)), np.zeros(0)
        return (np.array([[n.start, max(n.end, n.start + 0.01)] for n in notes]),
                np.array([440.0 * 2 ** ((n.pitch - 69) / 12) for n in notes]))
    (ri, rp), (ei, ep) = arrays(ref), arrays(est)
    f = mir_eval.transcription.precision_recall_f1_overlap
    return {"onset_f1_50ms": f(ri, rp, ei, ep, onset_tolerance=0.05, offset_ratio=None)[2],
            "onset_f1_150ms": f(ri, rp, ei, ep, onset_tolerance=0.15, offset_ratio=None)[2],
            "onset_offset_f1": f(ri, rp, ei, ep, onset_tolerance=0.05, offset_ratio=0.2)[2],
            "frame_f1": frame_f1(ref, est, seconds)}


def score(clip_list, methods: dict, seconds: float, model) -> dict:
    """{condition: {method: {metric: mean}}} over the clips, and 'realtime' of the clean-ups."""
    rows: dict = {}
    plucked: dict = {}  # condition: how many of its clips the auto profile heard as plucked
    falls: dict = {}    # condition: how far each clip's sound falls in half a second (sound.room_fall)
    for clip in clip_list:
        audio, post = clip.audio(), clip.posteriors()
        plucked[clip.condition] = plucked.get(clip.condition, 0) + (choose_profile(audio, TRANSCRIBER_RATE) == "pluck")
        falls.setdefault(clip.condition, []).append(room_fall(audio, TRANSCRIBER_RATE))
        for name, method in methods.items():
            est = method.notes(model, post, audio)
            rows.setdefault(clip.condition, {}).setdefault(name, []).append(note_scores(clip.reference, est, seconds))
    table = {cond: {m: {k: round(float(np.mean([r[k] for r in rs])), 3) for k in METRICS} for m, rs in by.items()}
             for cond, by in rows.items()}
    for cond in table:
        table[cond]["auto profile: plucked clips"] = plucked[cond]
        table[cond]["room fall dB: min, max"] = [round(min(falls[cond])), round(max(falls[cond]))]
    return table


def summary(table: dict, split: str) -> dict:
    """The figures the issue asks for, from one split's table."""
    def mean(method, metric, keep):
        vals = [by[method][metric] for cond, by in table.items() if keep(*cond.split("+"))]
        return round(float(np.mean(vals)), 3) if vals else None
    out = {}
    for method in [m for m in next(iter(table.values())) if m in METHODS]:
        out[method] = {
            "plucked dry, onset F1 50 ms": mean(method, "onset_f1_50ms",
                                                lambda t, r: TIMBRES[t].kind == "plucked" and r == "dry"),
            "sustained in a hall, onset F1 150 ms": mean(method, "onset_f1_150ms",
                                                         lambda t, r: TIMBRES[t].kind == "sustained" and "hall" in r),
            "under reverb, onset+offset F1": mean(method, "onset_offset_f1", lambda t, r: r != "dry"),
            "all, onset F1 50 ms": mean(method, "onset_f1_50ms", lambda t, r: True),
            "all, frame F1": mean(method, "frame_f1", lambda t, r: True),
        }
    return out


def print_table(table: dict, split: str) -> None:
    print(f"\n{split}: timbre + reverb | method | " + " | ".join(METRICS))
    for cond in sorted(table, key=lambda c: [s for s in SPLITS[split]].index(tuple(c.split("+")))):
        for method in METHODS:
            figures = table[cond][method]
            print(f"{cond:28s} {method:22s} " + " ".join(f"{figures[k]:.3f}" for k in METRICS))
        low, high = table[cond]["room fall dB: min, max"]
        print(f"{cond:28s} heard as plucked: {table[cond]['auto profile: plucked clips']} clips; "
              f"falls {low}-{high} dB in half a second (dry at {DRY_FALL_DB:g})")


def speed(clip_list, method, count: int = 6) -> float:
    """Seconds of audio per second of one core: decode, the model and the clean-up."""
    model = BasicPitchModel(threads=1)
    audio_seconds = compute = 0.0
    for clip in clip_list[:count]:
        start = time.perf_counter()
        audio = decode(clip.mp3)
        method.notes(model, model.posteriors(audio), audio)
        compute += time.perf_counter() - start
        audio_seconds += len(audio) / TRANSCRIBER_RATE
    return round(audio_seconds / compute, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="all", choices=[*SPLITS, "all"])
    parser.add_argument("--per-condition", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--cache", type=Path, default=ROOT / "runs" / "transcription-benchmark")
    args = parser.parse_args()
    model = BasicPitchModel(threads=1)
    result = {"benchmark": "transcription", "seconds_each": args.seconds, "per_condition": args.per_condition}
    for split in (list(SPLITS) if args.split == "all" else [args.split]):
        clip_list = clips(args.cache, split, args.seconds, args.per_condition, model)
        table = score(clip_list, METHODS, args.seconds, model)
        print_table(table, split)
        result[split] = {"conditions": table, "summary": summary(table, split)}
        print(json.dumps(result[split]["summary"], indent=1))
    result["realtime_factor_one_core"] = speed(clip_list, METHODS["ours"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
