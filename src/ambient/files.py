"""File plumbing every layer shares: atomic files, atomic directory swaps, content hashes.

A reader must only ever see a complete old file or a complete new one, whatever
instant a process is killed at. Files get that from a rename of a finished hidden
partial beside the target. Directories cannot be renamed onto a non-empty directory,
so `replace_dir` moves the old one aside first and `recover_dir` (called by every
reader, and by the next swap) puts it back if a kill fell between the two renames.
A swap can carry named entries from the old directory into the new one (a model
directory keeps its training checkpoint), and recovery finishes a carry cut short.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

CHUNK = 1 << 20


def content_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def partial_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """A hidden scratch name beside `path`; renamed onto `path` if the block succeeds.

    For writers that need a file name rather than a file object (libraries that open
    the file themselves). The partial is removed on any failure.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.partial-", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; our files are for sharing
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_file(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a partial file for writing; it replaces `path` only when the block succeeds."""
    with partial_path(path) as tmp:
        with open(tmp, mode) as f:
            yield f


def write_text(path: str | Path, text: str) -> Path:
    with atomic_file(path, "w") as f:
        f.write(text)
    return Path(path)


def _aside(directory: Path) -> Path:
    return directory.with_name(f".{directory.name}.old")


def _carry(old: Path, new: Path, keep: tuple[str, ...]) -> None:
    """Move the entries named in `keep` from the old copy into the new one, where missing."""
    for name in keep:
        if (old / name).exists() and not (new / name).exists():
            os.replace(old / name, new / name)


def recover_dir(directory: str | Path, *, keep: tuple[str, ...] = (), writer: bool = False,
                sweep: bool = False) -> None:
    """Finish or undo a `replace_dir` that a kill interrupted.

    Old copy aside and no target: the kill fell between the two renames, so the old
    copy is the only complete one and goes back (safe for anyone, readers too). Both
    present: the new one landed; the directory's writer (`writer=True`) carries the
    `keep` entries over and deletes the old copy. `sweep` also removes scratch folders
    a killed writer left. Only a directory's one writer may ask for either: a reader
    would delete what a live writer is still moving.
    """
    directory = Path(directory)
    old = _aside(directory)
    if old.exists() and not directory.exists():
        os.replace(old, directory)
    elif old.exists() and writer:
        _carry(old, directory, keep)
        shutil.rmtree(old)
    if sweep and directory.parent.is_dir():
        for stale in directory.parent.glob(f".{directory.name}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)


def replace_dir(scratch: str | Path, directory: str | Path, keep: tuple[str, ...] = ()) -> Path:
    """Put a complete directory `scratch` in place of `directory`, old or absent.

    Entries named in `keep` (a training checkpoint inside a model directory) move from
    the old directory into the new one. At any instant a reader that calls
    `recover_dir` first finds the whole old directory or the whole new one.
    """
    scratch, directory = Path(scratch), Path(directory)
    recover_dir(directory, keep=keep, writer=True)
    if directory.exists():
        old = _aside(directory)
        os.replace(directory, old)
        os.replace(scratch, directory)
        _carry(old, directory, keep)
        shutil.rmtree(old)
    else:
        os.replace(scratch, directory)
    return directory


@contextmanager
def atomic_dir(directory: str | Path, keep: tuple[str, ...] = ()) -> Iterator[Path]:
    """A scratch folder beside `directory` that replaces it whole when the block succeeds
    (the entries named in `keep` carried over from the old one)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    try:
        yield scratch
        replace_dir(scratch, directory, keep)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch)
