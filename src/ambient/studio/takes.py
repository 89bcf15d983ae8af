"""The studio's takes and uploaded primers: files under `WORKSPACE/studio/`, rows in SQLite.

Every name on disk is one the studio made (a random hex id), never one from a request:
a request names a take or an upload by its id, and `folder()` checks the id's shape
before any path is built. A take is a MIDI file (primer then continuation) plus the
renders made of it, one per instrument and format, kept beside it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
from pathlib import Path

from ambient.errors import AmbientError
from ambient.files import write_text
from ambient.notes import Note

ID = re.compile(r"^[0-9a-f]{12}$")

KEEP_DELETED = 20  # deleted takes kept for undo; older ones go for good
PLAYABLE = ("wav", "flac")  # the formats a take's player reads, in order of preference
SCHEMA = """
CREATE TABLE IF NOT EXISTS takes (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, starred INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL,
    primer TEXT NOT NULL, primer_end REAL NOT NULL, seconds REAL NOT NULL, notes INTEGER NOT NULL,
    model TEXT NOT NULL, instrument TEXT NOT NULL, settings TEXT NOT NULL, batch TEXT NOT NULL,
    parent TEXT, deleted REAL
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, label TEXT NOT NULL, kind TEXT NOT NULL, created REAL NOT NULL, notes INTEGER NOT NULL,
    seconds REAL NOT NULL
);
"""


def new_id() -> str:
    return secrets.token_hex(6)


def safe_label(name: str | None, fallback: str) -> str:
    """A display name from a request: its last path part, printable, at most 80 characters."""
    label = re.sub(r"[^\w .,()+-]", "_", Path(str(name or "")).name).strip(" .")[:80]
    return label or fallback


def display_name(text: str | None, fallback: str) -> str:
    """A take's name as a person typed it: any text, without control characters, at most 80."""
    name = " ".join("".join(c for c in str(text or "") if c.isprintable()).split())[:80]
    return name or fallback


