"""Render speed per preset on one core, and peak memory for a 60-minute render.

Speed: seconds of audio per second of compute for a 60 s piece, every preset in one run,
and for denser material (1, 5 and 20 notes a second, as transcriptions of real records
are) with `--dense`.
Memory: a child process renders 60 minutes with one preset; its peak resident set size
is read from the kernel. Prints one JSON line.

    python benchmarks/render_speed.py [--hour-preset stratosphere] [--minutes 60]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from ambient.notes import Note  # noqa: E402
from ambient.render import PRESETS, render  # noqa: E402


def piece(seconds: float) -> list[Note]:
    """Four-voice chords every 4 s with a line above: about 1.5 notes a second."""
    rng = np.random.default_rng(0)
    notes = []
    for t in np.arange(0, seconds - 4, 4.0):
        root = int(rng.choice([45, 48, 50, 52, 53, 55]))
        notes += [Note(t, t + 5.0, root + i, int(rng.integers(40, 90))) for i in (0, 7, 12, 16)]
        notes.append(Note(t + 1.0, t + 3.5, root + 24 + int(rng.integers(0, 8)), int(rng.integers(50, 100))))
    return notes


def dense_piece(seconds: float, per_second: float) -> list[Note]:
    """Notes at a steady rate, 0.5-4 s long, over three octaves: the texture of a transcription."""
    rng = np.random.default_rng(1)
    starts = np.sort(rng.uniform(0, seconds - 4, int(per_second * (seconds - 4))))
    return [Note(float(t), float(t + rng.uniform(0.5, 4.0)), int(rng.integers(45, 84)), int(rng.integers(40, 100)))
            for t in starts]


def hour_child(preset: str, minutes: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        report = render(piece(minutes * 60), os.path.join(tmp, "hour.flac"), preset)
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"audio_seconds": round(report.seconds, 1), "compute_seconds": round(seconds, 1),
                      "peak_rss_mb": round(peak_mb, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hour-preset", default="calm-and-storm")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dense", action="store_true", help="also 1, 5 and 20 notes a second, every preset")
    args = parser.parse_args()
    if args.child:
        return hour_child(args.hour_preset, args.minutes)
    speeds = {}
    notes = piece(60.0)
    with tempfile.TemporaryDirectory() as tmp:
        for name in PRESETS:
            start = time.perf_counter()
            report = render(notes, os.path.join(tmp, f"{name}.wav"), name)
            speeds[name] = round(report.seconds / (time.perf_counter() - start), 1)
        dense = {}
        for rate in ((1, 5, 20) if args.dense else ()):
            busy = dense_piece(30.0, rate)
            for name in PRESETS:
                start = time.perf_counter()
                report = render(busy, os.path.join(tmp, f"{name}-{rate}.wav"), name)
                dense.setdefault(f"{rate} notes/s", {})[name] = round(report.seconds / (time.perf_counter() - start), 1)
    child = subprocess.run([sys.executable, __file__, "--child", "--hour-preset", args.hour_preset,
                            "--minutes", str(args.minutes)], capture_output=True, text=True, check=True)
    hour = json.loads(child.stdout.strip().splitlines()[-1])
    print(json.dumps({"benchmark": "render_speed", "threads": 1, "realtime_factor": speeds, "dense": dense,
                      "slowest": min(speeds.values()), "long_render": {"preset": args.hour_preset,
                                                                       "minutes": args.minutes, **hour}}))


if __name__ == "__main__":
    main()
