"""The incremental pipeline on small generated audio: what runs, what is skipped, what survives."""

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ambient.errors import AmbientError
from ambient.pipeline import Workspace, latest_model, lineage, list_sources, run, status
from ambient.pipeline.queries import logs
from ambient.pipeline.runner import workspace_lock
from ambient.pipeline.sources import add, remove, watch

RATE = 22050
# one thread, as a Ray worker has: the same weights whichever executor trains them
TINY_TRAINING = {"train": {"steps": 4, "n_layer": 1, "d_model": 32, "n_head": 2, "context": 64, "batch_size": 4,
                           "val_every": 2, "threads": 1}}


def melody(path: Path, seed: int, seconds: float = 2.0) -> Path:
    """Four plucked notes of random pitch: something basic-pitch hears as notes."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    signal_ = np.zeros_like(t)
    for k in range(4):
        start, f = k * seconds / 4, 440 * 2 ** (int(rng.integers(-12, 12)) / 12)
        signal_ += 0.25 * (t >= start) * np.exp(-np.clip(t - start, 0, None) * 2) * np.sin(2 * np.pi * f * t)
    sf.write(str(path), signal_, RATE)
    return path


def repo_hashes(ws: Workspace, repo: str) -> dict[str, str]:
    folder = ws.repo(repo)
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if "partial" in p.name or p.name == ".scratch"]


@pytest.fixture
def music(tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    for i in range(10):
        melody(folder / f"Track {i}.wav", seed=i)
    return folder


@pytest.fixture
def ws(tmp_path, music):
    workspace = Workspace.init(tmp_path / "ws", TINY_TRAINING)
    assert len(add(workspace, [music]).added) == 10
    return workspace


def processed(reports) -> dict[str, int]:
    return {name: r.processed for name, r in reports.items()}


def test_first_run_does_everything_and_a_second_run_nothing_in_under_a_second(ws):
    first = run(ws)
    assert processed(first) == {"decode": 10, "transcribe": 10, "tokenize": 10, "train": 1}
    assert len(list(ws.repo("tokens").glob("*.npy"))) == 10
    start = time.perf_counter()
    second = run(ws)
    assert time.perf_counter() - start < 1.0
    assert processed(second) == {"decode": 0, "transcribe": 0, "tokenize": 0, "train": 0}
    assert {n: r.skipped for n, r in second.items()} == {"decode": 10, "transcribe": 10, "tokenize": 10, "train": 1}
    assert leftovers(ws.root) == []


def test_add_change_delete_redoes_exactly_what_they_touch(ws, tmp_path):
    run(ws)
    first_model = latest_model(ws)
    add(ws, [melody(tmp_path / "New Piece.wav", seed=99)])
    melody(ws.repo("audio") / "track-3.wav", seed=123)          # changed in place
    remove(ws, "track-5.wav")
    reports = run(ws)
    assert processed(reports) == {"decode": 2, "transcribe": 2, "tokenize": 2, "train": 1}
    assert {n: r.removed for n, r in reports.items()} == {"decode": 1, "transcribe": 1, "tokenize": 1, "train": 0}
    for repo, suffix in (("wav", ".wav"), ("midi", ".mid"), ("tokens", ".npy")):
        assert not (ws.repo(repo) / f"track-5{suffix}").exists()
        assert (ws.repo(repo) / f"new-piece{suffix}").exists()
    model = latest_model(ws)
    assert model != first_model and first_model.exists()  # every model is kept
    expected = sorted(f"track-{i}.wav" for i in range(10) if i != 5) + ["new-piece.wav"]
    assert lineage(ws, model) == sorted(expected)
    assert lineage(ws, first_model) == sorted(f"track-{i}.wav" for i in range(10))


def test_a_failing_datum_fails_alone_and_reruns_alone_once_fixed(ws):
    bad = ws.repo("audio") / "track-4.wav"
    good_bytes = bad.read_bytes()
    bad.write_text("this file was damaged on its way here\n" * 40)
    reports = run(ws)
    assert reports["decode"].processed == 9 and [i for i, _ in reports["decode"].failed] == ["track-4.wav"]
    assert reports["train"].processed == 1
    report = status(ws)
    assert report["decode"]["failed"] == 1 and "track-4.wav" in report["decode"]["errors"]
    [(input_, error, _)] = logs(ws, "decode")
    assert input_ == "track-4.wav" and "track-4.wav: not readable audio" in error
    bad.write_bytes(good_bytes)
    again = run(ws)
    assert processed(again) == {"decode": 1, "transcribe": 1, "tokenize": 1, "train": 1}
    assert status(ws)["decode"]["failed"] == 0


def test_changing_a_stage_parameter_reruns_it_and_what_follows_only(ws):
    run(ws)
    before = repo_hashes(ws, "midi")
    ws.set_param("transcribe", "min_note", 0.6)
    reports = run(ws)
    assert reports["decode"].processed == 0 and reports["decode"].skipped == 10
    assert reports["transcribe"].processed == 10
    assert reports["train"].processed == 1
    assert repo_hashes(ws, "midi") != before

    # `pipeline set STAGE.KEY=` with nothing after = gives the setting back to its default
    command = [sys.executable, "-m", "ambient", "pipeline", "set", "transcribe.min_note=", "-w", str(ws.root)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "transcribe.min_note: back to its default"
    assert "min_note" not in ws.params["transcribe"]
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.strip() == "transcribe.min_note: was not set"
    assert run(ws)["transcribe"].processed == 10
    assert repo_hashes(ws, "midi") == before


def test_a_second_runner_is_refused(ws):
    with workspace_lock(ws):
        result = subprocess.run([sys.executable, "-m", "ambient", "pipeline", "run", "-w", str(ws.root)],
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "busy, another `ambient pipeline run` holds it" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_watch_mirrors_a_folder(ws, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    melody(inbox / "first.wav", seed=200)
    runs = []
    watch(ws, inbox, interval=0, passes=1, on_change=lambda report, gone: runs.append(run(ws)))
    assert (ws.repo("audio") / "first.wav").exists() and len(runs) == 1
    (inbox / "first.wav").unlink()
    watch(ws, inbox, interval=0, passes=1, on_change=lambda report, gone: runs.append(run(ws)))
    assert not (ws.repo("audio") / "first.wav").exists()
    assert not (ws.repo("wav") / "first.wav").exists()


def test_workspace_errors_are_clear(tmp_path):
    with pytest.raises(AmbientError, match="not a pipeline workspace"):
        Workspace(tmp_path / "nothing")
    ws = Workspace.init(tmp_path / "ws")
    with pytest.raises(AmbientError, match="already a workspace"):
        Workspace.init(tmp_path / "ws")
    with pytest.raises(AmbientError, match="no such source"):
        remove(ws, "missing.wav")
    with pytest.raises(AmbientError, match="no model trained yet"):
        latest_model(ws)


@pytest.mark.slow
def test_killed_runner_resumes_to_the_same_outputs_as_a_clean_run(tmp_path, music):
    clean = Workspace.init(tmp_path / "clean", TINY_TRAINING)
    add(clean, [music])
    run(clean)
    ws = Workspace.init(tmp_path / "killed", TINY_TRAINING)
    add(ws, [music])
    command = [sys.executable, "-m", "ambient", "pipeline", "run", "-w", str(ws.root)]
    rng = random.Random(0)
    kills = finished = 0
    while kills < 20:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 2.5))  # a whole run takes about 3 s now that start-up is quick
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        else:  # it got to the end: give the next one work again (transcription onwards)
            finished += 1
            ws.set_param("transcribe", "min_note", 0.1 + 0.01 * (finished % 2))
        process.wait()
        time.sleep(0.2)  # pool workers follow their killed parent (PR_SET_PDEATHSIG)
        assert finished < 40, "runs end too fast to be killed"
    ws.unset_param("transcribe", "min_note")  # back to the transcription profile's own value, as in `clean`
    final = run(ws)
    assert all(not r.failed for r in final.values())
    for repo in ("wav", "midi", "tokens"):
        assert repo_hashes(ws, repo) == repo_hashes(clean, repo), repo
    # the model: the same weights; its config.json differs only in timings and work paths
    weights = {k: v for k, v in repo_hashes(ws, "models").items() if k.endswith(".safetensors")}
    assert weights == {k: v for k, v in repo_hashes(clean, "models").items() if k.endswith(".safetensors")}
    assert len(weights) == 1
    assert leftovers(ws.root) == [] and not (ws.root / ".work" / "train").exists() or \
        not any((ws.root / ".work" / "train").iterdir())


def test_a_stage_runs_over_plain_folders_for_other_engines(tmp_path, music):
    (music / "broken.wav").write_text("not audio")
    result = subprocess.run([sys.executable, "-m", "ambient", "stage", "decode", "--input", str(music),
                             "--output", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {music / 'broken.wav'}: not readable audio")
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(f"Track {i}.wav" for i in range(10))
    audio, rate = sf.read(str(tmp_path / "out" / "Track 0.wav"))
    assert rate == RATE and audio.ndim == 1


def test_pachyderm_export_chains_the_stages_and_fits_the_schema(tmp_path):
    import json

    from ambient.pipeline.export import export_pachyderm, validate

    ws = Workspace.init(tmp_path / "ws", TINY_TRAINING)
    written = export_pachyderm(ws.params, tmp_path / "pachyderm", "registry.example/ambient:1")
    specs = {p.stem: json.loads(p.read_text()) for p in written if p.suffix == ".json"}
    assert list(specs) == ["ambient-decode", "ambient-transcribe", "ambient-tokenize", "ambient-train"]
    inputs = [(s["input"]["pfs"]["repo"], s["input"]["pfs"]["glob"]) for s in specs.values()]
    assert inputs == [("audio", "/*"), ("ambient-decode", "/*"), ("ambient-transcribe", "/*"), ("ambient-tokenize", "/")]
    train = specs["ambient-train"]["transform"]["cmd"]
    assert train[:7] == ["ambient", "stage", "train", "--input", "/pfs/in", "--output", "/pfs/out"]
    assert json.loads(train[-1])["steps"] == 4
    assert (tmp_path / "pachyderm" / "Dockerfile").read_text().startswith("# The image")
    with pytest.raises(AmbientError, match="not a valid Pachyderm spec"):
        strict = tmp_path / "strict.json"
        strict.write_text(json.dumps({"type": "object", "additionalProperties": False, "properties": {}}))
        validate(specs, strict)
    # Pachyderm's own schema, where the workplace provides it beside the checkout (CI does)
    official = Path(__file__).resolve().parents[2] / "shared" / "pachyderm" / "CreatePipelineRequest.schema.json"
    if official.exists():
        validate(specs, official)


def slow_echo(inputs, out, params, context):
    time.sleep(params["sleep"])
    (out / inputs[0].name).write_bytes(inputs[0].read_bytes())


def flaky_echo(inputs, out, params, context):
    marker = Path(params["marker_dir"]) / inputs[0].name
    if not marker.exists():  # fails the first time it sees a file, works the second
        marker.write_text("seen")
        raise RuntimeError("transient failure")
    (out / inputs[0].name).write_bytes(inputs[0].read_bytes())


def test_retries_and_per_datum_timeouts(tmp_path):
    from ambient.pipeline.stages import Stage

    ws = Workspace.init(tmp_path / "ws")
    for i in range(3):
        (ws.repo("audio") / f"f{i}.dat").write_text(str(i))
    (tmp_path / "seen").mkdir()
    flaky = Stage("flaky", 1, "audio", "copied", "map", flaky_echo, {"marker_dir": str(tmp_path / "seen")})
    report = run(ws, [flaky], retries=2)["flaky"]
    assert report.processed == 3 and not report.failed
    slow = Stage("slow", 1, "audio", "slowed", "map", slow_echo, {"sleep": 5})
    report = run(ws, [slow], timeout=0.5, executor="serial")["slow"]
    assert report.processed == 0 and [e for _, e in report.failed] == [f"f{i}.dat: timed out after 0.5 s"
                                                                      for i in range(3)]


def test_fine_tuning_continues_from_the_last_model_and_generate_uses_the_newest(ws, tmp_path):
    import json

    run(ws)
    first = latest_model(ws)
    ws.set_param("train", "fine_tune", True)
    add(ws, [melody(tmp_path / "Another.wav", seed=77)])
    run(ws)
    newest = latest_model(ws)
    assert newest != first
    assert json.loads((newest / "config.json").read_text())["fine_tuned_from"] == str(first)
    out = tmp_path / "from-workspace.mid"
    result = subprocess.run([sys.executable, "-m", "ambient", "generate", "--model", str(ws.root), "--length", "40",
                             "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert out.exists()


def test_status_counts_the_work_waiting_before_any_run_and_sources_lists_names_remove_takes(tmp_path):
    import json

    ws = Workspace.init(tmp_path / "ws", TINY_TRAINING)
    for i in range(2):
        melody(tmp_path / f"Song {i}.wav", seed=i)
    add(ws, [tmp_path / "Song 0.wav", tmp_path / "Song 1.wav"])
    report = status(ws)
    assert {name: (s["done"], s["to_do"]) for name, s in report.items()} == {
        "decode": (0, 2), "transcribe": (0, 2), "tokenize": (0, 2), "train": (0, 1)}
    cli = subprocess.run([sys.executable, "-m", "ambient", "pipeline", "sources", "-w", str(ws.root)],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert [line.split()[0] for line in cli.stdout.splitlines()] == ["song-0.wav", "song-1.wav"]
    assert "decode to do, transcribe to do, tokenize to do" in cli.stdout
    run(ws)
    assert {name: (s["done"], s["to_do"]) for name, s in status(ws).items()} == {
        "decode": (2, 0), "transcribe": (2, 0), "tokenize": (2, 0), "train": (1, 0)}
    melody(ws.repo("audio") / "song-1.wav", seed=50)  # changed in place: it and training wait again
    assert {name: (s["done"], s["to_do"]) for name, s in status(ws).items()} == {
        "decode": (1, 1), "transcribe": (1, 1), "tokenize": (1, 1), "train": (0, 1)}
    listed = json.loads(subprocess.run([sys.executable, "-m", "ambient", "pipeline", "status", "--json", "-w",
                                        str(ws.root)], capture_output=True, text=True, timeout=60).stdout)
    assert [(s["name"], s["stages"]["tokenize"]) for s in listed["sources"]] == [("song-0.wav", "done"),
                                                                                 ("song-1.wav", "to do")]
    assert listed["stages"]["decode"]["to_do"] == 1
    remove(ws, listed["sources"][0]["name"])  # the name listed is the name remove takes
    assert [s["name"] for s in list_sources(ws)] == ["song-1.wav"]


def test_a_small_collection_fine_tunes_the_bundled_model_and_says_so(tmp_path, music, capsys):
    import json

    from ambient.config import ModelConfig
    from ambient.pipeline.stages import SMALL_COLLECTION, starting_point

    bundled_shape = {"steps": 2, "batch_size": 2, "context": 64, "val_every": 2}  # layers, width: the bundled one's
    ws = Workspace.init(tmp_path / "ws", {"train": bundled_shape})
    add(ws, [music])
    run(ws)
    assert "train: fine-tuning the bundled model (10 pieces is too few to learn music from scratch)" in \
        capsys.readouterr().out
    assert json.loads((latest_model(ws) / "config.json").read_text())["fine_tuned_from"] == "default"
    tiny = ModelConfig(n_layer=1, d_model=32, n_head=2, context=64)
    assert starting_point(10, tiny) == (None, "training from scratch on 10 pieces (the shape asked for is not "
                                               "the bundled model's)")
    assert starting_point(SMALL_COLLECTION, ModelConfig()) == (None, f"training from scratch on {SMALL_COLLECTION} pieces")
    assert starting_point(10, ModelConfig(), "scratch")[0] is None
    with pytest.raises(AmbientError, match="start_from bundled: the model's shape differs"):
        starting_point(10, tiny, "bundled")
    with pytest.raises(AmbientError, match="^start_from must be auto, bundled or scratch"):
        starting_point(10, tiny, "somewhere")


def test_eval_of_a_workspace_continues_the_pieces_its_newest_model_held_out(ws, tmp_path):
    import json

    run(ws)
    held = json.loads((latest_model(ws) / "config.json").read_text())["data"]["validation_pieces"]
    out = tmp_path / "eval.json"
    result = subprocess.run([sys.executable, "-m", "ambient", "eval", str(ws.root), "--primer-seconds", "0.5",
                             "--seconds", "1", "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["model"] == str(ws.root) and held
    assert sorted(r["piece"] for r in report["per_piece"]) == sorted(held)
    assert "longest_shared_run" in report["per_piece"][0]["generated"]   # checked against what it trained on
