"""Live play, measured against real parts: `ambient stream --midi-out virtual --osc ...` for 10
minutes (by default) on one model thread, into a JACK server on its dummy driver, with a MIDI reader
in another process and an OSC listener in this one. Prints one JSON line:

- timing: when each event reached the reader (MIDI) or the listener (OSC) against when it was
  due (the player's --log-events), median, 99th percentile and worst, in ms; the JACK cycle
  (the resolution MIDI can arrive at) beside it;
- balance: note-ons and note-offs at the reader, and pitches left sounding at the end;
- answer: a phrase played on a JACK keyboard, from its last key up to the first note of the
  stream's answer at the reader (the phrase pause, 1 s, included);
- cost: the stream's CPU time over its wall time (the share of one core it takes), and
  its resident memory each minute.

    python benchmarks/live.py [--minutes 10] [--period 256]
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.jack import RATE, keyboard, notes_on_without_off, reader, received, start_jack, stop_jack  # noqa: E402

PHRASE = [[61, 0.3], [63, 0.3], [66, 0.3], [68, 0.3], [70, 0.6], [68, 0.3], [66, 0.6]]


def resident_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def spread(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"median_ms": round(float(np.median(a)), 2), "p99_ms": round(float(np.percentile(a, 99)), 2),
            "worst_ms": round(float(a.max()), 2), "events": int(len(a))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--period", type=int, default=256, help="JACK frames per cycle (256: 5.3 ms)")
    args = parser.parse_args()
    name, tmp = "ambient-bench", Path(tempfile.mkdtemp())
    server = start_jack(name, period=args.period, log=tmp / "jackd.log")
    try:
        figures = measure(dict(os.environ, JACK_DEFAULT_SERVER=name, OMP_NUM_THREADS="1"), args.minutes, tmp)
        figures["jack_cycle_ms"] = round(1000 * args.period / RATE, 2)
        figures["jack_xruns"] = sum("XRun" in line for line in (tmp / "jackd.log").read_text().splitlines())
        print(json.dumps(figures))
    finally:
        stop_jack(server)
        shutil.rmtree(tmp)


def measure(env: dict, minutes: float, tmp: Path) -> dict:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.5)
    osc_in: list[tuple[float, bytes]] = []

    def listen():
        while True:
            try:
                data = listener.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            osc_in.append((time.monotonic(), data))

    threading.Thread(target=listen, daemon=True).start()
    keys = keyboard(env)
    log, record = tmp / "events.jsonl", tmp / "midi.jsonl"
    run = subprocess.Popen([sys.executable, "-m", "ambient", "stream", "--midi-out", "virtual", "--osc",
                                  f"127.0.0.1:{listener.getsockname()[1]}", "--midi-in", "keyboard:out",
                                  "--phrase-pause", "1", "--minutes", str(minutes), "--threads", "1",
                                  "--log-events", str(log)],
                           env=env, stderr=subprocess.PIPE, text=True)
    while not log.exists():
        time.sleep(0.1)
    midi = reader(env, "ambient:out", record)
    rss, started = [], time.monotonic()
    phrase_done = None
    while True:
        pid, status, usage = os.wait4(run.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(1.0)
        elapsed = time.monotonic() - started
        if len(rss) < elapsed // 60 + 1:
            if (mb := resident_mb(run.pid)) == mb:      # not NaN: the stream still runs
                rss.append(round(mb, 1))
        if phrase_done is None and elapsed > min(120.0, minutes * 30):
            keys.stdin.write(json.dumps(PHRASE) + "\n")
            keys.stdin.flush()
            keys.stdout.readline()
            phrase_done = time.monotonic()
    wall = time.monotonic() - started
    err = run.stderr.read()
    time.sleep(0.5)
    midi.kill()
    keys.kill()
    listener.close()
    sent = [json.loads(line) for line in log.read_text().splitlines()]
    got = received(record)
    ons = [m for m in got if m["bytes"][0] & 0xF0 == 0x90 and m["bytes"][2] > 0]
    # line the reader's note-ons up with those sent after it joined; a note the reader never heard
    # (a JACK cycle its client missed) counts as lost
    sent_ons = [e for e in sent if e["kind"] == "note_on"]
    first = next((i for i, e in enumerate(sent_ons) if e["due"] >= ons[0]["at"] - 0.1), 0) if ons else 0
    window = sent_ons[first:]
    match = difflib.SequenceMatcher(None, [e["pitch"] for e in window], [m["bytes"][1] for m in ons], autojunk=False)
    pairs = [(window[a + k], ons[b + k]) for a, b, size in match.get_matching_blocks() for k in range(size)]
    midi_ms = [1000 * (m["at"] - e["due"]) for e, m in pairs]
    osc_ons = [(at, data) for at, data in osc_in if data.startswith(b"/ambient/note_on")]
    osc_ms = [1000 * (at - e["due"]) for (at, _), e in zip(osc_ons[-len(sent_ons):], sent_ons)]
    # the answer begins after the all-notes-off that clears the old course away
    cleared = next((m["at"] for m in got if phrase_done is not None and m["at"] > phrase_done
                    and m["bytes"][0] & 0xF0 == 0xB0 and m["bytes"][1] == 123), None)
    answer = [m["at"] for m in ons if cleared is not None and m["at"] > cleared]
    return {
        "minutes": minutes, "exit": os.waitstatus_to_exitcode(status),
        "midi_arrival_after_due": spread(midi_ms), "osc_arrival_after_due": spread(osc_ms),
        "sent_after_due": spread([1000 * (e["sent"] - e["due"]) for e in sent]),
        "note_ons_at_reader": len(ons), "note_ons_lost_at_reader": len(window) - len(pairs),
        "osc_note_ons_lost": len(sent_ons) - len(osc_ons),
        "note_offs_at_reader": sum(1 for m in got if m["bytes"][0] & 0xF0 == 0x80),
        "left_sounding": sorted(notes_on_without_off(got)),
        "answer_after_last_key_s": round(answer[0] - phrase_done, 2) if answer else None,
        "cpu_share_of_one_core": round((usage.ru_utime + usage.ru_stime) / wall, 3),
        "rss_mb_each_minute": rss, "summary": err.strip().splitlines()[-1] if err.strip() else "",
    }


if __name__ == "__main__":
    main()
