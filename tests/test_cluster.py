"""The pipeline and training on a real local Ray cluster (2 CPUs, loopback, no dashboard)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray

from ambient.cluster import connect
from ambient.cluster.storage import Exchange
from ambient.errors import AmbientError
from ambient.pipeline import Workspace, run
from ambient.pipeline.queries import logs
from ambient.pipeline.sources import add
from ambient.pipeline.stages import Stage
from tests.test_pipeline import TINY_TRAINING, melody, music, repo_hashes  # noqa: F401 (music: a fixture)


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             logging_level="ERROR")
    yield ray
    ray.shutdown()


def manifest_rows(ws: Workspace) -> dict:
    """The manifest's content but timings (a model's config.json records its run's seconds)."""
    db = sqlite3.connect(ws.manifest_path)
    files = sorted((repo, path, None if path.endswith("config.json") else digest)
                   for repo, path, digest in db.execute("SELECT repo, path, hash FROM files"))
    rows = {"files": files}
    for query in ("SELECT stage, input, datum_hash, status, error, attempts FROM datums",
                  "SELECT * FROM outputs", "SELECT * FROM lineage"):
        rows[query] = sorted(db.execute(query))
    db.close()
    return rows


def weights(ws: Workspace) -> dict:
    return {k: v for k, v in repo_hashes(ws, "models").items() if k.endswith(".safetensors")}


@pytest.mark.slow
def test_ray_gives_the_process_pools_manifest_and_bytes_and_adds_only_a_new_file(cluster, tmp_path, music):
    local = Workspace.init(tmp_path / "local", TINY_TRAINING)
    distributed = Workspace.init(tmp_path / "ray", TINY_TRAINING)
    for ws in (local, distributed):
        assert len(add(ws, [music]).added) == 10
    run(local, executor="process")
    reports = run(distributed, executor="ray")
    assert {n: r.processed for n, r in reports.items()} == {"decode": 10, "transcribe": 10, "tokenize": 10,
                                                            "train": 1}
    for repo in ("audio", "wav", "midi", "tokens"):
        assert repo_hashes(distributed, repo) == repo_hashes(local, repo), repo
    assert manifest_rows(distributed) == manifest_rows(local)
    assert weights(distributed) == weights(local) and len(weights(local)) == 1  # Ray Train, one worker
    [model] = [p for p in distributed.repo("models").iterdir() if p.is_dir()]
    assert json.loads((model / "config.json").read_text())["engine"] == "ray train on 1 worker"
    assert partial_files(distributed) == []

    extra = melody(tmp_path / "Track 10.wav", seed=10)
    add(distributed, [extra])
    reports = run(distributed, executor="ray")
    assert {n: (r.processed, r.skipped) for n, r in reports.items()} == {
        "decode": (1, 10), "transcribe": (1, 10), "tokenize": (1, 10), "train": (1, 0)}


def copy_after_two_failures(inputs, out, params, context):
    counter = Path(params["counts"]) / inputs[0].name
    seen = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(seen + 1))
    (out / "partial").write_text("half")  # a failed attempt's leftovers must not be committed
    if seen < 2:
        raise RuntimeError(f"transient failure {seen + 1}")
    (out / "partial").unlink()
    (out / inputs[0].name).write_bytes(inputs[0].read_bytes())


def die_once(inputs, out, params, context):
    marker = Path(params["marker_dir"]) / inputs[0].name
    (out / f"{inputs[0].stem}.partial").write_text("half written")
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies mid-datum
    (out / f"{inputs[0].stem}.partial").unlink()
    (out / inputs[0].name).write_bytes(inputs[0].read_bytes())


def sleep_long(inputs, out, params, context):
    (Path(params["pids"]) / inputs[0].name).write_text(str(os.getpid()))
    time.sleep(120)
    (out / inputs[0].name).write_text("too late")


def bad_input(inputs, out, params, context):
    raise AmbientError(f"{inputs[0].name}: not audio")


def partial_files(ws: Workspace) -> list[Path]:
    """Files a run left that no manifest row explains: scratch, partial or attempt counters."""
    scratch = [p for p in ws.scratch.rglob("*") if p.is_file()] if ws.scratch.exists() else []
    return scratch + [p for p in ws.root.rglob("*") if "partial" in p.name]


def names(ws: Workspace, repo: str) -> list[str]:
    folder = ws.repo(repo)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def small_workspace(tmp_path, n: int = 3) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    for i in range(n):
        (ws.repo("audio") / f"f{i}.dat").write_text(f"datum {i}")
    return ws


def attempts(ws: Workspace, stage: str) -> dict[str, int]:
    db = sqlite3.connect(ws.manifest_path)
    rows = dict(db.execute("SELECT input, attempts FROM datums WHERE stage=?", (stage,)).fetchall())
    db.close()
    return rows


