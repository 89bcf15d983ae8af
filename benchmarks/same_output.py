"""Does a change keep every output the same? The same seeds through two versions of the code.

A refactor should change no music: this runs `generate` (plain, with variations, with every
control), `eval` (two settings), the stream's first two minutes (plain and on a journey)
and two studio takes plus a continuation, once with the code at `--base` (a git revision,
checked out into a temporary worktree) and once with the working tree, each from its own
`src/` with this Python, and compares the files byte for byte (studio MIDI without its
marker, which holds the time of day). Prints one JSON line per output and a summary line.

    python benchmarks/same_output.py --base HEAD~3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [
    ["generate", "-p", "1", "-o", "{out}/g1.mid", "--seconds", "30", "--seed", "3"],
    ["generate", "-p", "2", "-o", "{out}/g2.mid", "--seconds", "20", "--seed", "5", "--variations", "3",
     "--scale", "none", "--primer-seconds", "10"],
    ["generate", "-p", "4", "-o", "{out}/g3.mid", "--length", "300", "--seed", "1", "--density", "2",
     "--max-polyphony", "3", "--range", "48-72", "--scale", "D dorian", "--top-k", "20"],
    ["generate", "-p", "6", "-o", "{out}/g4.mid", "--seconds", "40", "--seed", "2", "--density", "auto",
     "--key-pull", "1.0", "--temperature", "0.8"],
    ["eval", "{held}", "-o", "{out}/eval.json", "--pieces", "3", "--primer-seconds", "10", "--seconds", "15",
     "--takes", "2", "--seed", "1"],
    ["eval", "{held}", "-o", "{out}/eval2.json", "--pieces", "2", "--primer-seconds", "10", "--seconds", "10",
     "--seed", "2", "--scale", "auto"],
    ["stream", "-p", "3", "-o", "{out}/stream.wav", "--minutes", "2", "--seed", "4", "--save-midi",
     "{out}/stream.mid"],
    ["stream", "-p", "5", "-o", "{out}/journey.wav", "--minutes", "1", "--seed", "1", "--journey", "0.5",
     "--density", "2", "--save-midi", "{out}/journey.mid"],
]
STUDIO = """
import sys, time, mido
from pathlib import Path
from fastapi.testclient import TestClient
from ambient.studio.app import create_app
out = Path(sys.argv[1])

def made(client, body):
    job = client.post("/api/takes", json=body).json()
    while (state := client.get(f"/api/jobs/{job['id']}").json())["state"] not in ("done", "failed", "cancelled"):
        time.sleep(0.2)
    assert state["state"] == "done", state
    return state["result"]["takes"]

def keep(client, take, name):
    path = out / name
    path.write_bytes(client.get(f"/api/takes/{take}/download.mid").content)
    midi = mido.MidiFile(path)
    for track in midi.tracks:
        track[:] = [m for m in track if not (m.is_meta and m.type == "marker")]
    midi.save(path)

with TestClient(create_app(out / "ws"), base_url="http://127.0.0.1:8765") as client:
    takes = made(client, {"primer": "seed:2", "seconds": 12, "seed": 7, "variations": 2, "density": "2"})
    for i, take in enumerate(takes):
        keep(client, take, f"studio{i}.mid")
    [again] = made(client, {"primer": "take:" + takes[0], "seconds": 8, "seed": 9})
    keep(client, again, "studio-continued.mid")
"""


def outputs(src: Path, out: Path, held: Path) -> dict[str, str]:
    """Run everything with the package in `src`; sha256 of each file written."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    for command in COMMANDS:
        argv = [a.format(out=out, held=held) for a in command]
        subprocess.run([sys.executable, "-m", "ambient", *argv], env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", STUDIO, str(out)], env=env, check=True, capture_output=True)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())
            if p.suffix in (".mid", ".wav", ".json")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="The git revision to compare the working tree with.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        held = tmp / "held"
        held.mkdir()
        for name in ("3", "5", "7"):
            (held / f"{name}.mid").write_bytes((ROOT / "samples" / "midi" / f"{name}.mid").read_bytes())
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tmp / "base"), args.base],
                       check=True)
        try:
            sides = {}
            for side, src in (("base", tmp / "base" / "src"), ("head", ROOT / "src")):
                (tmp / side / "out").mkdir(parents=True, exist_ok=True)
                sides[side] = outputs(src, tmp / side / "out", held)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "base")], check=True)
    names = sorted(set(sides["base"]) | set(sides["head"]))
    for name in names:
        print(json.dumps({"output": name, "same": sides["base"].get(name) == sides["head"].get(name)}))
    differ = [n for n in names if sides["base"].get(n) != sides["head"].get(n)]
    print(json.dumps({"benchmark": "same_output", "base": args.base, "outputs": len(names), "differ": differ}))


if __name__ == "__main__":
    main()
