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


def evaluate_model(model_path: str | Path | None, data: str | Path, cfg: EvalConfig | None = None,
                   train_data: str | Path | None = None, on_piece=None, warn=print) -> dict:
    """Load a model (None: the bundled one; a workspace: its newest) and evaluate it on a folder of MIDI."""
    from ambient.checkpoint import DEFAULT_MODEL_DIR, load_model
    from ambient.pipeline import model_dir

    directory = model_dir(model_path) or DEFAULT_MODEL_DIR
    model, config = load_model(directory)
    config = {**config, "path": str(model_path) if model_path is not None else "bundled"}
    corpus = list(read_pieces(train_data, warn=lambda m: None).values()) if train_data is not None else None
    return evaluate(model, config, read_pieces(data, warn), cfg or EvalConfig(), corpus, on_piece)