def test_ray_retries_a_datum_that_fails_twice_and_never_retries_bad_input(cluster, tmp_path):
    ws = small_workspace(tmp_path)
    (tmp_path / "counts").mkdir()
    flaky = Stage("flaky", 1, "audio", "copied", "map", copy_after_two_failures, {"counts": str(tmp_path / "counts")})
    report = run(ws, [flaky], executor="ray", retries=3)["flaky"]
    assert report.processed == 3 and not report.failed
    assert attempts(ws, "flaky") == {"f0.dat": 3, "f1.dat": 3, "f2.dat": 3}
    assert names(ws, "copied") == ["f0.dat", "f1.dat", "f2.dat"]

    ws2 = Workspace.init(tmp_path / "ws2")
    (ws2.repo("audio") / "g.dat").write_text("x")
    (tmp_path / "counts2").mkdir()
    flaky = Stage("flaky", 1, "audio", "copied", "map", copy_after_two_failures, {"counts": str(tmp_path / "counts2")})
    report = run(ws2, [flaky], executor="ray", retries=2)["flaky"]
    assert report.failed == [("g.dat", "g.dat: RuntimeError: transient failure 2")]
    assert attempts(ws2, "flaky") == {"g.dat": 2} and names(ws2, "copied") == []
    [(_, error, log)] = logs(ws2, "flaky", "g.dat")
    assert "transient failure 2" in log

    bad = Stage("bad", 1, "audio", "none", "map", bad_input)
    report = run(ws2, [bad], executor="ray", retries=3)["bad"]
    assert report.failed == [("g.dat", "g.dat: not audio")] and attempts(ws2, "bad") == {"g.dat": 1}


def test_a_worker_killed_mid_datum_costs_one_retry_and_leaves_no_partial_output(cluster, tmp_path):
    ws = small_workspace(tmp_path, 4)
    (tmp_path / "seen").mkdir()
    stage = Stage("fragile", 1, "audio", "copied", "map", die_once, {"marker_dir": str(tmp_path / "seen")})
    report = run(ws, [stage], executor="ray", retries=2)["fragile"]
    assert report.processed == 4 and not report.failed
    assert attempts(ws, "fragile") == {f"f{i}.dat": 2 for i in range(4)}
    assert names(ws, "copied") == [f"f{i}.dat" for i in range(4)]
    assert partial_files(ws) == []


def test_a_datum_past_its_timeout_is_cancelled_and_its_worker_killed(cluster, tmp_path):
    ws = small_workspace(tmp_path, 2)
    (tmp_path / "pids").mkdir()
    stage = Stage("slow", 1, "audio", "slowed", "map", sleep_long, {"pids": str(tmp_path / "pids")})
    started = time.monotonic()
    report = run(ws, [stage], executor="ray", timeout=3)["slow"]
    assert time.monotonic() - started < 30
    assert sorted(report.failed) == [("f0.dat", "f0.dat: timed out after 3 s"), ("f1.dat", "f1.dat: timed out after 3 s")]
    pids = [int(p.read_text()) for p in (tmp_path / "pids").iterdir()]
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids), "a timed-out datum's worker still runs"
    assert names(ws, "slowed") == [] and partial_files(ws) == []


def copy_file(inputs, out, params, context):
    (out / "copies").mkdir()
    (out / "copies" / inputs[0].name).write_bytes(inputs[0].read_bytes() * 2)


def test_outputs_travel_through_a_storage_url_byte_identical(cluster, tmp_path, music):
    stage = Stage("copy", 1, "audio", "copied", "map", copy_file)
    shared = Workspace.init(tmp_path / "shared")
    via_url = Workspace.init(tmp_path / "url")
    for ws in (shared, via_url):
        add(ws, [music])
    run(shared, [stage], executor="process")
    store = tmp_path / "bucket"
    store.mkdir()
    report = run(via_url, [stage], executor="ray", storage=f"file://{store}")["copy"]
    assert report.processed == 10
    assert repo_hashes(via_url, "copied") == repo_hashes(shared, "copied")
    assert [p for p in store.rglob("*") if p.is_file()] == []  # the driver cleans up after each datum


