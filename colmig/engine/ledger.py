"""The local run ledger: which partitions of a job are committed, with rows, bytes and stats.

An embedded SQLite file (``<state-dir>/ledger.db`` by default). Only the coordinator writes
to it, right after a worker reports a partition committed, so there is one writer. A target
with a transactional ledger of its own (databases) stays the source of truth for resume; this
file then only adds the statistics used by ``-validate`` and the run history.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from colmig.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    created_at TEXT NOT NULL,
    baseline TEXT
);
CREATE TABLE IF NOT EXISTS partitions (
    job_id TEXT NOT NULL,
    partition_id TEXT NOT NULL,
    label TEXT NOT NULL,
    state TEXT NOT NULL,
    rows INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    outputs TEXT,
    stats TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_id TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (job_id, partition_id)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT,
    rows INTEGER,
    seconds REAL
);
"""


@dataclass(frozen=True)
class PartitionRecord:
    """One committed (or failed) partition as the ledger knows it."""

    partition_id: str
    label: str
    state: str
    rows: int
    bytes: int
    rejected: int
    outputs: tuple[str, ...]
    stats: str | None
    error: str | None
    attempts: int


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Ledger:
    """Checkpoint store of one state directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the run ledger {self.path}: {exc}") from None

    def close(self) -> None:
        """Close the file; idempotent."""
        self.db.close()

    # --- jobs ---------------------------------------------------------------------------------

    def start_job(self, job_id: str, description: str, fresh: bool) -> None:
        """Register ``job_id``; with ``fresh`` forget everything known about it."""
        with self.db:
            if fresh:
                self.db.execute("DELETE FROM partitions WHERE job_id = ?", (job_id,))
                self.db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
            self.db.execute(
                "INSERT OR IGNORE INTO jobs (job_id, description, created_at) VALUES (?, ?, ?)",
                (job_id, description, _now()),
            )

    def baseline(self, job_id: str) -> str | None:
        """Statistics the target held before the job's first partition, if recorded."""
        row = self.db.execute("SELECT baseline FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return row[0] if row else None

    def set_baseline(self, job_id: str, baseline: str) -> None:
        """Record the target's statistics before any partition of the job was written."""
        with self.db:
            self.db.execute("UPDATE jobs SET baseline = ? WHERE job_id = ?", (baseline, job_id))

    # --- partitions ---------------------------------------------------------------------------

    def records(self, job_id: str) -> dict[str, PartitionRecord]:
        """Every partition the ledger knows for ``job_id``."""
        rows = self.db.execute(
            "SELECT partition_id, label, state, rows, bytes, rejected, outputs, stats, error,"
            " attempts FROM partitions WHERE job_id = ?",
            (job_id,),
        ).fetchall()
        return {
            r[0]: PartitionRecord(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                tuple(json.loads(r[6] or "[]")),
                r[7],
                r[8],
                r[9],
            )
            for r in rows
        }

    def committed(self, job_id: str) -> set[str]:
        """Ids of the committed partitions of ``job_id``."""
        rows = self.db.execute(
            "SELECT partition_id FROM partitions WHERE job_id = ? AND state = 'committed'",
            (job_id,),
        ).fetchall()
        return {r[0] for r in rows}

    def commit(
        self,
        job_id: str,
        run_id: str,
        partition_id: str,
        label: str,
        rows: int,
        nbytes: int,
        rejected: int,
        outputs: Iterable[str],
        stats: str | None,
        attempts: int,
    ) -> None:
        """Record a partition as committed."""
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO partitions (job_id, partition_id, label, state, rows,"
                " bytes, rejected, outputs, stats, error, attempts, run_id, updated_at)"
                " VALUES (?, ?, ?, 'committed', ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
                (
                    job_id,
                    partition_id,
                    label,
                    rows,
                    nbytes,
                    rejected,
                    json.dumps(list(outputs)),
                    stats,
                    attempts,
                    run_id,
                    _now(),
                ),
            )

    def fail(
        self, job_id: str, run_id: str, partition_id: str, label: str, error: str, attempts: int
    ) -> None:
        """Record a partition's failure (a re-run retries it)."""
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO partitions (job_id, partition_id, label, state, error,"
                " attempts, run_id, updated_at) VALUES (?, ?, ?, 'failed', ?, ?, ?, ?)",
                (job_id, partition_id, label, error, attempts, run_id, _now()),
            )

    def forget(self, job_id: str, partition_ids: Iterable[str]) -> None:
        """Drop partitions (after a rollback)."""
        with self.db:
            self.db.executemany(
                "DELETE FROM partitions WHERE job_id = ? AND partition_id = ?",
                [(job_id, pid) for pid in partition_ids],
            )

    # --- runs ---------------------------------------------------------------------------------

    def start_run(self, run_id: str, job_id: str) -> None:
        """Record the start of a run."""
        with self.db:
            self.db.execute(
                "INSERT INTO runs (run_id, job_id, started_at) VALUES (?, ?, ?)",
                (run_id, job_id, _now()),
            )

    def finish_run(self, run_id: str, outcome: str, rows: int, seconds: float) -> None:
        """Record how a run ended."""
        with self.db:
            self.db.execute(
                "UPDATE runs SET finished_at = ?, outcome = ?, rows = ?, seconds = ?"
                " WHERE run_id = ?",
                (_now(), outcome, rows, seconds, run_id),
            )
