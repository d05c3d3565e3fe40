"""DuckDB schema target: transactional DDL; one process opens the file at a time, so every
connection, even a read, is taken under the ``.colmig-lock`` file lock."""

from __future__ import annotations

from typing import Any

import duckdb

from colmig.config import Settings
from colmig.errors import ConnectionFailedError
from colmig.schema.embedded import EmbeddedSchemaTarget
from colmig.urls import URL


class DuckdbSchemaTarget(EmbeddedSchemaTarget):
    """``duckdb:///abs/path`` or ``duckdb://rel/path``."""

    dialect = "duckdb"
    lock_for_reads = True
    begin_sql = "BEGIN TRANSACTION"

    def _connect(self, read_only: bool) -> Any:
        try:
            if self.memory:
                return duckdb.connect(":memory:")
            assert self.path is not None
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            return duckdb.connect(str(self.path), read_only=read_only)
        except (duckdb.Error, OSError) as exc:
            raise ConnectionFailedError(
                f"cannot open {self.url.redacted}: {str(exc).splitlines()[0]}"
                " (another process may have the database file open)"
            ) from None

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        return (duckdb.Error,)

    def _table_exists(self, conn: Any, table: str) -> bool:
        schema, _, name = table.rpartition(".")
        row = conn.execute(
            "SELECT 1 FROM duckdb_tables() WHERE table_name = ? AND (? = '' OR schema_name = ?)",
            [name, schema, schema],
        ).fetchone()
        return row is not None


def open_schema_target(url: URL, settings: Settings) -> DuckdbSchemaTarget:
    """Open (lazily: nothing is created until a mutating command runs) the DuckDB database."""
    return DuckdbSchemaTarget(url, settings)
