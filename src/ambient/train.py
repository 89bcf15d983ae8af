"""Training the Music Transformer on a folder of MIDI or token files.

One function, `train`, serves `ambient train`, `torchrun -m ambient train` (DDP with
gloo on CPU, or nccl on GPUs) and the pipeline's train stage. Every random choice at
step s comes from a generator seeded by (seed, s, rank), so a resumed run continues
exactly where the stopped one would have gone, with no RNG state to save.

The output directory holds the best model so far (`config.json`, `model.safetensors`)
and `checkpoint/` with the latest weights and optimizer state for `--resume`.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file

from ambient.checkpoint import WEIGHTS, save_model_dir
from ambient.codec import DEFAULT_CODEC, PAD, TOKEN_SUFFIX, decode, encode_piece, read_tokens, restated_window
from ambient.errors import AmbientError, ParameterError
from ambient.files import atomic_dir, recover_dir, write_text
from ambient.config import ModelConfig, TrainConfig
from ambient.model import MusicTransformer
from ambient.notes import stretch, transpose

MIDI_SUFFIXES = (".mid", ".midi")


@dataclass
class Piece:
    name: str
    notes: list


def load_pieces(data_dir: str | Path, warn=print) -> list[Piece]:
    """Every readable MIDI or token file under data_dir; a bad file is reported and skipped."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise AmbientError(f"{data_dir}: no such folder")
    pieces = []
    for path in sorted(p for p in data_dir.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES + (TOKEN_SUFFIX,)):
        try:
            if path.suffix.lower() == TOKEN_SUFFIX:
                notes = decode(read_tokens(path))
            else:
                # imported here: training on token files needs no MIDI library, so a bare GPU
                # machine with torch, numpy and safetensors can train (scripts/train_on_gpu.py)
                from ambient.midi import read_midi
                notes = read_midi(path)
        except (AmbientError, ValueError, OSError) as e:
            warn(f"skipped {e}" if isinstance(e, AmbientError) else f"skipped {path}: {e}")
            continue
        if notes:
            pieces.append(Piece(str(path.relative_to(data_dir)), notes))
    return pieces


def split_pieces(pieces: list[Piece], val_fraction: float, seed: int) -> tuple[list[Piece], list[Piece]]:
    """A random file-level split, so no piece is in both halves."""
    if len(pieces) < 2:
        raise AmbientError(f"need at least 2 readable MIDI or token files to train and validate, found {len(pieces)}")
    order = np.random.default_rng(seed).permutation(len(pieces))
    n_val = min(len(pieces) - 1, max(1, round(len(pieces) * val_fraction)))
    return [pieces[i] for i in order[n_val:]], [pieces[i] for i in order[:n_val]]


def sample_batch(pieces: list[Piece], weights: np.ndarray, batch: int, context: int, cfg: TrainConfig,
                 rng: np.random.Generator) -> torch.Tensor:
    """(batch, context + 1) tokens: random augmented windows, pad-filled at a piece's end."""
    out = np.full((batch, context + 1), PAD, dtype=np.int64)
    for row in range(batch):
        piece = pieces[rng.choice(len(pieces), p=weights)]
        notes = transpose(piece.notes, int(rng.integers(-cfg.transpose, cfg.transpose + 1)))
        notes = stretch(notes, float(rng.uniform(1 - cfg.stretch, 1 + cfg.stretch)))
        tokens = encode_piece(notes)
        # a generated piece starts from a primer's first note, so some windows start there too:
        # a window from the middle reads like the middle, and a piece's opening is its own (sparser) music
        opening = cfg.openings > 0 and rng.random() < cfg.openings
        begin = 0 if opening else int(rng.integers(0, max(1, len(tokens) - context)))
        window = restated_window(tokens, begin, context + 1)
        out[row, :len(window)] = window
    return torch.from_numpy(out)


