"""scripts/train_on_gpu.py: token files made here, a model trained where only torch, numpy and
safetensors are (the device machine), nothing coming back over 16 MB a file."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from ambient.codec import decode, normalize, read_tokens
from ambient.midi import read_midi, write_midi
from ambient.notes import Note

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_on_gpu.py"
# runs the script with the MIDI stack unimportable, as on the device machine
WITHOUT_MIDI = """
import importlib.abc, runpy, sys
class NoMidi(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("symusic", "mido", "soundfile", "librosa", "pedalboard"):
            raise ImportError(f"{name} is not on this machine")
sys.meta_path.insert(0, NoMidi())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def script(*args, bare=False, check=True):
    command = [sys.executable, "-c", WITHOUT_MIDI, str(SCRIPT), *map(str, args)] if bare else \
              [sys.executable, str(SCRIPT), *map(str, args)]
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert not check or done.returncode == 0, done.stderr
    return done


def folder_of_midi(root: Path) -> list[Path]:
    rng = np.random.default_rng(3)
    paths = []
    for i, sub in enumerate(["a", "a", "b/c"]):
        notes = [Note(float(t), float(t) + float(rng.uniform(0.2, 3)), int(rng.integers(40, 80)), 70)
                 for t in np.arange(0, 40, 0.5)]
        path = root / sub / f"piece-{i}.mid"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_midi(path, notes)
        paths.append(path)
    (root / "b" / "broken.mid").write_bytes(b"MThd not really")
    return paths


def test_pack_writes_each_piece_as_tokens_that_decode_to_its_notes(tmp_path):
    paths = folder_of_midi(tmp_path / "midi")
    done = script("pack", tmp_path / "midi", tmp_path / "tokens")
    assert json.loads(done.stdout) == {"packed": 3, "into": str(tmp_path / "tokens")}
    assert "broken.mid" in done.stderr and done.stderr.count("\n") == 1      # the bad file alone, named
    for path in paths:
        tokens = read_tokens(tmp_path / "tokens" / path.relative_to(tmp_path / "midi").with_suffix(".npy"))
        assert decode(tokens) == normalize(read_midi(path))


def test_train_runs_without_the_midi_stack_and_brings_back_only_the_model(tmp_path):
    folder_of_midi(tmp_path / "midi")
    script("pack", tmp_path / "midi", tmp_path / "tokens")
    out, scratch = tmp_path / "OUT" / "prior", tmp_path / "scratch"
    done = script("train", tmp_path / "tokens", out, "--device", "cpu", "--steps", 2, "--batch", 2,
                  "--context", 128, "--from", "default", "--val-every", 2, "--scratch", scratch, bare=True)
    line = json.loads(done.stdout)
    assert (line["steps"], line["layers"], line["d_model"], line["from"]) == (2, 4, 256, "default")
    assert all(math.isfinite(line[k]) and line[k] > 0 for k in ("validation_before", "validation_best"))
    assert sorted(p.name for p in (tmp_path / "OUT").rglob("*")) == ["config.json", "model.safetensors", "prior"]
    assert all(p.stat().st_size < 16 * 2**20 for p in out.iterdir())
    assert (scratch / "checkpoint").is_dir()                                # resumable, but left behind
    assert json.loads((out / "config.json").read_text())["metrics"]["steps"] == 2


def test_train_says_what_is_wrong_in_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    done = script("train", tmp_path / "empty", tmp_path / "out", "--device", "cpu", bare=True, check=False)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == ["error: need at least 2 readable MIDI or token files to train "
                                                "and validate, found 0"]
    (tmp_path / "left").mkdir()
    done = script("train", tmp_path / "empty", tmp_path / "out", "--device", "cpu", "--scratch", tmp_path / "left",
                  bare=True, check=False)
    assert done.stderr.strip() == f"error: {tmp_path / 'left'}: left by another run; move it away or pass another --scratch"
