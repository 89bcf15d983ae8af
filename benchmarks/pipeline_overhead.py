"""Runner overhead: a trivial map stage over 10,000 datums.

Measures, in one run: the time per processed datum when the work itself is nothing
(hashing, scratch, rename, one SQLite transaction), for the serial and process
executors, and the time per skipped datum on a no-op rerun. Prints one JSON line.

    python benchmarks/pipeline_overhead.py [--datums 10000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from ambient.pipeline import Workspace, run
from ambient.pipeline.stages import SOURCE_REPO, Stage


def echo(inputs, out, params, context):
    [source] = inputs
    (out / f"{source.stem}.txt").write_bytes(source.read_bytes())


STAGE = Stage("echo", 1, SOURCE_REPO, "echoed", "map", echo)


def measure(root: Path, datums: int, executor: str) -> dict:
    ws = Workspace.init(root)
    for i in range(datums):
        (ws.repo(SOURCE_REPO) / f"f{i:05d}.dat").write_text(str(i))
    start = time.perf_counter()
    first = run(ws, [STAGE], executor=executor, workers=2)["echo"]
    processed = time.perf_counter() - start
    start = time.perf_counter()
    second = run(ws, [STAGE], executor=executor)["echo"]
    skipped = time.perf_counter() - start
    assert first.processed == datums and second.skipped == datums and second.processed == 0
    return {"ms_per_processed_datum": round(1000 * processed / datums, 3),
            "ms_per_skipped_datum": round(1000 * skipped / datums, 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datums", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        serial = measure(Path(tmp) / "serial", args.datums, "serial")
        process = measure(Path(tmp) / "process", args.datums, "process")
    print(json.dumps({"benchmark": "pipeline_overhead", "datums": args.datums, "serial": serial,
                      "process": process, "targets_ms": {"skipped": 0.2, "processed": 5}}))


if __name__ == "__main__":
    main()