def test_exchange_round_trip_in_memory_and_a_storage_workers_cannot_read_is_refused(cluster, tmp_path):
    exchange = Exchange("memory://ambient-test")
    source = tmp_path / "in.dat"
    source.write_bytes(b"\x00\x01 audio")
    exchange.send_inputs("d" * 64, [source])
    [fetched] = exchange.fetch_inputs("d" * 64, tmp_path / "worker")
    assert fetched.name == "in.dat" and fetched.read_bytes() == b"\x00\x01 audio"
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "a.mid").write_bytes(b"midi")
    exchange.send_outputs("d" * 64, out)
    assert exchange.count_attempt("d" * 64, "") == 1 and exchange.count_attempt("d" * 64, "") == 2
    exchange.receive_outputs("d" * 64, tmp_path / "scratch")
    assert (tmp_path / "scratch" / "sub" / "a.mid").read_bytes() == b"midi"
    exchange.forget("d" * 64)
    assert exchange.attempts("d" * 64, "") == 0

    ws = small_workspace(tmp_path)
    stage = Stage("copy", 1, "audio", "copied", "map", copy_file)
    with pytest.raises(AmbientError, match=r"^storage memory://ambient-test: not shared, a Ray worker cannot read"):
        run(ws, [stage], executor="ray", storage="memory://ambient-test")


def test_clear_lines_for_no_ray_an_unreachable_address_and_options_without_ray(tmp_path, monkeypatch):
    ws = small_workspace(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "ambient", "pipeline", "run", "-w", str(ws.root), "--executor",
                             "ray", "--address", "127.0.0.1:9"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1 and time.monotonic() - started < 30
    assert result.stderr.strip().splitlines() == [
        "error: Ray address 127.0.0.1:9: cannot reach 127.0.0.1:9 (Connection refused)"]
    result = subprocess.run([sys.executable, "-m", "ambient", "pipeline", "run", "-w", str(ws.root),
                             "--storage", "file:///tmp"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0 and result.stderr.strip().splitlines()[-1].endswith("needs the ray executor")

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(AmbientError, match=r"^Ray is not installed; install it with: pip install 'ambient\[ray\]'$"):
        connect(None)
    with pytest.raises(AmbientError, match="Ray is not installed"):
        run(ws, [Stage("copy", 1, "audio", "copied", "map", copy_file)], executor="ray")


TRAIN_ARGS = ["--steps", "60", "--batch-size", "4", "--val-every", "5", "--context", "96", "--layers", "2",
              "--heads", "2", "--d-model", "48", "--warmup-steps", "2"]


def train_workers() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"RayTrainWorker" in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            pass
    return pids


def ray_train(midi_folder, out: Path, kill: bool = False) -> dict:
    """`ambient train --ray-workers 2` as the CLI calls it; with kill, one worker is
    killed with SIGKILL once Ray's controller has registered a checkpoint (one written but
    not yet registered is lost with the worker, and the run restarts from scratch)."""
    from ambient.cluster.training import train_on_ray
    from ambient.config import ModelConfig, TrainConfig

    model = ModelConfig(context=96, n_layer=2, n_head=2, d_model=48)
    cfg = TrainConfig(steps=60, batch_size=4, val_every=5, warmup_steps=2)
    result, killed = {}, []

    def fit():
        result.update(train_on_ray(midi_folder, out, model, cfg, workers=2, log=lambda m: None))

    thread = threading.Thread(target=fit)
    thread.start()
    storage = out.with_name(out.name + ".ray") / "train"
    while kill and not killed and thread.is_alive():
        snapshot = storage / "checkpoint_manager_snapshot.json"
        if snapshot.exists() and "checkpoint_" in snapshot.read_text() and train_workers():
            victim = max(train_workers())
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
        time.sleep(0.05)
    thread.join(timeout=600)
    assert not kill or killed, "training ended before a worker could be killed"
    return result


@pytest.mark.slow
def test_ray_train_survives_a_killed_worker_with_the_weights_of_an_unbroken_run_and_of_torchrun(
        cluster, midi_folder, tmp_path):
    unbroken = ray_train(midi_folder, tmp_path / "unbroken")
    killed = ray_train(midi_folder, tmp_path / "killed", kill=True)
    assert unbroken["steps"] == killed["steps"] == 60
    config = json.loads((tmp_path / "killed" / "config.json").read_text())
    assert config["metrics"]["resumed_at"] and config["metrics"]["resumed_at"][0] % 5 == 0  # from a checkpoint
    assert "resumed_at" not in json.loads((tmp_path / "unbroken" / "config.json").read_text())["metrics"]
    for name in ("model.safetensors", "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors"):
        assert (tmp_path / "killed" / name).read_bytes() == (tmp_path / "unbroken" / name).read_bytes(), name

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    torchrun = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                               "-m", "ambient", "train", str(midi_folder), "--out", str(tmp_path / "torchrun"),
                               "--threads", "1", *TRAIN_ARGS], capture_output=True, text=True, env=env, timeout=600)
    assert torchrun.returncode == 0, torchrun.stderr[-2000:]
    for name in ("model.safetensors", "checkpoint/model.safetensors"):
        assert (tmp_path / "torchrun" / name).read_bytes() == (tmp_path / "unbroken" / name).read_bytes(), name
