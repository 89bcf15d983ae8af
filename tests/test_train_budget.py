"""Training by time on a small collection: the budget chosen and honoured, early stopping,
the held-out loss before and after, and the pipeline saying what it chose and how far it is."""

import json
import os
import subprocess
import sys
import time

import pytest

from ambient.config import TrainConfig
from ambient.errors import AmbientError, ParameterError
from ambient.pipeline import Workspace, latest_model, run
from ambient.pipeline.sources import add
from ambient.pipeline.stages import DEFAULT_PARAMS, MINUTES, check_params, train_budget
from ambient.train import learning_rate, stalled, train
from tests.conftest import tiny_config

FAST = dict(batch_size=4, warmup_steps=2, max_val_windows=8)


@pytest.mark.parametrize("pieces, minutes", [(1, MINUTES[0]), (12, 9.0), (20, 15.0), (200, MINUTES[1])])
def test_the_auto_budget_grows_with_the_collection_and_uses_every_core(pieces, minutes):
    params, why = train_budget(DEFAULT_PARAMS["train"], pieces)
    assert params["minutes"] == minutes and params["threads"] == os.cpu_count()
    assert why.startswith(f"{minutes:g} minutes for {pieces} pieces, {os.cpu_count()} threads (this machine's cores)")


def test_on_ray_auto_threads_are_one_a_worker_not_this_machines_cores():
    params, why = train_budget(DEFAULT_PARAMS["train"], 12, on_ray=True)
    assert params["threads"] == 1 and "1 thread a Ray worker" in why
    assert train_budget({**DEFAULT_PARAMS["train"], "threads": 3}, 12, on_ray=True)[0]["threads"] == 3


def test_a_budget_the_user_set_is_kept():
    params, why = train_budget({**DEFAULT_PARAMS["train"], "minutes": 2.5, "threads": 1}, 12)
    assert (params["minutes"], params["threads"]) == (2.5, 1)
    assert why.startswith("2.5 minutes as set, 1 threads as set")
    with pytest.raises(ParameterError, match="minutes"):
        check_params("train", {"minutes": -1})
    with pytest.raises(ParameterError, match="threads"):
        check_params("train", {"threads": "many"})
    with pytest.raises(ParameterError, match="patience"):
        check_params("train", {"patience": -2})


def test_the_learning_rate_decays_over_the_time_budget_when_it_runs_out_before_the_steps():
    cfg = TrainConfig(steps=100_000, learning_rate=1e-3, warmup_steps=10, minutes=10)
    assert learning_rate(50, cfg, seconds=0) == pytest.approx(1e-3, rel=1e-3)     # steps alone: hardly begun
    assert learning_rate(50, cfg, seconds=300) == pytest.approx(0.55e-3)          # half the time: half way down
    assert learning_rate(50, cfg, seconds=600) == pytest.approx(1e-4)             # all of it: a tenth


def test_stalled_counts_validations_after_the_best():
    history = [{"step": s} for s in (10, 20, 30, 40)]
    assert not stalled(history, best_step=20, patience=3)
    assert stalled(history, best_step=10, patience=3)
    assert not stalled(history, best_step=10, patience=0)


def test_a_time_budget_stops_training_and_the_best_model_is_kept(midi_folder, tmp_path):
    started = time.monotonic()
    summary = train(midi_folder, tmp_path / "m", tiny_config(), TrainConfig(steps=100_000, minutes=0.02, val_every=5,
                                                                             **FAST), log=lambda m: None)
    assert 0 < summary["steps"] < 100_000
    assert time.monotonic() - started < 60
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["metrics"]["steps"] == summary["steps"] and config["metrics"]["history"][-1]["seconds"] >= 1.2


def test_early_stopping_ends_a_run_that_no_longer_improves_and_fine_tuning_says_where_it_began(midi_folder, tmp_path):
    from ambient.checkpoint import save_model_dir
    from ambient.model import MusicTransformer

    base = save_model_dir(tmp_path / "base", MusicTransformer(tiny_config()).eval())
    lines = []
    # a rate of almost nothing: no validation can beat the first, so patience 2 ends it at the third
    summary = train(midi_folder, tmp_path / "m", tiny_config(), TrainConfig(steps=50, val_every=1, patience=2,
                                                                            learning_rate=1e-12, **FAST),
                    init_from=base, log=lines.append)
    assert summary["steps"] == 3 and summary["stopped_early"] == 3
    assert summary["initial_validation_loss"] == pytest.approx(summary["best_validation_loss"], abs=1e-4)
    assert lines[0].startswith("held-out loss before training: ")
    assert "stopping early at step 3: no better held-out loss in 2 validations" in lines
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["metrics"]["stopped_early"] == 3 and "initial_validation_loss" in config["metrics"]


def test_the_pipeline_says_what_it_chose_shows_progress_while_training_and_what_to_do_next(tmp_path):
    from tests.test_pipeline import melody

    music = tmp_path / "music"
    music.mkdir()
    for i in range(3):
        melody(music / f"t{i}.wav", seed=i)
    ws = Workspace.init(tmp_path / "ws", {"train": {"n_layer": 1, "d_model": 32, "n_head": 2, "context": 64,
                                                    "batch_size": 4, "val_every": 2, "steps": 6, "threads": 1}})
    add(ws, [music])
    seen = []
    run(ws, on_progress=lambda stage, done, total: seen.append((stage, done, total)))
    train_updates = [s for s in seen if s[0] == "train"]
    assert len(train_updates) > 3                         # the bar moves inside the one training datum
    assert train_updates[-1][1] == train_updates[-1][2]   # and ends full
    assert all(total == 5 * 60 for _, _, total in train_updates[1:-1])  # seconds of the auto budget
    result = subprocess.run([sys.executable, "-m", "ambient", "pipeline", "run", "-w", ws.root],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "next:" not in result.stdout  # nothing trained, nothing new to try
    ws.set_param("train", "steps", 4)
    result = subprocess.run([sys.executable, "-m", "ambient", "pipeline", "run", "-w", ws.root],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "train: training from scratch on 3 pieces (the shape asked for is not the bundled model's); " \
           "5 minutes for 3 pieces, 1 threads as set, stops after 4 validations without a better held-out loss" \
           in result.stdout
    assert f"ambient studio --model {latest_model(ws)}" in result.stdout
    assert "held-out loss" in result.stdout


def test_status_shows_a_running_training(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    work = ws.work_dir("train") / "0123456789abcdef"
    work.mkdir(parents=True)
    (work / "progress.json").write_text(json.dumps({"step": 40, "steps": 100_000, "seconds": 150.0,
                                                    "budget_seconds": 540.0, "best_validation_loss": 2.91,
                                                    "initial_validation_loss": 3.4}))
    result = subprocess.run([sys.executable, "-m", "ambient", "pipeline", "status", "-w", ws.root],
                            capture_output=True, text=True)
    assert "  running: step 40, 2.5 of 9.0 minutes, held-out loss 2.910 (from 3.400)" in result.stdout


def test_pipeline_init_takes_minutes_and_threads_and_refuses_nonsense(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "ambient", "pipeline", "init", tmp_path / "a", "--minutes", "3",
                         "--threads", "1"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    params = Workspace(tmp_path / "a").params["train"]
    assert (params["minutes"], params["threads"]) == (3.0, 1)
    bad = subprocess.run([sys.executable, "-m", "ambient", "pipeline", "init", tmp_path / "b", "--minutes", "soon"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "--minutes: must be auto or a number, not 'soon'" in bad.stderr
    with pytest.raises(AmbientError):
        Workspace(tmp_path / "b").params
