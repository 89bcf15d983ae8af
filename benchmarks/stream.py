"""An endless stream, measured: an hour (by default) of `ambient stream` into an OGG file
on one thread, with the real-time factor, resident memory at minute 5 and at the end,
and the music's own guard-rail figures for every 10-minute stretch (onset rate against
the seed's, pitch range, longest silence, loop share). Prints one JSON line.

    python benchmarks/stream.py [--minutes 60] [--primer 1] [--instrument stratosphere]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from ambient.checkpoint import load_model  # noqa: E402
from ambient.controls import Controls  # noqa: E402
from ambient.evaluate.metrics import longest_silence, loop_share  # noqa: E402
from ambient.midi import read_midi  # noqa: E402
from ambient.seeds import resolve_primer  # noqa: E402
from ambient.render.sinks import FileSink  # noqa: E402
from ambient.stream import Composer, Performer, stream  # noqa: E402


def resident_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--primer", default="1")
    parser.add_argument("--instrument", default="stratosphere")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, _ = load_model()
    composer = Composer(model, read_midi(resolve_primer(args.primer)), controls=Controls(scale="auto", density="auto"))
    memory: dict[str, float] = {}

    def watch(report):
        if report.seconds >= 300 and "minute_5_mb" not in memory:
            memory["minute_5_mb"] = round(resident_mb(), 1)

    notes: list = []
    with tempfile.TemporaryDirectory() as tmp:
        report = stream(composer, Performer(args.instrument), FileSink(os.path.join(tmp, "radio.ogg"), 44100),
                        minutes=args.minutes, on_block=watch, notes_out=notes)
    memory["end_mb"] = round(resident_mb(), 1)
    stretches = []
    for start in range(0, int(args.minutes * 60), 600):
        inside = [n for n in notes if start <= n.start < start + 600]
        pitches = [n.pitch for n in inside]
        stretches.append({"minutes": f"{start // 60}-{start // 60 + 10}", "notes_per_s": round(len(inside) / 600, 3),
                          "pitch_range": [min(pitches), max(pitches)] if pitches else None,
                          "longest_silence_s": round(longest_silence(notes, start, min(start + 600, report.seconds)), 1),
                          "loop_share": round(loop_share(inside), 3)})
    print(json.dumps({"benchmark": "stream", "threads": 1, "minutes": args.minutes, "primer": args.primer,
                      "seed_notes_per_s": round(composer.seed_rate, 3), "audio_seconds": round(report.seconds, 1),
                      "compute_seconds": round(report.wall, 1), "realtime_factor": round(report.realtime, 1),
                      "reprimed": report.reprimed, **memory, "stretches": stretches}))


if __name__ == "__main__":
    main()
