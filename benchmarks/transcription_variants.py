"""A profile and variants of it, side by side on the transcription benchmark's tuning set.

Where `transcription_tune.py` searches, this looks: each variant is the profile with some
settings changed, scored per condition (onset F1 at 50 and 150 ms, onset+offset F1, frame
F1) like the benchmark. `--restrikes` instead sorts the re-strikes the profile finds into
true ones (a reference note of that pitch starts within 50 ms) and false ones, and shows
how many of each reach a share of the strongest other pitch's onset of the moment (the
evidence for `restrike_share`). `--missed CONDITION` counts the reference notes the profile
finds no note for at all, how many of them basic-pitch finds, and how many peak under the
profile's `frame_high`. The held-out sets are never read here.

    python benchmarks/transcription_variants.py pluck settle8:knee_settle=0.8 floor:frame_low=0.2,min_note=0.1
    python benchmarks/transcription_variants.py pluck --restrikes --set restrike_share=0
    python benchmarks/transcription_variants.py pluck --missed sf-vibraphone+dry
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from transcription import METRICS  # noqa: E402
from transcription_corpus import TIMBRES, clips  # noqa: E402
from transcription_tune import KIND, condition_scores  # noqa: E402

from ambient.audio import TRANSCRIBER_RATE  # noqa: E402
from ambient.transcribe.cleanup import (LOWEST_PITCH, held_regions, rival_onsets, split_restrikes,  # noqa: E402
                                        strongest_two)
from ambient.transcribe.profiles import PROFILES  # noqa: E402

ROOT = Path(__file__).parents[1]
SHARES = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)


def parse(items: str) -> dict[str, float]:
    return {k: float(v) for k, v in (kv.split("=", 1) for kv in items.split(",") if kv)}


def restrike_shares(settings, chosen) -> None:
    """Per condition: true and false re-strikes, and the share of each under every SHARES limit."""
    found: dict[str, list[tuple[bool, float]]] = {}
    for c in chosen:
        post = c.posteriors()
        s = settings.for_file(post["note"])
        fps = 1 / float(np.median(np.diff(post["times"])))
        near = max(1, int(round(0.035 * fps)))
        (first, where), second = strongest_two(post["onset"])
        starts: dict[int, list[float]] = {}
        for n in c.reference:
            starts.setdefault(n.pitch, []).append(n.start)
        for b in range(post["note"].shape[1]):
            act, ons = post["note"][:, b], post["onset"][:, b]
            rival = rival_onsets((first, where), second, b)
            for a, e in held_regions(act, s, fps):
                for p in split_restrikes(act, ons, a, e, replace(s, restrike_share=0.0), fps):
                    true = any(abs(post["times"][p] - t) < 0.05 for t in starts.get(b + LOWEST_PITCH, []))
                    share = ons[p] / max(float(rival[max(0, p - near):p + near + 1].max()), 1e-3)
                    found.setdefault(c.condition, []).append((true, share))
    print("condition | true | false | " + " | ".join(f"under {x}: true lost, false removed" for x in SHARES))
    every = [row for rows in found.values() for row in rows]
    for name, rows in [*found.items(), ("all", every)]:
        true = np.array([v for t, v in rows if t])
        false = np.array([v for t, v in rows if not t])
        cells = [f"{np.mean(true < x) if true.size else 0:.3f}, {np.mean(false < x) if false.size else 0:.3f}"
                 for x in SHARES]
        print(f"{name} | {true.size} | {false.size} | " + " | ".join(cells))


def missed(settings, chosen, condition: str) -> None:
    """Reference notes of one condition that the profile misses whole, and why."""
    from ambient.transcribe import BasicPitchDefaults, BasicPitchModel

    model, count, by_basic_pitch, under_high = BasicPitchModel(threads=1), 0, 0, 0
    overlaps = lambda notes, r: any(n.pitch == r.pitch and n.start < r.end and n.end > r.start for n in notes)
    for c in (c for c in chosen if c.condition == condition):
        post, audio = c.posteriors(), c.audio()
        ours, theirs = settings.notes(None, post, audio), BasicPitchDefaults().notes(model, post, audio)
        high = settings.for_room(audio, TRANSCRIBER_RATE).for_file(post["note"]).frame_high
        for r in c.reference:
            if overlaps(ours, r):
                continue
            count += 1
            by_basic_pitch += overlaps(theirs, r)
            i, j = np.searchsorted(post["times"], [r.start, r.end])
            under_high += float(post["note"][i:j + 1, r.pitch - LOWEST_PITCH].max(initial=0)) < high
    print(f"{condition}: {count} reference notes missed whole; basic-pitch finds {by_basic_pitch} of them; "
          f"{under_high} peak under frame_high")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", choices=list(KIND))
    parser.add_argument("variants", nargs="*", metavar="NAME:KEY=VALUE,...")
    parser.add_argument("--set", default="", metavar="KEY=VALUE,...", help="change the profile itself first")
    parser.add_argument("--restrikes", action="store_true", help="the re-strike evidence instead of scores")
    parser.add_argument("--missed", metavar="CONDITION", help="the notes of one tuning condition missed whole")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--per-condition", type=int, default=10)
    parser.add_argument("--cache", type=Path, default=ROOT / "runs" / "transcription-benchmark")
    args = parser.parse_args()
    base = replace(PROFILES[args.profile], **parse(args.set))
    chosen = [c for c in clips(args.cache, "tuning", args.seconds, args.per_condition)
              if TIMBRES[c.timbre].kind == KIND[args.profile]]
    if args.restrikes:
        restrike_shares(base, chosen)
        return
    if args.missed:
        missed(base, chosen, args.missed)
        return
    loaded = [(c.condition, c.reference, c.posteriors(), c.audio()) for c in chosen]
    for item in ["base:", *args.variants]:
        name, _, changes = item.partition(":")
        table = condition_scores(replace(base, **parse(changes)), loaded, args.seconds)
        print(f"{name} {changes}  ({' | '.join(METRICS)})")
        for condition, row in table.items():
            print(f"  {condition:28s} " + " ".join(f"{v:.3f}" for v in row))
        print(f"  mean of conditions {np.mean([np.mean(r) for r in table.values()]):.4f}")


if __name__ == "__main__":
    main()
