"""Training on Ray Train: the same `ambient.train.train` on N workers under a TorchTrainer.

Ray starts the workers and joins them into a process group (gloo on CPUs, nccl on
GPUs); each runs `train` exactly as a torchrun rank would (same seed, same per-rank
batches), so the weights equal a torchrun run's. At every validation rank 0's model
folder (best model + `checkpoint/`) is reported to Ray, which copies it to the run's
storage path. When a worker dies, FailureConfig restarts the group and every worker
resumes from that checkpoint; resuming is exact (the data order is a function of the
step), so the final weights equal a run that was never stopped. The driver copies the
last checkpoint to the output folder, where `--resume` and `ambient generate` find it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
import tempfile
from pathlib import Path

from ambient.cluster import connect, disconnect, require_ray
from ambient.config import ModelConfig, TrainConfig
from ambient.errors import AmbientError, ParameterError

RUN_NAME = "train"
MAX_FAILURES = 3  # worker deaths a run survives


def _worker(config: dict) -> None:
    """One Ray Train worker: restore the latest checkpoint if any, then train."""
    import ray.train
    import torch

    from ambient.train import train

    torch.set_num_threads(config["threads"])
    context = ray.train.get_context()
    rank = context.get_world_rank()
    out = Path(tempfile.mkdtemp(prefix=f"ambient-train-{rank}-"))
    start = ray.train.get_checkpoint()
    if start is not None:
        start.to_directory(str(out))

    def report(rank: int, state: dict) -> None:
        metrics = {"step": state["step"], "validation_loss": state["history"][-1]["validation_loss"]}
        checkpoint = ray.train.Checkpoint.from_directory(str(out)) if rank == 0 else None
        ray.train.report(metrics, checkpoint=checkpoint)

    try:
        train(config["data"], out, ModelConfig.from_dict(config["model"]), TrainConfig(**config["train"]),
              resume=start is not None, device=config["device"], init_from=config["init_from"],
              on_validation=report, log=print, **config["info"])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def train_on_ray(data_dir: str | Path, out_dir: str | Path, model_config: ModelConfig, cfg: TrainConfig, *,
                 workers: int, gpus_per_worker: float = 0, address: str | None = None,
                 storage: str | None = None, resume: bool = False, init_from: str | Path | None = None,
                 threads: int = 1, max_failures: int = MAX_FAILURES, log=print, **info) -> dict:
    """Train on `workers` Ray workers; the best model ends in out_dir as with `train`.

    `storage` is Ray's storage path for checkpoints (a folder every node mounts, or
    s3:// gs://); by default OUT.ray beside the output folder. `data_dir` must be
    readable by every worker (a shared folder, or baked into the image).
    """
    if workers < 1:
        raise ParameterError("ray_workers", f"must be at least 1, not {workers}")
    if cfg.batch_size % workers:
        raise ParameterError("batch_size", f"{cfg.batch_size} does not divide over {workers} Ray workers")
    ray = require_ray()
    from ray.train import Checkpoint, CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    out_dir = Path(out_dir).resolve()
    checkpoint = out_dir / "checkpoint"
    if checkpoint.exists() and not resume:
        raise AmbientError(f"{out_dir}: holds a training checkpoint; pass --resume to continue it "
                           "or choose another --out")
    if resume and not checkpoint.exists():
        raise AmbientError(f"{checkpoint}: no checkpoint to resume")
    storage = storage or str(out_dir.with_name(out_dir.name + ".ray"))
    config = {"data": str(Path(data_dir).resolve()), "model": model_config.to_dict(),
              "train": asdict(cfg), "device": "cuda" if gpus_per_worker else "cpu",
              "init_from": None if init_from is None else str(init_from), "threads": threads,
              "info": {**info, "engine": f"ray train on {workers} worker{'s' if workers > 1 else ''}"}}
    started = connect(address, cpus=None if address else max(workers, 1))
    try:
        resources = {"CPU": threads, **({"GPU": gpus_per_worker} if gpus_per_worker else {})}
        trainer = TorchTrainer(
            _worker, train_loop_config=config,
            scaling_config=ScalingConfig(num_workers=workers, use_gpu=bool(gpus_per_worker),
                                         resources_per_worker=resources),
            run_config=RunConfig(name=RUN_NAME, storage_path=storage,
                                 failure_config=FailureConfig(max_failures=max_failures),
                                 checkpoint_config=CheckpointConfig(num_to_keep=2)),
            resume_from_checkpoint=Checkpoint.from_directory(str(out_dir)) if resume else None)
        try:
            result = trainer.fit()
        except Exception as e:  # Ray wraps the worker's error; show its last line
            lines = [line for line in str(e).strip().splitlines() if line.strip()]
            raise AmbientError(f"training on Ray failed: {lines[-1] if lines else type(e).__name__}") from e
        if result.checkpoint is None:
            raise AmbientError(f"training on Ray reported no checkpoint (storage {storage})")
        with result.checkpoint.as_directory() as folder:
            _take(Path(folder), out_dir)
    finally:
        disconnect(started)
    from ambient.train import record_history

    state = json.loads((checkpoint / "state.json").read_text())
    record_history(out_dir, state)
    summary = json.loads((out_dir / "config.json").read_text())
    for entry in state["history"]:
        log(f"step {entry['step']}: train loss {entry['train_loss']:.3f}, "
            f"validation {entry['validation_loss']:.3f} nats/token")
    return {**summary, "best_validation_loss": state["best_val"], "steps": state["step"]}


def _take(folder: Path, out_dir: Path) -> None:
    """Copy a reported checkpoint (best model + checkpoint/) into out_dir, replacing it whole."""
    from ambient.files import atomic_dir

    with atomic_dir(out_dir) as scratch:
        shutil.copytree(folder, scratch, dirs_exist_ok=True)
