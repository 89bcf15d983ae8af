"""Scale-out: transcription of the same files with the process pool and on Ray, in one run.

One local Ray cluster (loopback, as many CPUs as asked) serves every Ray figure; its
workers are warmed first (each loads the transcription model once, as in a long run),
so the 1- and 2-worker runs differ only in datums in flight. Also measured: the
per-datum overhead of Ray against the process pool on a stage that does nothing.
Prints one JSON line.

    python benchmarks/pipeline_scale.py [--files 20] [--seconds 20] [--cpus 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from ambient.pipeline import Workspace, run
from ambient.pipeline.stages import SOURCE_REPO, Stage, transcribe_stage

RATE = 22050


def piece(path: Path, seed: int, seconds: float) -> None:
    """Plucked notes, two a second, of random pitch: work the transcriber must really do."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    audio = np.zeros_like(t)
    for start in np.arange(0, seconds - 0.5, 0.5):
        f = 220 * 2 ** (int(rng.integers(0, 24)) / 12)
        audio += 0.2 * (t >= start) * np.exp(-np.clip(t - start, 0, None) * 3) * np.sin(2 * np.pi * f * t)
    sf.write(str(path), audio / max(1.0, np.abs(audio).max()), RATE)


def transcribe_all(root: Path, wavs: list[Path], executor: str, workers: int) -> float:
    ws = Workspace.init(root)
    for wav in wavs:  # decoded already: the transcribe stage reads them straight from the source repo
        (ws.repo(SOURCE_REPO) / wav.name).write_bytes(wav.read_bytes())
    stage = Stage("transcribe", 1, SOURCE_REPO, "midi", "map", transcribe_stage, accepts=(".wav",))
    start = time.perf_counter()
    report = run(ws, [stage], executor=executor, workers=workers)["transcribe"]
    seconds = time.perf_counter() - start
    assert report.processed == len(wavs) and not report.failed, report.failed
    return seconds


def nothing(inputs, out, params, context):
    (out / inputs[0].name).write_bytes(b"")


def overhead(root: Path, datums: int, executor: str, workers: int) -> float:
    ws = Workspace.init(root)
    for i in range(datums):
        (ws.repo(SOURCE_REPO) / f"f{i:04d}.dat").write_text(str(i))
    start = time.perf_counter()
    report = run(ws, [Stage("nothing", 1, SOURCE_REPO, "out", "map", nothing)], executor=executor,
                 workers=workers)["nothing"]
    assert report.processed == datums
    return 1000 * (time.perf_counter() - start) / datums


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--datums", type=int, default=200, help="for the per-datum overhead")
    args = parser.parse_args()
    import ray

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "wavs").mkdir()
        wavs = []
        for i in range(args.files):
            wavs.append(tmp / "wavs" / f"piece{i:02d}.wav")
            piece(wavs[-1], i, args.seconds)
        process = transcribe_all(tmp / "process", wavs, "process", args.cpus)
        ray.init(num_cpus=args.cpus, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
                 logging_level="ERROR")
        transcribe_all(tmp / "warm", wavs[:args.cpus * 2], "ray", args.cpus)  # every worker loads the model
        one = transcribe_all(tmp / "ray1", wavs, "ray", 1)
        two = transcribe_all(tmp / "ray2", wavs, "ray", args.cpus)
        ray_ms = overhead(tmp / "ray-overhead", args.datums, "ray", args.cpus)
        ray.shutdown()
        process_ms = overhead(tmp / "process-overhead", args.datums, "process", args.cpus)
    audio = args.files * args.seconds
    print(json.dumps({
        "benchmark": "pipeline_scale", "files": args.files, "seconds_of_audio": audio, "cpus": args.cpus,
        "transcribe_seconds": {"process_pool": round(process, 2), "ray_1_worker": round(one, 2),
                               f"ray_{args.cpus}_workers": round(two, 2)},
        "speed_up_ray": round(one / two, 2), "ray_against_process_pool": round(two / process, 2),
        "real_time_factor_ray": round(audio / two, 1),
        "ms_per_empty_datum": {"process_pool": round(process_ms, 2), "ray": round(ray_ms, 2)},
        "targets": {"speed_up_ray": 1.7}}))


if __name__ == "__main__":
    main()
