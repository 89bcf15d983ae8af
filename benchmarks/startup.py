"""Start-up time of the `ambient` command, beside the interpreter's own.

Runs each command 5 times (after one warm-up) and reports the median wall time, with
`python -c pass` measured in the same run so a busy machine shows as a larger
baseline rather than a slower command. Also reports whether each command imported
torch. Prints one JSON line.

    python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "ambient --help": [sys.executable, "-m", "ambient", "--help"],
    "ambient seeds": [sys.executable, "-m", "ambient", "seeds"],
    "ambient instruments": [sys.executable, "-m", "ambient", "instruments"],
    "ambient pipeline --help": [sys.executable, "-m", "ambient", "pipeline", "--help"],
}

TORCH_PROBE = ("import sys, runpy; sys.argv = ['ambient', {arg}]\n"
               "try:\n    runpy.run_module('ambient', run_name='__main__')\nexcept SystemExit:\n    pass\n"
               "sys.stderr.write('TORCH=%s' % ('torch' in sys.modules))")


def median_seconds(argv: list[str], repeats: int) -> float:
    subprocess.run(argv, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def imports_torch(argv: list[str]) -> bool | None:
    if argv[1:3] != ["-m", "ambient"]:
        return None
    args = ", ".join(repr(a) for a in argv[3:])
    result = subprocess.run([sys.executable, "-c", TORCH_PROBE.format(arg=args)], capture_output=True, text=True)
    return "TORCH=True" in result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    result = {"benchmark": "startup", "repeats": args.repeats}
    for name, argv in COMMANDS.items():
        result[name] = {"median_s": round(median_seconds(argv, args.repeats), 3), "imports_torch": imports_torch(argv)}
    baseline = result["python -c pass"]["median_s"]
    for name in COMMANDS:
        result[name]["over_python_s"] = round(result[name]["median_s"] - baseline, 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
