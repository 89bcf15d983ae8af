"""Measuring music: held-out likelihood and how well continuations keep their primer's style.

    from ambient.evaluate import EvalConfig, evaluate_model, write_report

`metrics` holds the measures (pure functions on notes, usable on any generator's output);
`likelihood` the held-out NLL by token type; `report` the evaluation and its JSON and PNG.
"""

from __future__ import annotations

from pathlib import Path

from ambient.errors import AmbientError
from ambient.evaluate.report import EvalConfig, evaluate, write_report

__all__ = ["EvalConfig", "evaluate", "evaluate_model", "read_pieces", "write_report"]


def read_pieces(folder: str | Path, warn=print) -> dict[str, list]:
    """Every readable MIDI file under a folder, by relative name; a bad file is reported and skipped."""
    from ambient.midi import read_midi

    folder = Path(folder)
    if not folder.is_dir():
        raise AmbientError(f"{folder}: no such folder")
    pieces = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi")):
        try:
            pieces[str(path.relative_to(folder))] = read_midi(path)
        except AmbientError as e:
            warn(f"skipped {e}")
    if not pieces:
        raise AmbientError(f"{folder}: no readable MIDI files to evaluate on")
    return pieces


def held_out_split(workspace: str | Path, model_dir: str | Path) -> tuple[dict[str, list], dict[str, list]]:
    """(held-out pieces, training pieces) of a workspace model: the files its training kept
    for validation, and the rest, read back from the workspace's token repo."""
    import json

    from ambient.codec import decode, read_tokens
    from ambient.pipeline import Workspace

    data = json.loads((Path(model_dir) / "config.json").read_text()).get("data", {})
    tokens = Workspace(workspace).repo("tokens")
    held = set(data.get("validation_pieces", []))
    split: tuple[dict, dict] = ({}, {})
    for path in sorted(tokens.glob("*.npy")):
        split[0 if path.name in held else 1][path.name] = decode(read_tokens(path))
    if not split[0]:
        raise AmbientError(f"{workspace}: the newest model names no held-out piece still in {tokens}")
    return split


def evaluate_model(model_path: str | Path | None, data: str | Path, cfg: EvalConfig | None = None,
                   train_data: str | Path | None = None, on_piece=None, warn=print) -> dict:
    """Evaluate a model (None: the bundled one; a workspace: its newest) on a folder of MIDI.

    `data` may be a pipeline workspace instead: then its newest model (unless another is
    given) is continued on the pieces its training held out, and copies are checked
    against the pieces it trained on.
    """
    from ambient.checkpoint import DEFAULT_MODEL_DIR, load_model
    from ambient.pipeline import is_workspace, model_dir

    corpus = list(read_pieces(train_data, warn=lambda m: None).values()) if train_data is not None else None
    if is_workspace(data):
        model_path = model_path if model_path is not None else data
        pieces, trained_on = held_out_split(data, model_dir(data))
        corpus = corpus if corpus is not None else list(trained_on.values())
    else:
        pieces = read_pieces(data, warn)
    model, config = load_model(model_dir(model_path) or DEFAULT_MODEL_DIR)
    config = {**config, "path": str(model_path) if model_path is not None else "bundled"}
    report = evaluate(model, config, pieces, cfg or EvalConfig(), corpus, on_piece)
    for name, why in report["skipped"].items():
        warn(f"skipped {name}: {why}")
    return report
