"""SQLite schema target: stdlib sqlite3, transactional DDL, file lock next to the database."""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import quote

from colmig.config import Settings
from colmig.errors import ConnectionFailedError
from colmig.schema.embedded import EmbeddedSchemaTarget
from colmig.urls import URL


class SqliteSchemaTarget(EmbeddedSchemaTarget):
    """``sqlite:///abs/path`` or ``sqlite://rel/path`` (relative to the working directory)."""

    dialect = "sqlite"
    # IMMEDIATE takes SQLite's write lock at BEGIN, so a concurrent writer waits, not fails.
    begin_sql = "BEGIN IMMEDIATE"

    def _connect(self, read_only: bool) -> Any:
        timeout = max(self.settings.lock_timeout, 1.0)
        try:
            if self.memory:
                return sqlite3.connect(":memory:", isolation_level=None)
            assert self.path is not None
            if read_only:
                uri = f"file:{quote(str(self.path))}?mode=ro"
                return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return sqlite3.connect(self.path, isolation_level=None, timeout=timeout)
        except (sqlite3.Error, OSError) as exc:
            raise ConnectionFailedError(f"cannot open {self.url.redacted}: {exc}") from None

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)

    def _table_exists(self, conn: Any, table: str) -> bool:
        schema, _, name = table.rpartition(".")
        master = f'"{schema}".sqlite_master' if schema else "sqlite_master"
        row = conn.execute(
            f"SELECT 1 FROM {master} WHERE type = 'table' AND name = ?", [name]
        ).fetchone()
        return row is not None


def open_schema_target(url: URL, settings: Settings) -> SqliteSchemaTarget:
    """Open (lazily: nothing is created until a mutating command runs) the SQLite database."""
    return SqliteSchemaTarget(url, settings)
