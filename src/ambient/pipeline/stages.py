"""The pipeline's stages: which layer function each one calls, on which repo.

A stage is `name, version, input repo, output repo, kind (map | reduce), params, fn`.
`fn(inputs, out_dir, params, context)` writes only into out_dir. The work itself lives
in the layers (`audio`, `transcribe`, `codec`, `train`); this module only adapts them.
Bump a stage's version when its code changes what it writes: that reruns it (the specs in
deploy/pachyderm name the version; tests/test_deploy.py says how to rewrite them).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ambient.config import ModelConfig, TrainConfig, declared

SOURCE_REPO = "audio"


@dataclass(frozen=True)
class Stage:
    name: str
    version: int
    input: str
    output: str
    kind: str                       # "map": one datum per input file; "reduce": one over the repo
    fn: Callable
    params: dict = field(default_factory=dict)
    accepts: tuple[str, ...] = ()   # input suffixes this stage reads; empty: all
    keep_history: bool = False      # reduce outputs of earlier runs stay (every model is kept)


def decode_stage(inputs: list[Path], out: Path, params: dict, context: dict) -> None:
    from ambient.audio import decode, write_mono

    [source] = inputs
    write_mono(out / f"{source.stem}.wav", decode(source))


_model = None


def transcribe_stage(inputs: list[Path], out: Path, params: dict, context: dict) -> None:
    global _model
    from ambient.transcribe import BasicPitchModel, transcribe_file

    threads = context.get("threads", 0)  # a pool worker has one core: one ONNX thread
    # One ONNX session per worker process, not per file. A forked worker keeps the one it
    # inherited, whatever its threads: a new session in a fork of a process that has run
    # onnxruntime can hang for good (seen in the tests).
    if _model is None or (_model[0] == os.getpid() and _model[1] != threads):
        _model = (os.getpid(), threads, BasicPitchModel(threads))
    [source] = inputs
    method, tempo = transcribe_settings(params)
    transcribe_file(source, out / f"{source.stem}.mid", method, _model[2], tempo)


def transcribe_settings(params: dict):
    """(transcriber, tempo) from the stage's params: a profile (auto, pluck, pad), clean-up
    settings on top of it, and a tempo for a DAW's grid. Raises on any it cannot use, so
    `pipeline set` refuses them before a run does."""
    from ambient.transcribe import transcriber
    from ambient.transcribe.grid import parse_tempo

    settings = dict(params)
    tempo = settings.pop("tempo", None)
    if tempo is not None:
        parse_tempo(tempo)
    return transcriber("ambient", **settings), tempo


def check_params(stage: str, params: dict) -> None:
    """Raise on stage parameters a run could not use, so `pipeline set` refuses them first."""
    from ambient.errors import ParameterError

    if stage == "transcribe":
        transcribe_settings(params)
    if stage == "train":
        for name in ("minutes", "threads"):
            value = params.get(name, "auto")
            if value != "auto" and not (isinstance(value, (int, float)) and value > 0):
                raise ParameterError(name, f"must be auto or a number above 0, got {value!r}")
        from ambient.device import check_name

        check_name(str(params.get("device", "auto")))
        budget, _ = train_budget({**DEFAULT_PARAMS["train"], **params}, 1)
        TrainConfig(**{k: v for k, v in budget.items() if k in TrainConfig.__dataclass_fields__})


def tokenize_stage(inputs: list[Path], out: Path, params: dict, context: dict) -> None:
    from ambient.codec import TOKEN_SUFFIX, encode_piece, write_tokens
    from ambient.midi import read_midi

    [source] = inputs
    write_tokens(out / f"{source.stem}{TOKEN_SUFFIX}", encode_piece(read_midi(source)))


def train_stage(inputs: list[Path], out: Path, params: dict, context: dict) -> None:
    """Train (or fine-tune) on every token file; resumes in its work dir after a crash.

    Under the Ray executor it trains through Ray Train on `ray_workers` workers (default
    1) with `gpus_per_worker` GPUs each, set like any parameter (`ambient pipeline set
    train.ray_workers=4`); its checkpoints go to Ray's storage path in the work dir.
    """
    import torch

    from ambient.train import train

    log = context.get("log", print)
    params, why = train_budget(params, len(inputs), on_ray="ray" in context)
    torch.set_num_threads(params["threads"])
    work = Path(context["work_dir"])
    data = work / "data"
    if not data.exists():
        data.mkdir(parents=True)
        for source in inputs:
            (data / source.name).symlink_to(source.resolve())
    model_dir = work / "model"
    model_fields = set(ModelConfig.__dataclass_fields__) - {"vocab_size"}
    train_fields = set(TrainConfig.__dataclass_fields__)
    model_config = ModelConfig(**{k: v for k, v in params.items() if k in model_fields})
    cfg = TrainConfig(**{k: v for k, v in params.items() if k in train_fields})
    start, start_why = starting_point(len(inputs), model_config, params.get("start_from", "auto"),
                                      context.get("previous") if params.get("fine_tune") else None)
    log(f"train: {start_why}; {why}")
    resume = (model_dir / "checkpoint").exists()
    if "ray" in context:
        from ambient.cluster.training import train_on_ray

        storage = context["ray"]["storage"]
        train_on_ray(data, model_dir, model_config, cfg, workers=int(params.get("ray_workers", 1)),
                     gpus_per_worker=float(params.get("gpus_per_worker", 0)), resume=resume, init_from=start,
                     threads=int(params.get("threads", 1)), log=log,
                     storage=f"{storage.rstrip('/')}/train/{work.name}" if storage else str(work / "ray"))
    else:
        from ambient.device import resolve

        summary = train(data, model_dir, model_config, cfg, resume=resume, init_from=start, log=log,
                        device=resolve(str(params.get("device", "auto"))),
                        on_step=_progress_reporter(work, cfg, context.get("progress")))
        before, after = summary.get("initial_validation_loss"), summary["best_validation_loss"]
        log(f"train: held-out loss {before:.3f} -> {after:.3f} nats/token ({(after - before) / before:+.0%})"
            if before else f"train: held-out loss {after:.3f} nats/token")
    for name in ("config.json", "model.safetensors"):
        shutil.copyfile(model_dir / name, out / name)


SMALL_COLLECTION = 50  # pieces; below this a model learns more by fine-tuning the bundled one


def starting_point(pieces: int, model_config: ModelConfig, start_from: str = "auto",
                   previous: str | Path | None = None) -> tuple[str | None, str]:
    """Where a pipeline model starts: (model to fine-tune or None for fresh weights, why).

    `previous` (the workspace's last model, when it fine-tunes that) comes first; then
    `start_from`: "bundled", "scratch", or "auto" (the bundled model for a collection of
    fewer than SMALL_COLLECTION pieces, when the shapes allow it).
    """
    if previous is not None:
        return str(previous), f"fine-tuning the workspace's last model {Path(previous).name}"
    from ambient.errors import AmbientError, ParameterError

    if start_from not in ("auto", "bundled", "scratch"):
        raise ParameterError("start_from", f"must be auto, bundled or scratch, not {start_from!r}")
    if start_from == "scratch" or (start_from == "auto" and pieces >= SMALL_COLLECTION):
        return None, f"training from scratch on {pieces} pieces"
    from ambient.checkpoint import DEFAULT_MODEL_DIR, read_config
    from ambient.train import same_weights_shape

    bundled = read_config(DEFAULT_MODEL_DIR).model
    if not same_weights_shape(bundled, model_config):
        if start_from == "bundled":
            raise AmbientError("start_from bundled: the model's shape differs from the bundled model's "
                               f"(layers {bundled.n_layer}, d_model {bundled.d_model}, heads {bundled.n_head})")
        return None, f"training from scratch on {pieces} pieces (the shape asked for is not the bundled model's)"
    why = "asked" if start_from == "bundled" else f"{pieces} pieces is too few to learn music from scratch"
    return "default", f"fine-tuning the bundled model ({why})"


def train_budget(params: dict, pieces: int, on_ray: bool = False) -> tuple[dict, str]:
    """The train stage's minutes, steps and threads, and why, in one line. "auto" minutes
    grow with the collection (MINUTES_PER_PIECE, within MINUTES); "auto" threads are the
    machine's cores (the map stages are done by the time a reduce runs), or one a worker on
    Ray (this machine's cores say nothing of the cluster's); the steps are only a cap. A
    value the user set is kept as it is."""
    params = dict(params)
    reasons = []
    if params.get("minutes", "auto") == "auto":
        params["minutes"] = round(min(MINUTES[1], max(MINUTES[0], MINUTES_PER_PIECE * pieces)), 1)
        reasons.append(f"{params['minutes']:g} minutes for {pieces} pieces")
    else:
        reasons.append(f"{float(params['minutes']):g} minutes as set")
    if params.get("threads", "auto") in ("auto", 0) and on_ray:
        params["threads"] = 1
        reasons.append("1 thread a Ray worker")
    elif params.get("threads", "auto") in ("auto", 0):
        params["threads"] = os.cpu_count() or 1
        reasons.append(f"{params['threads']} threads (this machine's cores)")
    else:
        params["threads"] = int(params["threads"])
        reasons.append(f"{params['threads']} threads as set")
    if params.get("patience"):
        reasons.append(f"stops after {params['patience']} validations without a better held-out loss")
    return params, ", ".join(reasons)


def _progress_reporter(work: Path, cfg: TrainConfig, show=None):
    """A step callback that feeds the run's bar (`show(done, total)`, in seconds when the run
    is budgeted by time) and leaves `progress.json` in the work dir for `pipeline status`."""
    import json
    import time

    last = [0.0]

    def report(state: dict) -> None:
        budget = cfg.minutes * 60 if cfg.minutes > 0 else None
        if show is not None:
            show(min(state["seconds"], budget), budget) if budget else show(state["step"], cfg.steps)
        validated = bool(state["history"]) and state["history"][-1]["step"] == state["step"]
        if time.monotonic() - last[0] < 2 and not validated:
            return
        last[0] = time.monotonic()
        best = state["best_val"] if state["best_val"] != float("inf") else None
        (work / "progress.tmp").write_text(json.dumps({
            "step": state["step"], "steps": cfg.steps, "seconds": round(state["seconds"], 1),
            "budget_seconds": budget, "best_validation_loss": best,
            "initial_validation_loss": state.get("initial_val")}))
        os.replace(work / "progress.tmp", work / "progress.json")

    return report


_MODEL, _TRAIN = declared(ModelConfig), TrainConfig()
MINUTES = (5.0, 30.0)         # the auto time budget's floor and ceiling
MINUTES_PER_PIECE = 0.75      # 12 pieces: 9 minutes, so 12 tracks go from audio to a model within 15
# The train stage's parameters: the model's shape and training loop from their configs;
# by time rather than steps (the steps a cap), on every core, stopping early on held-out loss.
DEFAULT_PARAMS = {
    "decode": {},
    "transcribe": {},
    "tokenize": {},
    "train": {"steps": 100_000, "minutes": "auto", "batch_size": _TRAIN.batch_size, "context": _MODEL.context,
              "n_layer": _MODEL.n_layer, "n_head": _MODEL.n_head, "d_model": _MODEL.d_model,
              "val_every": 25, "patience": 4, "warmup_steps": 10, "fine_tune": False, "start_from": "auto",
              "threads": "auto", "device": "auto"},
}


def standard_stages(params: dict) -> list[Stage]:
    p = {k: {**DEFAULT_PARAMS[k], **params.get(k, {})} for k in DEFAULT_PARAMS}
    return [
        Stage("decode", 1, SOURCE_REPO, "wav", "map", decode_stage, p["decode"],
              accepts=(".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac", ".mp4")),
        # version 2: the profiles and clean-up of 2026-12-02 (knee, re-strikes, echoes) write other notes;
        # version 3: the pluck profile's dry-room knee; 4: its quiet notes; 5: its ends at a release (all 2026-12-03);
        # 6: a release looked for past where the model stopped hearing a held note; 7: and past
        # an early fall that was over before the knee's end
        Stage("transcribe", 7, "wav", "midi", "map", transcribe_stage, p["transcribe"], accepts=(".wav",)),
        Stage("tokenize", 1, "midi", "tokens", "map", tokenize_stage, p["tokenize"], accepts=(".mid",)),
        # version 2: budgeted by time on every core, early stopping, held-out loss before and after
        Stage("train", 2, "tokens", "models", "reduce", train_stage, p["train"], accepts=(".npy",),
              keep_history=True),
    ]
