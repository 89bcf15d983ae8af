"""Audio files: formats by extension, atomic streaming writes, blockwise reads.

Reading and writing go through soundfile (libsndfile 1.2: WAV, FLAC, OGG Vorbis, MP3).
A writer works on a hidden partial file beside the target and renames it into place
only when complete, so a crash never leaves half a file under the real name.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from ambient.errors import AmbientError

FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS"),
           ".mp3": ("MP3", "MPEG_LAYER_III")}


def output_format(path: str | Path) -> tuple[str, str]:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise AmbientError(f"{path}: unknown audio format {suffix or '(none)'} (use {', '.join(FORMATS)})")
    return FORMATS[suffix]


@contextmanager
def audio_writer(path: str | Path, rate: int, channels: int = 2, *, scratch: bool = False) -> Iterator[sf.SoundFile]:
    """A SoundFile open for writing; `scratch` files are 32-bit float WAV for later passes."""
    path = Path(path)
    fmt, subtype = ("WAV", "FLOAT") if scratch else output_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with sf.SoundFile(partial, "w", samplerate=rate, channels=channels, format=fmt, subtype=subtype) as f:
            yield f
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()


def read_blocks(path: str | Path, frames: int) -> Iterator[np.ndarray]:
    """(channels, n) float32 blocks of an audio file."""
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AmbientError(f"{path}: cannot read audio ({e})") from None
    with f:
        for block in f.blocks(blocksize=frames, dtype="float32", always_2d=True):
            yield block.T


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """The whole file as (channels, n) float32 and its sample rate."""
    path = Path(path)
    if not path.exists():
        raise AmbientError(f"{path}: no such file")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AmbientError(f"{path}: cannot read audio ({e})") from None
    return data.T, rate