def validation_windows(pieces: list[Piece], context: int, limit: int) -> torch.Tensor:
    """Consecutive windows of the held-out pieces, unaugmented, the same on every run."""
    rows = []
    for piece in pieces:
        tokens = encode_piece(piece.notes)
        for begin in range(0, max(1, len(tokens) - 1), context):
            window = np.full(context + 1, PAD, dtype=np.int64)
            chunk = tokens[begin:begin + context + 1]
            window[:len(chunk)] = chunk
            rows.append(window)
    step = max(1, len(rows) // limit)
    return torch.from_numpy(np.stack(rows[::step][:limit]))


@torch.no_grad()
def evaluate(model: MusicTransformer, windows: torch.Tensor, batch: int = 8) -> float:
    """Mean validation loss in nats per (non-pad) token."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch):
        x = windows[i:i + batch].to(next(model.parameters()).device)
        _, loss = model(x[:, :-1], x[:, 1:])
        n = int((x[:, 1:] != PAD).sum())
        total += float(loss) * n
        count += n
    model.train()
    return total / max(count, 1)


def learning_rate(step: int, cfg: TrainConfig, seconds: float = 0.0) -> float:
    """Linear warmup, then cosine decay to a tenth of the peak, over the steps or the time
    budget, whichever runs out first (a run budgeted by minutes still ends its decay)."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    if cfg.minutes > 0:
        progress = max(progress, seconds / (cfg.minutes * 60))
    return cfg.learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress))))


def _save_checkpoint(directory: Path, model, optimizer, state: dict) -> None:
    with atomic_dir(directory) as scratch:
        _write_checkpoint(scratch, model, optimizer, state)


def _write_checkpoint(scratch: Path, model, optimizer, state: dict) -> None:
    save_file({k: v.contiguous() for k, v in model.state_dict().items() if k != "head.weight"},
              str(scratch / WEIGHTS))
    opt = optimizer.state_dict()
    tensors = {f"{i}.{k}": v.reshape(-1) if v.dim() == 0 else v
               for i, s in opt["state"].items() for k, v in s.items()}
    save_file(tensors, str(scratch / "optimizer.safetensors"))
    (scratch / "state.json").write_text(json.dumps({**state, "param_groups": opt["param_groups"]}, indent=1))


def _load_checkpoint(directory: Path, model, optimizer) -> dict:
    state = json.loads((directory / "state.json").read_text())
    weights = load_file(str(directory / WEIGHTS))
    model.load_state_dict(weights, strict=False)
    flat = load_file(str(directory / "optimizer.safetensors"))
    opt_state: dict = {}
    for key, value in flat.items():
        index, name = key.split(".", 1)
        opt_state.setdefault(int(index), {})[name] = value.reshape(()) if name == "step" else value
    optimizer.load_state_dict({"state": opt_state, "param_groups": state.pop("param_groups")})
    return state


def _distributed(device: str) -> tuple[int, int, str]:
    """(rank, world size, this rank's device). Joins the process group when launched by
    torchrun (Ray Train has joined it already). On GPUs each rank takes its own device by
    LOCAL_RANK, and the backend follows the device asked for, not what the machine has
    (a CPU run on a GPU machine all-reduces CPU tensors, which only gloo can)."""
    world = dist.get_world_size() if dist.is_initialized() else int(os.environ.get("WORLD_SIZE", "1"))
    cuda = str(device).startswith("cuda")
    if cuda:
        if not torch.cuda.is_available():
            raise AmbientError(f"device {device}: torch sees no GPU here")
        if str(device) == "cuda":
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}"
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return (dist.get_rank(), world, str(device)) if world > 1 else (0, 1, str(device))


