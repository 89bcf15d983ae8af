"""Model directories: `config.json` + `model.safetensors`, and the bundled default.

Loading never unpickles: weights are safetensors, settings are JSON. A directory that
is missing a file, holds damaged weights, or was written for another codec gets one
clear error naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ambient.codec import CodecConfig, DEFAULT_CODEC, vocab_size
from ambient.errors import AmbientError
from ambient.files import atomic_dir, recover_dir
from ambient.model import ModelConfig, MusicTransformer

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
DEFAULT_MODEL_DIR = Path(__file__).parent / "data" / "default-model"


def save_model_dir(directory: str | Path, model: MusicTransformer, codec: CodecConfig = DEFAULT_CODEC,
                   keep: tuple[str, ...] = (), **info) -> Path:
    """Write a model directory atomically: a complete new one replaces the old.

    Entries named in `keep` (training's `checkpoint/`) move from the old one to the new.
    """
    directory = Path(directory)
    with atomic_dir(directory, keep) as scratch:
        config = {"model": model.config.to_dict(), "codec": codec.to_dict(), **info}
        (scratch / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()
                   if k != "head.weight"}  # tied to embed.weight
        save_file(weights, str(scratch / WEIGHTS))
    return directory


@dataclass(frozen=True)
class ModelCard:
    """A model directory's config.json, read and checked: the model's shape, its codec, and what
    training wrote beside them (data, settings, metrics)."""
    model: ModelConfig
    codec: CodecConfig
    info: dict = field(default_factory=dict)
    path: str = "bundled"             # where it came from, as a report names it

    def labelled(self, path: str) -> "ModelCard":
        return replace(self, path=path)


def read_config(directory: str | Path) -> ModelCard:
    recover_dir(directory)  # a save killed between its two renames
    path = Path(directory) / CONFIG
    if not Path(directory).is_dir():
        raise AmbientError(f"{directory}: no such model directory")
    if not path.exists():
        raise AmbientError(f"{path}: missing (a model directory holds {CONFIG} and {WEIGHTS})")
    try:
        config = json.loads(path.read_text())
        model = ModelConfig.from_dict(config["model"])
        codec = CodecConfig.from_dict(config["codec"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise AmbientError(f"{path}: not a valid model config ({type(e).__name__}: {e})") from None
    if (codec.name, codec.version) != (DEFAULT_CODEC.name, DEFAULT_CODEC.version):
        raise AmbientError(f"{path}: written for codec {codec.name} v{codec.version}; "
                           f"this version reads {DEFAULT_CODEC.name} v{DEFAULT_CODEC.version}")
    info = {k: v for k, v in config.items() if k not in ("model", "codec")}
    label = "bundled" if Path(directory).resolve() == DEFAULT_MODEL_DIR.resolve() else str(directory)
    return ModelCard(model, codec, info, label)


def load_model(directory: str | Path | None = None, device: str = "cpu") -> tuple[MusicTransformer, ModelCard]:
    """The model in a directory (the bundled default when None) and its card (config.json, typed)."""
    directory = Path(directory) if directory is not None else DEFAULT_MODEL_DIR
    card = read_config(directory)
    model_config, codec = card.model, card.codec
    if model_config.vocab_size != vocab_size(codec):
        raise AmbientError(f"{directory / CONFIG}: vocab_size {model_config.vocab_size} does not fit "
                           f"the codec's {vocab_size(codec)} tokens")
    weights_path = directory / WEIGHTS
    if not weights_path.exists():
        raise AmbientError(f"{weights_path}: missing")
    try:
        weights = load_file(str(weights_path), device=device)
    except (SafetensorError, OSError, ValueError) as e:
        raise AmbientError(f"{weights_path}: damaged weights file ({e})") from None
    model = MusicTransformer(model_config)
    weights = {k: v.float() for k, v in weights.items()}
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as e:  # shapes differ from config.json
        detail = str(e).strip().splitlines()[-1].strip()
        raise AmbientError(f"{weights_path}: does not match {CONFIG} ({detail})") from None
    missing = [k for k in missing if k != "head.weight"]
    if missing or unexpected:
        raise AmbientError(f"{weights_path}: does not match {CONFIG} "
                           f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.to(device).eval(), card
