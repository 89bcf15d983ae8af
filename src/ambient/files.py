"""File plumbing every layer shares: atomic files, atomic directory swaps, content hashes.

A reader must only ever see a complete old file or a complete new one, whatever
instant a process is killed at. Files get that from a rename of a finished hidden
partial beside the target. Directories cannot be renamed onto a non-empty directory,
so `replace_dir` moves the old one aside first and `recover_dir` (called by every
reader, and by the next swap) puts it back if a kill fell between the two renames.
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


def recover_dir(directory: str | Path) -> None:
    """Finish or undo a `replace_dir` that a kill interrupted.

    Old copy aside and no target: the kill fell between the two renames, so the old
    copy is the only complete one and goes back. Both present: the new one landed and
    the old copy is garbage.
    """
    directory = Path(directory)
    old = _aside(directory)
    if old.exists():
        if directory.exists():
            shutil.rmtree(old)
        else:
            os.replace(old, directory)


def replace_dir(scratch: str | Path, directory: str | Path) -> Path:
    """Put a complete directory `scratch` in place of `directory`, old or absent.

    At any instant a reader that calls `recover_dir` first finds the whole old
    directory or the whole new one.
    """
    scratch, directory = Path(scratch), Path(directory)
    recover_dir(directory)
    if directory.exists():
        old = _aside(directory)
        os.replace(directory, old)
        os.replace(scratch, directory)
        shutil.rmtree(old)
    else:
        os.replace(scratch, directory)
    return directory


@contextmanager
def atomic_dir(directory: str | Path) -> Iterator[Path]:
    """A scratch folder beside `directory` that replaces it whole when the block succeeds."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    try:
        yield scratch
        replace_dir(scratch, directory)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch)
