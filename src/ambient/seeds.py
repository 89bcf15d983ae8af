"""The seed MIDIs that ship with ambient, found in an installed wheel or a source checkout."""

from __future__ import annotations

from pathlib import Path

from ambient.errors import AmbientError
from ambient.midi import read_midi
from ambient.notes import piece_end

_PACKAGED = Path(__file__).parent / "data" / "seeds"     # inside a built wheel
_CHECKOUT = Path(__file__).parents[2] / "samples" / "midi"  # an editable install


def seeds_dir() -> Path:
    return _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT


def seed_paths() -> list[Path]:
    paths = list(seeds_dir().glob("*.mid"))
    return sorted(paths, key=lambda p: (len(p.stem), p.stem))  # 1, 2, ... 10 in numeric order


def resolve_primer(name_or_path: str) -> Path:
    """A path as given, or a bundled seed by name: '3', '3.mid'."""
    path = Path(name_or_path)
    if path.exists():
        return path
    seed = seeds_dir() / (name_or_path if name_or_path.endswith(".mid") else f"{name_or_path}.mid")
    if "/" not in name_or_path and seed.exists():
        return seed
    raise AmbientError(f"{name_or_path}: no such file or bundled seed (see `ambient seeds`)")


def describe_seeds() -> list[dict]:
    rows = []
    for path in seed_paths():
        notes = read_midi(path)
        rows.append({"name": path.stem, "path": str(path), "notes": len(notes),
                     "seconds": round(piece_end(notes), 1)})
    return rows