class Studio:
    """The studio's folder and table. One instance per server; its methods are thread-safe."""

    def __init__(self, root: str | Path):
        self.root = Path(root) / "studio"
        for sub in ("takes", "uploads", "incoming", "trash"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.root / "studio.sqlite", check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.executescript("PRAGMA journal_mode=WAL;" + SCHEMA)
        # a studio made before undo existed gains the column
        if "deleted" not in {row[1] for row in self._db.execute("PRAGMA table_info(takes)")}:
            self._db.execute("ALTER TABLE takes ADD COLUMN deleted REAL")

    def close(self) -> None:
        self._db.close()

    # paths: only ever from an id checked here
    def folder(self, kind: str, item: str) -> Path:
        if kind not in ("takes", "uploads") or not ID.match(item or ""):
            raise AmbientError(f"{item!r}: no such {kind[:-1]}")
        return self.root / kind / item

    def incoming(self) -> Path:
        """A fresh scratch file for an upload in progress (inside the studio folder)."""
        return self.root / "incoming" / new_id()

    # takes
    def add_take(self, notes: list[Note], *, name: str, primer: str, primer_end: float, model: str,
                 instrument: str, settings: dict, batch: str, parent: str | None = None) -> str:
        from ambient.midi import write_midi
        from ambient.notes import piece_end

        take = new_id()
        folder = self.folder("takes", take)
        folder.mkdir()
        write_midi(folder / "take.mid", notes, text=f"ambient studio: {name}")
        with self._lock, self._db:
            self._db.execute("INSERT INTO takes (id, name, starred, created, primer, primer_end, seconds, notes, "
                             "model, instrument, settings, batch, parent) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                             (take, name, 0, time.time(), primer, primer_end, piece_end(notes), len(notes), model,
                              instrument, json.dumps(settings), batch, parent))
        return take

    def takes(self) -> list[dict]:
        with self._lock:
            # newest batch first; a batch's variations in the order they were made
            rows = self._db.execute("SELECT * FROM takes WHERE deleted IS NULL ORDER BY (SELECT MIN(created) "
                                    "FROM takes AS b WHERE b.batch = takes.batch) DESC, created ASC").fetchall()
        return [self._row(r) for r in rows]

    def _one(self, kind: str, name: str, query: str, missing: str):
        """The row `query` finds for an id (checked as a folder name first), or `missing` as the error."""
        self.folder(kind, name)
        with self._lock:
            row = self._db.execute(query, (name,)).fetchone()
        if row is None:
            raise AmbientError(f"{name!r}: {missing}")
        return row

    def take(self, take: str) -> dict:
        return self._row(self._one("takes", take, "SELECT * FROM takes WHERE id = ? AND deleted IS NULL",
                                   "no such take"))

    def _row(self, row: sqlite3.Row) -> dict:
        d = dict(row)
        d.pop("deleted", None)
        d["starred"] = bool(d["starred"])
        d["note_count"] = d.pop("notes")
        d["settings"] = json.loads(d["settings"])
        folder = self.root / "takes" / d["id"]
        # what each instrument's render plays from: the WAV, or the FLAC once only FLAC is kept
        d["audio"] = {p.stem: p.suffix[1:] for fmt in PLAYABLE[::-1] for p in folder.glob(f"*.{fmt}")}
        d["renders"] = sorted(d["audio"])
        return d

    def notes(self, take: str) -> list[Note]:
        from ambient.midi import read_midi

        path = self.folder("takes", self.take(take)["id"]) / "take.mid"
        try:
            return read_midi(path)
        except AmbientError as e:
            # the page is told which take, not where the studio keeps it on this disk
            raise AmbientError(str(e).replace(str(self.root) + os.sep, "")) from None

    def update_take(self, take: str, name: str | None = None, starred: bool | None = None) -> dict:
        self.take(take)
        with self._lock, self._db:
            if name is not None:
                self._db.execute("UPDATE takes SET name = ? WHERE id = ?", (display_name(name, "untitled"), take))
            if starred is not None:
                self._db.execute("UPDATE takes SET starred = ? WHERE id = ?", (int(bool(starred)), take))
        return self.take(take)

    def set_instrument(self, take: str, instrument: str) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE takes SET instrument = ? WHERE id = ?", (instrument, take))

    def delete_take(self, take: str) -> None:
        """Into the trash, where `restore_take` finds it again; only the KEEP_DELETED most
        recently deleted takes are kept there."""
        self.take(take)
        with self._lock, self._db:
            self._db.execute("UPDATE takes SET deleted = ? WHERE id = ?", (time.time(), take))
        os.replace(self.folder("takes", take), self.root / "trash" / take)
        with self._lock, self._db:
            old = [r[0] for r in self._db.execute("SELECT id FROM takes WHERE deleted IS NOT NULL "
                                                  "ORDER BY deleted DESC LIMIT -1 OFFSET ?", (KEEP_DELETED,))]
            self._db.executemany("DELETE FROM takes WHERE id = ?", [(i,) for i in old])
        for gone in old:
            shutil.rmtree(self.root / "trash" / gone, ignore_errors=True)

    def restore_take(self, take: str) -> dict:
        """A deleted take back where it was (undo)."""
        self._one("takes", take, "SELECT id FROM takes WHERE id = ? AND deleted IS NOT NULL",
                  "no deleted take to bring back")
        os.replace(self.root / "trash" / take, self.folder("takes", take))
        with self._lock, self._db:
            self._db.execute("UPDATE takes SET deleted = NULL WHERE id = ?", (take,))
        return self.take(take)

    def render_path(self, take: str, instrument: str, fmt: str) -> Path:
        from ambient.render import PRESETS

        if instrument not in PRESETS:
            raise AmbientError(f"{instrument!r}: no such instrument")
        if fmt not in ("wav", "flac", "mp3", "ogg"):
            raise AmbientError(f"{fmt!r}: not an audio format the studio writes (wav, flac, mp3, ogg)")
        return self.folder("takes", self.take(take)["id"]) / f"{instrument}.{fmt}"

    # uploaded primers
    def add_upload(self, midi_from: Path, label: str, kind: str, notes: list[Note]) -> dict:
        from ambient.notes import piece_end

        upload = new_id()
        folder = self.folder("uploads", upload)
        folder.mkdir()
        shutil.move(str(midi_from), folder / "primer.mid")
        with self._lock, self._db:
            self._db.execute("INSERT INTO uploads VALUES (?,?,?,?,?,?)",
                             (upload, label, kind, time.time(), len(notes), piece_end(notes)))
        return self.upload(upload)

    def upload(self, upload: str) -> dict:
        return dict(self._one("uploads", upload, "SELECT * FROM uploads WHERE id = ?", "no such upload"))

    def uploads(self) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self._db.execute("SELECT * FROM uploads ORDER BY created DESC").fetchall()]

    def delete_upload(self, upload: str) -> None:
        """An uploaded primer gone for good (the takes made from it keep their notes)."""
        folder = self.folder("uploads", self.upload(upload)["id"])
        with self._lock, self._db:
            self._db.execute("DELETE FROM uploads WHERE id = ?", (upload,))
        shutil.rmtree(folder, ignore_errors=True)

    # what the studio keeps on disk, and how
    def storage(self) -> dict:
        """Bytes on disk: all of the studio, and its renders by format."""
        sizes = {"wav": 0, "flac": 0, "mp3": 0, "ogg": 0}
        total = 0
        for path in self.root.rglob("*"):
            if path.is_file():
                size = path.stat().st_size
                total += size
                if path.parent.parent.name == "takes" and path.suffix[1:] in sizes:
                    sizes[path.suffix[1:]] += size
        return {"bytes": total, "renders": sizes, "keep": self.keep()}

    def keep(self) -> str:
        """The format a take's player is rendered in: "wav", or "flac" once a person chose to keep only FLAC."""
        path = self.root / "keep"
        return path.read_text().strip() if path.exists() else "wav"

    def set_keep(self, fmt: str) -> None:
        write_text(self.root / "keep", fmt + "\n")

    def upload_midi(self, upload: str) -> Path:
        return self.folder("uploads", self.upload(upload)["id"]) / "primer.mid"
