"""Small generated fixtures: scores, MIDI folders and tiny models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ambient.checkpoint import save_model_dir
from ambient.codec import vocab_size
from ambient.midi import write_midi
from ambient.model import ModelConfig, MusicTransformer
from ambient.notes import Note

torch.set_num_threads(1)


def tiny_config(**overrides) -> ModelConfig:
    settings = dict(vocab_size=vocab_size(), context=64, n_layer=2, n_head=4, d_model=32, dropout=0.0,
                    max_relative_distance=24, sounding_input=True)  # zero-initialised: a no-op that tests still cover
    return ModelConfig(**{**settings, **overrides})


def random_piece(rng: np.random.Generator, notes: int = 40, seconds: float = 20.0) -> list[Note]:
    out = []
    for _ in range(notes):
        start = float(rng.uniform(0, seconds))
        out.append(Note(start, start + float(rng.uniform(0.05, 3.0)), int(rng.integers(36, 90)),
                        int(rng.integers(20, 120))))
    return out


@pytest.fixture
def tiny_model_dir(tmp_path):
    torch.manual_seed(0)
    return save_model_dir(tmp_path / "model", MusicTransformer(tiny_config()).eval())


def arpeggio_piece(rng: np.random.Generator, bars: int = 12) -> list[Note]:
    """A learnable piece: a random triad arpeggiated in a steady rhythm."""
    root = int(rng.integers(48, 60))
    shape = [0, 4, 7, 12] if rng.random() < 0.5 else [0, 3, 7, 12]
    return [Note(i * 0.25, i * 0.25 + 0.5, root + shape[i % 4], 70) for i in range(bars * 4)]


@pytest.fixture
def midi_folder(tmp_path):
    """Eight small pieces, as MIDI files."""
    folder = tmp_path / "midi"
    rng = np.random.default_rng(7)
    for i in range(8):
        write_midi(folder / f"piece{i}.mid", arpeggio_piece(rng))
    return folder


# GPU-only tests (`@pytest.mark.gpu`) run wherever torch sees a CUDA device. Elsewhere they
# are deselected, never skipped in silence: the summary says how many and how to run them.
# Each GPU path also has CPU tests of its own (tests/test_attention.py, tests/test_decoder.py).
_GPU_DESELECTED: list[str] = []


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    gpu = [item for item in items if item.get_closest_marker("gpu")]
    if gpu:
        _GPU_DESELECTED.extend(item.nodeid for item in gpu)
        config.hook.pytest_deselected(items=gpu)
        items[:] = [item for item in items if not item.get_closest_marker("gpu")]


def pytest_terminal_summary(terminalreporter):
    if _GPU_DESELECTED:
        terminalreporter.write_line(f"{len(_GPU_DESELECTED)} GPU-only tests not run: torch sees no CUDA device "
                                    f"here (on a GPU machine they run with the rest; `pytest -m gpu` runs only them)")
