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


def evaluate_model(model_dir: str | Path | None, pieces: dict[str, list], cfg: EvalConfig | None = None,
                   corpus: list[list] | None = None, on_piece=None, warn=print, label: str | None = None,
                   device: str = "cpu") -> dict:
    """Evaluate a model directory (None: the bundled model) on held-out pieces (name -> notes);
    `corpus`, the pieces it trained on, for the copy check. Each piece eval leaves out is
    reported through `warn`. (A workspace's model and held-out pieces: `ambient.pipeline.evaluation_set`.)"""
    from ambient.checkpoint import DEFAULT_MODEL_DIR, load_model

    model, card = load_model(model_dir or DEFAULT_MODEL_DIR, device=device)
    if label is not None:                    # read_config names it by its folder, or "bundled"
        card = card.labelled(label)
    report = evaluate(model, card, pieces, cfg or EvalConfig(), corpus, on_piece)
    for name, why in report["skipped"].items():
        warn(f"skipped {name}: {why}")
    return report
