"""Real parts for the live tests: a JACK server on its dummy driver (no sound card), and MIDI
readers and keyboards as separate processes on its ports, the way a DAW or a synth would be.

A reader writes one JSON line per message it receives: the raw bytes and the monotonic time
of arrival (the same clock the player's --log-events uses, so the two line up).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

PERIOD = 1024          # frames per JACK cycle: 21 ms at 48 kHz. Without real-time scheduling, on a busy
#                        machine, a client that misses a short cycle loses that cycle's MIDI (an xrun);
#                        the tests want every message, the benchmark measures shorter cycles and counts xruns
RATE = 48000

READER = """
import json, sys, time, rtmidi
port, out = sys.argv[1], open(sys.argv[2], "w", buffering=1)
midi = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=sys.argv[3])
if port == "virtual":
    midi.open_virtual_port("in")
else:
    deadline = time.monotonic() + 60
    while port not in midi.get_ports():
        if time.monotonic() > deadline:
            sys.exit(f"no port {port} after 60 s: {midi.get_ports()}")
        time.sleep(0.05)
    midi.open_port(midi.get_ports().index(port), "in")
midi.ignore_types(sysex=True, timing=True, active_sense=True)
midi.set_callback(lambda m, _: out.write(json.dumps({"at": time.monotonic(), "bytes": m[0]}) + "\\n"))
print("ready", flush=True)
while True:
    time.sleep(1)
"""


def start_jack(name: str, period: int = PERIOD, log: Path | None = None) -> subprocess.Popen:
    """jackd with the dummy driver under its own server name; returns once it answers. Its
    messages (an xrun is one line each) go to `log`."""
    assert shutil.which("jackd"), "jackd2 is installed by scripts/install-system-packages.sh"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name)
    out = open(log, "w") if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", str(RATE),
                               "-p", str(period)], stdout=out, stderr=out, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if subprocess.run(["jack_lsp"], env=env, capture_output=True).returncode == 0:
            return server
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("jackd did not start")


def stop_jack(server: subprocess.Popen) -> None:
    """End a jackd from `start_jack`. Asked to stop while the machine is busy, the dummy driver
    can take longer than it should to leave; past 10 s it is killed, as nothing it holds matters."""
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(10)


def ports(env) -> list[str]:
    return subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True).stdout.split()


def wait_for_port(env, name: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while name not in ports(env):
        assert time.monotonic() < deadline, f"no JACK port {name} after {seconds} s: {ports(env)}"
        time.sleep(0.1)


def reader(env, port: str, record: Path, client: str = "reader") -> subprocess.Popen:
    """A MIDI reader on `port` (another program's output port, or 'virtual': one of its own)."""
    process = subprocess.Popen([sys.executable, "-c", READER, port, str(record), client], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout.readline().strip() == "ready", f"the reader found no port {port}"
    return process


def received(record: Path) -> list[dict]:
    return [json.loads(line) for line in record.read_text().splitlines() if line.strip()]


def left_sounding(messages: list[dict]) -> set[int]:
    """Pitches whose last word was a note-on, after all notes off (CC 123) is taken into account."""
    sounding: set[int] = set()
    for m in messages:
        status, data = m["bytes"][0] & 0xF0, m["bytes"][1:]
        if status == 0x90 and data[1] > 0:
            sounding.add(data[0])
        elif status == 0x80 or (status == 0x90 and data[1] == 0):
            sounding.discard(data[0])
        elif status == 0xB0 and data[0] == 123:
            sounding.clear()
    return sounding


def notes_on_without_off(messages: list[dict]) -> set[int]:
    """Pitches left sounding by note messages alone (not counting CC 123): the strict check."""
    return left_sounding([m for m in messages if m["bytes"][0] & 0xF0 != 0xB0])


KEYBOARD = """
import json, sys, time, rtmidi
keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="keyboard")
keys.open_virtual_port("out")
print("ready", flush=True)
for line in sys.stdin:
    for pitch, seconds in json.loads(line):
        keys.send_message([0x90, pitch, 80])
        time.sleep(seconds)
        keys.send_message([0x80, pitch, 0])
    print("played", flush=True)
"""


def keyboard(env) -> subprocess.Popen:
    """A keyboard on JACK (keyboard:out): write a JSON list of [pitch, seconds] and it plays them."""
    process = subprocess.Popen([sys.executable, "-c", KEYBOARD], env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout.readline().strip() == "ready"
    return process


def as_messages(log: list[dict], channel: int = 1) -> list[dict]:
    """The player's --log-events lines as the MIDI a reader would receive."""
    status = {"note_on": 0x90, "note_off": 0x80}
    return [{"at": e["sent"], "bytes": [status[e["kind"]] | (channel - 1), e["pitch"],
                                        e["velocity"] if e["kind"] == "note_on" else 0]} for e in log]


def heard_share(sent: list[dict], got: list[dict]) -> float:
    """The share of note messages sent after the reader's first one that the reader heard, in order
    (a JACK client that misses a cycle on a busy machine loses that cycle's input: an xrun)."""
    import difflib

    notes = [m for m in got if m["bytes"][0] & 0xF0 in (0x80, 0x90)]
    if not notes:
        return 0.0
    after = [m for m in sent if m["at"] >= notes[0]["at"] - 0.5]
    key = [tuple(m["bytes"][:2]) for m in after], [tuple(m["bytes"][:2]) for m in notes]
    matched = sum(size for *_, size in difflib.SequenceMatcher(None, *key, autojunk=False).get_matching_blocks())
    return matched / max(len(after), 1)
