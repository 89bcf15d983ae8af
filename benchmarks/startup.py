"""Start-up time of the `ambient` command, beside the interpreter's own.

Runs each command 5 times (after one warm-up) and reports the median wall time, with
`python -c pass` measured in the same run so a busy machine shows as a larger
baseline rather than a slower command. Also reports whether each command imported
torch. `ambient studio` is timed from launch until its page answers. Prints one JSON line.

    python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

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


def studio_ready_seconds(repeats: int) -> float:
    """Launch to first answered page request of `ambient studio`, median over repeats."""
    times = []
    with tempfile.TemporaryDirectory() as workspace:
        for _ in range(repeats + 1):  # the first warms the file cache
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            start = time.perf_counter()
            child = subprocess.Popen([sys.executable, "-m", "ambient", "studio", "-w", workspace, "--port", str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while True:
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                        break
                    except OSError:
                        if child.poll() is not None:
                            raise SystemExit("ambient studio exited before it answered")
                        time.sleep(0.01)
                times.append(time.perf_counter() - start)
            finally:
                child.terminate()
                child.wait()
    return statistics.median(times[1:])


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
    result["ambient studio (until the page answers)"] = {"median_s": round(studio_ready_seconds(args.repeats), 3)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
