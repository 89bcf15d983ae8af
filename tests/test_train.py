import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ambient.codec import encode, encode_piece, vocab_size
from ambient.errors import AmbientError, ParameterError
from ambient.midi import write_midi
from ambient.train import Piece, TrainConfig, load_pieces, sample_batch, split_pieces, train
from tests.conftest import random_piece, tiny_config

VOCAB = vocab_size()

FAST = dict(batch_size=4, warmup_steps=2, val_every=4, max_val_windows=8, learning_rate=1e-2)


def test_training_lowers_validation_loss_and_writes_a_model_directory(midi_folder, tmp_path):
    out = tmp_path / "model"
    summary = train(midi_folder, out, tiny_config(), TrainConfig(steps=16, **FAST), log=lambda m: None)
    config = json.loads((out / "config.json").read_text())
    history = config["metrics"]["history"]
    assert [h["step"] for h in history] == [4, 8, 12, 16]
    assert history[-1]["validation_loss"] < history[0]["validation_loss"] - 0.3
    assert history[-1]["validation_loss"] < np.log(VOCAB) - 1.0  # well below a uniform guess
    assert config["metrics"]["validation_loss_nats_per_token"] == min(h["validation_loss"] for h in history)
    assert summary["data"]["train_files"] + summary["data"]["validation_files"] == 8
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint", "config.json", "model.safetensors"]


def test_an_interrupted_run_resumes_to_the_same_weights(midi_folder, tmp_path):
    cfg = TrainConfig(steps=12, **FAST)
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    train(midi_folder, whole, tiny_config(), cfg, log=lambda m: None)
    calls = []

    def stop_after_step_8(message):
        calls.append(message)
        if message.startswith("step 8"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(midi_folder, broken, tiny_config(), cfg, log=stop_after_step_8)
    train(midi_folder, broken, tiny_config(), cfg, resume=True, log=lambda m: None)
    a = load_file(str(whole / "checkpoint" / "model.safetensors"))
    b = load_file(str(broken / "checkpoint" / "model.safetensors"))
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_existing_checkpoint_needs_resume(midi_folder, tmp_path):
    train(midi_folder, tmp_path / "m", tiny_config(), TrainConfig(steps=4, **FAST), log=lambda m: None)
    with pytest.raises(AmbientError, match="pass --resume"):
        train(midi_folder, tmp_path / "m", tiny_config(), TrainConfig(steps=4, **FAST), log=lambda m: None)
    with pytest.raises(AmbientError, match="no checkpoint to resume"):
        train(midi_folder, tmp_path / "new", tiny_config(), TrainConfig(steps=4, **FAST), resume=True)


def test_too_few_files_is_a_clear_error(tmp_path):
    write_midi(tmp_path / "only.mid", random_piece(np.random.default_rng(0)))
    with pytest.raises(AmbientError, match="need at least 2 readable MIDI or token files.*found 1"):
        train(tmp_path, tmp_path / "out", tiny_config(), TrainConfig(steps=2))


def test_bad_files_are_skipped_with_a_line_and_tokens_are_read(tmp_path):
    rng = np.random.default_rng(1)
    write_midi(tmp_path / "a.mid", random_piece(rng))
    np.save(tmp_path / "b.npy", encode(random_piece(rng)))
    (tmp_path / "c.mid").write_text("not midi")
    lines = []
    pieces = load_pieces(tmp_path, warn=lines.append)
    assert [p.name for p in pieces] == ["a.mid", "b.npy"]
    assert lines == [f"skipped {tmp_path / 'c.mid'}: not a MIDI file (no MThd header)"]


def test_split_is_by_file_and_repeatable(midi_folder):
    pieces = load_pieces(midi_folder)
    a_train, a_val = split_pieces(pieces, 0.25, seed=3)
    b_train, b_val = split_pieces(pieces, 0.25, seed=3)
    assert [p.name for p in a_val] == [p.name for p in b_val] and len(a_val) == 2
    assert not {p.name for p in a_train} & {p.name for p in a_val}


def test_ddp_on_two_cpu_processes_trains_and_resumes(midi_folder, tmp_path):
    out = tmp_path / "ddp"
    base = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "ambient",
            "train", str(midi_folder), "--out", str(out), "--batch-size", "4", "--val-every", "3",
            "--context", "64", "--layers", "2", "--heads", "4", "--d-model", "32", "--warmup-steps", "2",
            "--threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.run(base + ["--steps", "3"], capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    second = subprocess.run(base + ["--steps", "6", "--resume"], capture_output=True, text=True, env=env,
                            timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    log = first.stdout + first.stderr + second.stdout + second.stderr
    assert "resumed from" in log
    sums = dict(re.findall(r"rank (\d): finished at step 6, parameter checksum (\S+)", log))
    assert set(sums) == {"0", "1"} and sums["0"] == sums["1"]  # both ranks hold the same model
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["processes"] == 2 and config["metrics"]["steps"] == 6


def test_train_from_default_keeps_the_bundled_shape_at_a_new_context_and_a_gentler_rate(midi_folder, tmp_path):
    from ambient.checkpoint import DEFAULT_MODEL_DIR

    out = tmp_path / "tuned"
    result = subprocess.run([sys.executable, "-m", "ambient", "train", str(midi_folder), "--out", str(out), "--from",
                             "default", "--context", "128", "--steps", "2", "--batch-size", "2", "--val-every", "2",
                             "--threads", "1"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    bundled = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())["model"]
    assert config["model"] == {**bundled, "context": 128, "sounding_input": False}  # its shape, the context asked
    assert config["fine_tuned_from"] == "default" and config["training"]["learning_rate"] == 3e-4
    shaped = subprocess.run([sys.executable, "-m", "ambient", "train", str(midi_folder), "--out",
                             str(tmp_path / "other"), "--from", str(out), "--layers", "2", "--steps", "1"],
                            capture_output=True, text=True, timeout=300)
    assert shaped.returncode == 1 and shaped.stderr.strip() == (
        "error: --layers 2: a fine-tuned model keeps the shape of the one it starts from (n_layer 4); "
        "only the context and dropout may change")


def test_a_gpu_asked_for_where_torch_sees_none_is_one_clear_line(midi_folder, tmp_path, monkeypatch):
    from ambient.train import _distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(AmbientError, match=r"^device cuda: torch sees no GPU here$"):
        train(midi_folder, tmp_path / "m", tiny_config(), TrainConfig(steps=1), device="cuda")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert _distributed("cpu") == (0, 1, "cpu")  # one process: no group, the device as asked


@pytest.mark.parametrize("share, low, high", [(0.0, 0, 4), (0.25, 70, 130), (1.0, 400, 400)])
def test_a_share_of_windows_begin_at_a_pieces_first_note_as_a_primer_does(share, low, high):
    rng = np.random.default_rng(5)
    pieces = [Piece(f"p{i}", random_piece(rng, notes=400, seconds=200)) for i in range(3)]
    openings = {tuple(encode_piece(p.notes)[:65]) for p in pieces}
    cfg = TrainConfig(transpose=0, stretch=0.0, openings=share)
    rows = torch.cat([sample_batch(pieces, np.full(3, 1 / 3), 40, 64, cfg, rng) for _ in range(10)])
    assert low <= sum(tuple(row.tolist()) in openings for row in rows) <= high


def test_an_openings_share_outside_0_to_1_is_refused():
    with pytest.raises(ParameterError, match="openings"):
        TrainConfig(openings=1.5)
