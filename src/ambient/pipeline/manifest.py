"""The manifest: what every repo holds, which datums ran, what came from what.

SQLite in WAL mode, written only by the runner. One transaction per datum, so a kill
at any instant leaves the old state or the new one.

    files    (repo, path) -> content hash, size, mtime: every file the pipeline knows
    datums   (stage, input) -> datum hash, status, error: one row per map input or reduce
    outputs  (stage, input) -> the files a datum wrote, (repo, path)
    lineage  (repo, path) -> (parent repo, parent path): a datum's outputs and its inputs
    runs     one row per `run`, with its summary
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (repo TEXT, path TEXT, hash TEXT, size INTEGER, mtime_ns INTEGER,
                                  PRIMARY KEY (repo, path));
CREATE TABLE IF NOT EXISTS datums (stage TEXT, input TEXT, datum_hash TEXT, status TEXT, error TEXT,
                                   log TEXT, attempts INTEGER, seconds REAL, finished REAL,
                                   PRIMARY KEY (stage, input));
CREATE TABLE IF NOT EXISTS outputs (stage TEXT, input TEXT, repo TEXT, path TEXT, PRIMARY KEY (repo, path));
CREATE INDEX IF NOT EXISTS outputs_by_datum ON outputs (stage, input);
CREATE TABLE IF NOT EXISTS lineage (repo TEXT, path TEXT, parent_repo TEXT, parent_path TEXT,
                                    PRIMARY KEY (repo, path, parent_repo, parent_path));
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, started REAL, finished REAL, summary TEXT);
"""


class Manifest:
    def __init__(self, path: str | Path):
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def transaction(self):
        return _Transaction(self.db)

    # files
    def files(self, repo: str) -> dict[str, tuple[str, int, int]]:
        rows = self.db.execute("SELECT path, hash, size, mtime_ns FROM files WHERE repo=?", (repo,))
        return {p: (h, s, m) for p, h, s, m in rows}

    def put_file(self, repo: str, path: str, digest: str, size: int, mtime_ns: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?)", (repo, path, digest, size, mtime_ns))

    def drop_file(self, repo: str, path: str) -> None:
        # lineage stays: a kept model still names the sources it learned from after they go
        self.db.execute("DELETE FROM files WHERE repo=? AND path=?", (repo, path))

    # datums
    def datums(self, stage: str) -> dict[str, tuple[str, str]]:
        rows = self.db.execute("SELECT input, datum_hash, status FROM datums WHERE stage=?", (stage,))
        return {i: (h, s) for i, h, s in rows}

    def newest_output(self, stage: str) -> str | None:
        """The path of the stage's most recently written output file, or None."""
        row = self.db.execute(
            "SELECT o.path FROM outputs o JOIN files f ON f.repo=o.repo AND f.path=o.path "
            "WHERE o.stage=? ORDER BY f.mtime_ns DESC LIMIT 1", (stage,)).fetchone()
        return row[0] if row else None

    def datum_rows(self, stage: str | None = None) -> list[dict]:
        query = "SELECT stage, input, status, error, attempts, seconds, finished FROM datums"
        rows = self.db.execute(query + (" WHERE stage=?" if stage else ""), (stage,) if stage else ())
        keys = ("stage", "input", "status", "error", "attempts", "seconds", "finished")
        return [dict(zip(keys, r)) for r in rows]

    def datum_log(self, stage: str, input_: str) -> tuple[str, str] | None:
        row = self.db.execute("SELECT error, log FROM datums WHERE stage=? AND input=?", (stage, input_)).fetchone()
        return row

    def put_datum(self, stage: str, input_: str, digest: str, status: str, error: str | None, log: str | None,
                  attempts: int, seconds: float) -> None:
        self.db.execute("INSERT OR REPLACE INTO datums VALUES (?,?,?,?,?,?,?,?,?)",
                        (stage, input_, digest, status, error, log, attempts, seconds, time.time()))

    def drop_datum(self, stage: str, input_: str) -> None:
        self.db.execute("DELETE FROM datums WHERE stage=? AND input=?", (stage, input_))

    def outputs(self, stage: str, input_: str) -> list[tuple[str, str]]:
        return list(self.db.execute("SELECT repo, path FROM outputs WHERE stage=? AND input=?", (stage, input_)))

    def put_output(self, stage: str, input_: str, repo: str, path: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO outputs VALUES (?,?,?,?)", (stage, input_, repo, path))

    def drop_outputs(self, stage: str, input_: str) -> None:
        self.db.execute("DELETE FROM outputs WHERE stage=? AND input=?", (stage, input_))

    def add_parent(self, repo: str, path: str, parent_repo: str, parent_path: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO lineage VALUES (?,?,?,?)", (repo, path, parent_repo, parent_path))

    def parents(self, repo: str, path: str) -> list[tuple[str, str]]:
        return list(self.db.execute("SELECT parent_repo, parent_path FROM lineage WHERE repo=? AND path=?",
                                    (repo, path)))

    # runs
    def start_run(self) -> int:
        return self.db.execute("INSERT INTO runs (started) VALUES (?)", (time.time(),)).lastrowid

    def finish_run(self, run_id: int, summary: dict) -> None:
        self.db.execute("UPDATE runs SET finished=?, summary=? WHERE id=?", (time.time(), json.dumps(summary), run_id))


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, kind, value, tb):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False