def train(data_dir: str | Path, out_dir: str | Path, model_config: ModelConfig | None = None,
          cfg: TrainConfig | None = None, *, resume: bool = False, device: str = "cpu",
          init_from: str | Path | None = None, progress=None, log=print, on_validation=None, on_step=None,
          **info) -> dict:
    """Train on data_dir, keep the best model in out_dir; returns the summary in config.json.

    `init_from` starts from another model directory's weights (fine-tuning, "default" for
    the bundled model); it must have the same architecture, but a relative-attention
    model may be fine-tuned at another context length (its weights do not depend on it).
    `on_validation(rank, state)` runs on every rank after each validation, once rank 0
    has written out_dir (Ray Train reports its checkpoint there); `on_step(state)` on rank 0
    after every step (the pipeline's progress). `cfg.patience` stops the run once that many
    validations in a row found no better held-out loss.
    """
    cfg = cfg or TrainConfig()
    if cfg.learning_rate is None:
        cfg = replace(cfg, learning_rate=cfg.fine_tune_learning_rate if init_from is not None
                      else cfg.scratch_learning_rate)
    model_config = model_config or ModelConfig()
    out_dir = Path(out_dir)
    checkpoint = out_dir / "checkpoint"
    # a save killed part way: we are the only writer of both, so finish or undo it
    recover_dir(out_dir, keep=(checkpoint.name,), writer=True, sweep=True)
    recover_dir(checkpoint, writer=True, sweep=True)
    if checkpoint.exists() and not resume:
        raise AmbientError(f"{out_dir}: holds a training checkpoint; pass --resume to continue it "
                           "or choose another --out")
    if resume and not checkpoint.exists():
        raise AmbientError(f"{checkpoint}: no checkpoint to resume")
    rank, world, device = _distributed(device)
    if cfg.batch_size % world:
        raise ParameterError("batch_size", f"{cfg.batch_size} does not divide over {world} processes")
    pieces = load_pieces(data_dir, warn=log if rank == 0 else (lambda message: None))
    train_set, val_set = split_pieces(pieces, cfg.val_fraction, cfg.seed)
    sizes = np.array([len(p.notes) for p in train_set], dtype=float)
    weights = sizes / sizes.sum()
    val_windows = validation_windows(val_set, model_config.context, cfg.max_val_windows)

    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    model = MusicTransformer(model_config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate,
                                  weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    state = {"step": 0, "best_val": float("inf"), "best_step": 0, "history": [], "seconds": 0.0}
    if init_from is not None and not resume:
        from ambient.checkpoint import load_model

        base, _ = load_model(None if str(init_from) == "default" else init_from)
        if not same_weights_shape(base.config, model.config):
            raise AmbientError(f"{init_from}: cannot fine-tune from a model of another shape "
                               f"({base.config.to_dict()} against {model.config.to_dict()})")
        # a base without the sounding-notes input gains it, starting from zero (a no-op)
        model.load_state_dict(base.state_dict(), strict=base.config.sounding_input == model.config.sounding_input)
        info = {**info, "fine_tuned_from": str(init_from)}
    if resume:
        state = _load_checkpoint(checkpoint, model, optimizer)
        state["resumed_at"] = [*state.get("resumed_at", []), state["step"]]
        if rank == 0:
            log(f"resumed from {checkpoint} at step {state['step']}")
    cuda = device.startswith("cuda")
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[torch.device(device).index] if cuda else None
                                                    ) if world > 1 else model
    summary = {
        "data": {"folder": str(data_dir), "train_files": len(train_set), "validation_files": len(val_set),
                 "train_notes": int(sizes.sum()), "validation_windows": len(val_windows),
                 "validation_pieces": sorted(p.name for p in val_set)},
        "training": {**asdict(cfg), "processes": world, "device": device},
        "parameters": model.num_parameters(),
    }
    if init_from is not None and not resume:
        # where the fine-tune starts from, so its gain can be said in one line at the end
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
            state["initial_val"] = evaluate(model, val_windows)
        if rank == 0:
            log(f"held-out loss before training: {state['initial_val']:.3f} nats/token")
    summary["metrics"] = {"initial_validation_loss": round(state["initial_val"], 4)} if "initial_val" in state else {}
    started = time.monotonic() - state["seconds"]
    model.train()
    task = progress.add_task("training", total=cfg.steps, completed=state["step"]) if progress and rank == 0 else None
    while state["step"] < cfg.steps:
        step = state["step"]
        rng = np.random.default_rng([cfg.seed, step, rank])
        torch.manual_seed(cfg.seed * 1_000_003 + step * world + rank)  # dropout masks
        batch = sample_batch(train_set, weights, cfg.batch_size // world, model_config.context, cfg, rng).to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg, state["seconds"])
        # bf16 autocast on GPUs (no loss scaling needed, unlike fp16); CPU stays fp32
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            _, loss = net(batch[:, :-1], batch[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        loss = loss.item()
        state["step"] = step = step + 1
        state["seconds"] = time.monotonic() - started
        out_of_time = _agree(cfg.minutes > 0 and state["seconds"] > cfg.minutes * 60, world, device)
        if step % cfg.val_every == 0 or step == cfg.steps or out_of_time:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                val = evaluate(model, val_windows)
            state["history"].append({"step": step, "train_loss": round(loss, 4),
                                     "validation_loss": round(val, 4), "seconds": round(state["seconds"], 1)})
            if rank == 0:
                if val < state["best_val"]:
                    state["best_val"], state["best_step"] = val, step
                    summary["metrics"].update({"validation_loss_nats_per_token": round(val, 4), "best_step": step,
                                               "steps": step, "history": state["history"]})
                    save_model_dir(out_dir, model, DEFAULT_CODEC, keep=(checkpoint.name,), **summary, **info)
                _save_checkpoint(checkpoint, model, optimizer, state)
                log(f"step {step}: train loss {loss:.3f}, validation {val:.3f} nats/token "
                    f"(best {state['best_val']:.3f} at step {state['best_step']})")
            if world > 1:
                dist.barrier()
            if on_validation is not None:
                on_validation(rank, state)
        if task is not None:
            progress.update(task, completed=step, description=f"training (loss {loss:.3f})")
        if on_step is not None and rank == 0:
            on_step(state)
        if out_of_time:
            break
        if _agree(stalled(state["history"], state["best_step"], cfg.patience), world, device):
            state["stopped_early"] = step
            if rank == 0:
                log(f"stopping early at step {step}: no better held-out loss in {cfg.patience} validations")
            break
    with torch.no_grad():
        checksum = float(sum(p.double().sum() for p in model.parameters()))
    log(f"rank {rank}: finished at step {state['step']}, parameter checksum {checksum:.6f}")
    if world > 1:
        dist.barrier()  # before tearing down, or gloo may abort at exit
        dist.destroy_process_group()
    if rank == 0:
        record_history(out_dir, state)
    return {**summary, "best_validation_loss": state["best_val"], "steps": state["step"],
            "initial_validation_loss": state.get("initial_val"), "stopped_early": state.get("stopped_early")}


def model_shape(asked: ModelConfig, init_from: str | Path | None, chosen: set[str]) -> ModelConfig:
    """The model a run trains: `asked` from scratch, or the shape of the model it fine-tunes
    (`init_from`: 'default' for the bundled one, or a model directory) with the fields the user
    `chosen` that a fine-tune may change (`fine_tune_shape`)."""
    if init_from is None:
        return asked
    return fine_tune_shape(None if str(init_from) == "default" else init_from, asked, chosen)


def fine_tune_shape(base: str | Path | None, asked: ModelConfig, chosen: set[str]) -> ModelConfig:
    """The shape a fine-tune of `base` (a model directory; None: the bundled model) trains:
    the base's own, with the context and dropout taken from `asked` when the user chose them
    (`chosen`), and the sounding-notes input when asked for (a base without it gains it as a
    no-op). Any other field chosen unlike the base's is an error naming it."""
    from ambient.checkpoint import DEFAULT_MODEL_DIR, read_config

    shape = read_config(base if base is not None else DEFAULT_MODEL_DIR).model
    for name in sorted(chosen - {"context", "dropout", "sounding_input"}):
        if getattr(asked, name) != getattr(shape, name):
            raise ParameterError(name, f"{getattr(asked, name)}: a fine-tuned model keeps the shape of the one it "
                                       f"starts from ({name} {getattr(shape, name)}); only the context and "
                                       "dropout may change")
    kept = (chosen & {"context", "dropout"}) | ({"sounding_input"} if asked.sounding_input else set())
    return ModelConfig.from_dict({**shape.to_dict(), **{k: getattr(asked, k) for k in kept}})


def same_weights_shape(a: ModelConfig, b: ModelConfig) -> bool:
    """Whether weights of `a` fit `b`: dropout never matters, nor context under relative attention,
    and `b` may add the sounding-notes input that `a` lacks (it starts as a no-op)."""
    ignore = {"dropout"} | ({"context"} if a.positions == b.positions == "relative" else set()) | (
        {"sounding_input"} if b.sounding_input else set())
    return {k: v for k, v in a.to_dict().items() if k not in ignore} == \
        {k: v for k, v in b.to_dict().items() if k not in ignore}


def stalled(history: list[dict], best_step: int, patience: int) -> bool:
    """Whether the last `patience` validations all came after the best one (0: never)."""
    return patience > 0 and len([h for h in history if h["step"] > best_step]) >= patience


def _agree(flag: bool, world: int, device: str = "cpu") -> bool:
    """True on every rank when any rank says so (rank 0's clock stops everyone together)."""
    if world == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)  # nccl reduces only GPU tensors
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def record_history(out_dir: Path, state: dict) -> None:
    """Add the whole run's history to the best model's config.json."""
    path = out_dir / "config.json"
    if path.exists():
        config = json.loads(path.read_text())
        config.setdefault("metrics", {})["history"] = state["history"]
        config["metrics"]["steps"] = state["step"]
        if state.get("stopped_early"):
            config["metrics"]["stopped_early"] = state["stopped_early"]
        if state.get("resumed_at"):
            config["metrics"]["resumed_at"] = state["resumed_at"]
        write_text(path, json.dumps(config, indent=2, sort_keys=True) + "\n")
