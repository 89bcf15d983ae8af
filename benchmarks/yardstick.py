"""Real ambient music as a yardstick: the fixed artist split and the judging, shared by
`ambient_real.py` (the bundled model on held-out artists), `collection.py` (a collection
fine-tuned from MIDI) and `collection_from_audio.py` (the pipeline from audio).

The pieces live in `../shared/ambient-real/pieces` beside the checkout (see its README):
never copied here, never trained on for anything we ship. The split is by **artist**
(pieces of one artist are alike) and written down below, so it is the same every time:

- `TUNE`: artists whose pieces may steer choices (the composer's shares, a recipe);
- `REPORT`: artists we only report on. Artists with one or two pieces go to one side or
  the other by their name's hash, so a new file never moves an old one.

A collection (one artist's pieces, as a user would have) is cut by `collection_split`:
sorted by name, the last `judged` pieces are judged (each as up to four 80 s windows,
`segments`), the others learnt from (up to 12).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "ambient-real" / "pieces"
TUNE = ("liquidmind", "rudyadrian", "deuter", "ulflohmann", "gas", "andrewthomas")
REPORT = ("subtractivelad", "zenhanami", "markusguentner", "triola", "popnoname")
PER_ARTIST = 3          # pieces an artist gives a yardstick set at most, so no one artist speaks for all
# collections: artist -> pieces judged (the rest, up to 12, are learnt from)
COLLECTIONS = {"liquidmind": 6, "subtractivelad": 3, "rudyadrian": 3, "zenhanami": 3, "deuter": 2}


def artist(path: Path) -> str:
    return path.name.split("-", 1)[0]


def by_artist(folder: Path = REAL) -> dict[str, list[Path]]:
    if not folder.is_dir():
        sys.exit(f"{folder}: not here (the real ambient set sits in ../shared beside the checkout)")
    out: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(folder.glob("*.mid")):
        out[artist(path)].append(path)
    return dict(out)


def side(name: str) -> str:
    if name in TUNE:
        return "tune"
    if name in REPORT:
        return "report"
    return "tune" if hashlib.sha1(name.encode()).digest()[0] % 2 == 0 else "report"


def yardstick_paths(which: str, folder: Path = REAL) -> list[Path]:
    """The pieces of one side of the split, at most PER_ARTIST from each artist."""
    return [p for name, paths in by_artist(folder).items() if side(name) == which for p in paths[:PER_ARTIST]]


def collection_split(name: str, folder: Path = REAL) -> tuple[list[Path], list[Path]]:
    """(pieces learnt from, pieces judged) of one artist's collection."""
    paths = by_artist(folder)[name]
    judged = COLLECTIONS[name]
    return paths[:-judged][:12], paths[-judged:]


def read(paths: list[Path]) -> dict:
    from ambient.midi import read_midi

    return {p.name: read_midi(p) for p in paths}


def segments(pieces: dict, span: float = 80.0, most: int = 4) -> dict:
    """Each piece cut into up to `most` back-to-back windows of `span` seconds (eval's primer
    and continuation), each judged as a piece: an artist with three pieces left to judge
    still gives enough real continuations for a feature overlap (it needs three or more)."""
    from ambient.notes import Note

    out = {}
    for name, notes in pieces.items():
        for k in range(most):
            begin = k * span
            window = [Note(n.start - begin, min(n.end, begin + span) - begin, n.pitch, n.velocity, n.program)
                      for n in notes if begin <= n.start < begin + span]
            if window and max(n.start for n in window) >= span * 0.9:
                out[f"{name}#{k}"] = window
    return out


def judge(model_path, pieces: dict, takes: int = 2, seed: int = 0, controls=None, device: str = "cpu") -> dict:
    """`ambient eval`'s report of a model (None: bundled; a workspace: its newest) on these
    pieces, at eval's defaults."""
    from ambient.checkpoint import DEFAULT_MODEL_DIR, load_model
    from ambient.evaluate import EvalConfig, evaluate
    from ambient.pipeline import model_dir

    model, card = load_model(model_dir(model_path) or DEFAULT_MODEL_DIR)
    model.to(device)
    cfg = EvalConfig(pieces=len(pieces), takes=takes, seed=seed)
    if controls is not None:
        cfg.controls = controls
    return evaluate(model, card.labelled(str(model_path or "bundled")), pieces, cfg)


def figures(report: dict) -> dict:
    """The figures the issues ask for, out of one eval report."""
    made, real = report["summary"]["generated"], report["summary"]["real"]
    return {
        "pieces": report["pieces"],
        "nll": report["held_out_nll"]["nats_per_token"],
        "nll_by_type": report["held_out_nll"].get("by_type"),
        "overlap": report["feature_overlap"],
        "notes_per_minute": round(made["notes"]["mean"] * 60 / report["settings"]["seconds"], 1),
        "real_notes_per_minute": round(real["notes"]["mean"] * 60 / report["settings"]["seconds"], 1),
        "key_fidelity": made["key_fidelity"]["mean"], "key_fidelity_sem": made["key_fidelity"]["sem"],
        "real_key_fidelity": real["key_fidelity"]["mean"],
        "degenerate": made["degenerate"],
    }


def emit(record: dict) -> None:
    print(json.dumps(record, default=float), flush=True)
