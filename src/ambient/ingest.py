"""Bringing audio files into a collection folder: standard names, no duplicates.

The same function fills the pipeline's source repo. A name is folded to lower-case
ASCII letters, digits and single dashes (accents folded, spaces and punctuation gone);
a name already taken by other content gets -2, -3, ...; content already present under
any name is skipped and reported. Files are copied to a hidden partial name and renamed
into place, so an interrupted ingest leaves no half file.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ambient.audio import AUDIO_SUFFIXES, NATIVE, VIA_FFMPEG
from ambient.errors import AmbientError
from ambient.files import content_hash, partial_path


@dataclass
class IngestReport:
    added: list[tuple[Path, Path]] = field(default_factory=list)       # (source, stored as)
    duplicates: list[tuple[Path, Path]] = field(default_factory=list)  # (source, already stored as)
    failed: list[tuple[Path, str]] = field(default_factory=list)       # (source, reason)
    ignored: list[Path] = field(default_factory=list)                  # not audio by extension


def standard_name(name: str) -> str:
    """'Brian Eno — 1/1 (Remastered).MP3' -> 'brian-eno-1-1-remastered.mp3'."""
    stem, dot, extension = name.rpartition(".")
    stem, suffix = (stem, "." + extension) if dot else (name, "")
    folded = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower())[:100].strip("-") or "untitled"
    return f"{slug}{suffix.lower()}"


def find_audio(paths: list[str | Path]) -> tuple[list[Path], list[Path], list[tuple[Path, str]]]:
    """(audio files, other files, missing paths) under the given files and folders."""
    audio, other, missing = [], [], []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(x for x in p.rglob("*") if x.is_file() and not x.name.startswith(".")):
                (audio if f.suffix.lower() in AUDIO_SUFFIXES else other).append(f)
        elif p.is_file():
            (audio if p.suffix.lower() in AUDIO_SUFFIXES else other).append(p)
        else:
            missing.append((p, "no such file or folder"))
    return audio, other, missing


def ingest(paths: list[str | Path], repo: str | Path, known: dict[str, Path] | None = None,
           on_file=None) -> IngestReport:
    """Copy the audio under `paths` into `repo`. `known` maps content hash -> stored path."""
    repo = Path(repo)
    repo.mkdir(parents=True, exist_ok=True)
    if known is None:
        known = {content_hash(f): f for f in sorted(repo.iterdir()) if f.is_file() and not f.name.startswith(".")}
    report = IngestReport()
    audio, report.ignored, report.failed = find_audio(paths)
    for source in audio:
        try:
            stored = _ingest_one(source, repo, known)
        except AmbientError as e:
            report.failed.append((source, str(e)))
        except OSError as e:  # vanished or unreadable between listing and copying
            report.failed.append((source, f"{source}: {e.strerror or e}"))
        else:
            (report.added if stored[0] else report.duplicates).append((source, stored[1]))
        if on_file:
            on_file(source)
    return report


def _ingest_one(source: Path, repo: Path, known: dict[str, Path]) -> tuple[bool, Path]:
    if source.suffix.lower() in VIA_FFMPEG and shutil.which("ffmpeg") is None:
        raise AmbientError(f"{source}: M4A/AAC needs ffmpeg, which is not installed (apt-get install ffmpeg)")
    if not source.exists():
        raise AmbientError(f"{source}: disappeared before it could be read")
    if source.stat().st_size == 0:
        raise AmbientError(f"{source}: empty file (0 bytes)")
    if source.suffix.lower() in NATIVE:
        _check_readable(source)
    digest = content_hash(source)
    if digest in known:
        return False, known[digest]
    target = _free_name(repo, standard_name(source.name))
    with partial_path(target) as partial:
        shutil.copyfile(source, partial)
    known[digest] = target
    return True, target


def _check_readable(path: Path) -> None:
    import soundfile as sf

    from ambient.audio import quiet_native_stderr, unreadable_reason

    try:
        with quiet_native_stderr():
            info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AmbientError(f"{path}: not readable audio ({unreadable_reason(e)})") from None
    if info.frames == 0:
        raise AmbientError(f"{path}: no audio frames")


def _free_name(repo: Path, name: str) -> Path:
    """A name whose stem no file in repo has, whatever its extension: song.mp3 and
    song.wav would both become song.mid downstream."""
    stem, suffix = os.path.splitext(name)
    taken = {os.path.splitext(p.name)[0] for p in repo.iterdir()}
    candidate, n = stem, 2
    while candidate in taken:
        candidate = f"{stem}-{n}"
        n += 1
    return repo / f"{candidate}{suffix}"
