"""File plumbing: a kill at any instant leaves the whole old file or directory, or the whole new one."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from safetensors.torch import load_file

from ambient.codec import read_tokens, write_tokens
from ambient.errors import AmbientError
from ambient.files import atomic_dir, atomic_file, content_hash, recover_dir, replace_dir
from ambient.config import TrainConfig
from ambient.train import train
from tests.conftest import tiny_config

# Kill points of a directory swap: 0 on entry (scratch complete, nothing renamed), 1 after
# the old copy is moved aside, 2 after the new one lands, 3 half way through deleting the old copy.
KILL_POINTS = [0, 1, 2, 3]

KILLER = textwrap.dedent("""
    import os, shutil, signal, sys
    import ambient.files as files

    point, armed = int(sys.argv[1]), {"on": ARMED}
    moves = []
    real_replace, real_rmtree, real_recover = os.replace, shutil.rmtree, files.recover_dir

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def is_target(path):
        return os.path.basename(str(path)).lstrip(".").startswith(NAME)

    def recover(directory, **kw):
        if armed["on"] and point == 0 and is_target(directory):
            die()
        return real_recover(directory, **kw)

    def replace(src, dst, **kw):
        real_replace(src, dst, **kw)
        if armed["on"] and is_target(dst):
            moves.append(dst)
            if len(moves) == point:
                die()

    def rmtree(path, *a, **kw):
        if armed["on"] and point == 3 and str(path).endswith("." + NAME + ".old"):
            victim = sorted(os.listdir(path))[0]
            os.unlink(os.path.join(path, victim))
            die()
        return real_rmtree(path, *a, **kw)

    os.replace, shutil.rmtree, files.recover_dir = replace, rmtree, recover
""")


def run_killed(body: str, point: int, name: str, armed: str = "True", tmp=None):
    code = KILLER.replace("NAME", repr(name)).replace("ARMED", armed) + textwrap.dedent(body)
    result = subprocess.run([sys.executable, "-c", code, str(point)], capture_output=True, text=True, timeout=300,
                            cwd=tmp)
    assert result.returncode == -9, result.stderr  # it really was killed where we said
    return result


def snapshot(folder):
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_directory_swap_killed_at_any_point_leaves_old_or_new_whole(tmp_path, point):
    target = tmp_path / "model"
    target.mkdir()
    for name in "abc":
        (target / name).write_text(f"old {name}")
    old = snapshot(target)
    run_killed(f"""
        from pathlib import Path
        from ambient.files import atomic_dir
        with atomic_dir(Path({str(target)!r})) as scratch:
            for name in "abcd":
                (scratch / name).write_text("new " + name)
    """, point, "model")
    recover_dir(target, writer=True, sweep=True)
    after = snapshot(target)
    assert after == old or after == {n: f"new {n}" for n in "abcd"}
    assert (after == old) == (point < 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # nothing aside, no partial left
    with atomic_dir(target) as scratch:  # and the next swap works (it used to fail on a left-over .old)
        (scratch / "z").write_text("third")
    assert snapshot(target) == {"z": "third"}


FAST = dict(batch_size=4, warmup_steps=2, val_every=4, max_val_windows=8, learning_rate=1e-2)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The same small training run, never killed: the weights every resumed run must reach."""
    from tests.conftest import arpeggio_piece
    from ambient.midi import write_midi

    root = tmp_path_factory.mktemp("whole")
    rng = np.random.default_rng(7)
    for i in range(8):
        write_midi(root / "midi" / f"piece{i}.mid", arpeggio_piece(rng))
    train(root / "midi", root / "model", tiny_config(), TrainConfig(steps=8, **FAST), log=lambda m: None)
    return root / "midi", load_file(str(root / "model" / "checkpoint" / "model.safetensors"))


@pytest.mark.slow
@pytest.mark.parametrize("swap", ["model", "checkpoint"])
@pytest.mark.parametrize("point", KILL_POINTS)
def test_training_killed_at_any_point_of_either_swap_resumes_to_the_same_weights(uninterrupted, tmp_path,
                                                                                  swap, point):
    """Step 8 saves the best model (a swap of the model directory, carrying its checkpoint/
    across) and then the checkpoint (a swap of its own); a kill anywhere in either resumes."""
    midi, expected = uninterrupted
    model = tmp_path / "model"
    run_killed(f"""
        import torch
        torch.set_num_threads(1)
        from ambient.config import TrainConfig
        from ambient.train import train
        from tests.conftest import tiny_config
        def log(message):  # armed once step 4 is saved, so the kill lands in step 8's swaps
            if message.startswith("step 4"):
                armed["on"] = True
        train({str(midi)!r}, {str(model)!r}, tiny_config(), TrainConfig(steps=8, **{FAST!r}), log=log)
    """, point, swap, armed="False", tmp=os.getcwd())
    train(midi, model, tiny_config(), TrainConfig(steps=8, **FAST), resume=True, log=lambda m: None)
    weights = load_file(str(model / "checkpoint" / "model.safetensors"))
    assert weights.keys() == expected.keys()
    assert all(np.array_equal(weights[k].numpy(), expected[k].numpy()) for k in weights)
    assert sorted(p.name for p in model.iterdir()) == ["checkpoint", "config.json", "model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_replace_dir_onto_nothing_and_recover_of_a_clean_folder(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "x").write_text("1")
    replace_dir(scratch, tmp_path / "new")
    recover_dir(tmp_path / "new")
    assert snapshot(tmp_path / "new") == {"x": "1"} and not scratch.exists()


def test_an_atomic_file_that_fails_leaves_the_old_one(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_file(path) as f:
            f.write("half of the new")
            raise RuntimeError("disk full")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["settings.json"]


def test_content_hash_is_sha256_of_the_bytes(tmp_path):
    import hashlib

    path = tmp_path / "blob"
    path.write_bytes(os.urandom(3 << 20))
    assert content_hash(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_token_files_round_trip_and_bad_ones_are_named(tmp_path):
    tokens = np.array([1, 200, 3, 2], dtype=np.uint16)
    assert np.array_equal(read_tokens(write_tokens(tmp_path / "a.npy", tokens)), tokens)
    np.save(tmp_path / "matrix.npy", np.zeros((2, 2), np.uint16))
    np.save(tmp_path / "floats.npy", np.zeros(3))
    np.save(tmp_path / "big.npy", np.array([1, 5000]))
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "text.npy").write_text("not numpy")
    for name, problem in [("matrix", "1-D integer array"), ("floats", "1-D integer array"),
                          ("big", "outside the vocabulary"), ("pickled", "not a token file"),
                          ("text", "not a token file")]:
        with pytest.raises(AmbientError, match=rf"{name}\.npy: .*{problem}"):
            read_tokens(tmp_path / f"{name}.npy")


def test_a_midi_files_text_is_ascii_so_every_reader_reads_it_the_same(tmp_path):
    """A studio take's marker ('… · take 2', a user's accented name) used to come back from
    Latin-1 readers (mido, most DAWs) as 'Â·'."""
    import mido

    from ambient.midi import write_midi
    from ambient.notes import Note

    path = write_midi(tmp_path / "take.mid", [Note(0.0, 1.0, 60, 80)], text="ambient studio: Café · take 2 — “drone”")
    markers = [m.text for track in mido.MidiFile(path).tracks for m in track if m.type == "marker"]
    assert markers == ['ambient studio: Cafe - take 2 - "drone"']
