"""DuckDB reader: native Arrow record-batch streams from a read-only connection.

Limitation: DuckDB lets one process open a file read-write and then no other process can open
it at all, not even read-only. The source file must therefore not be open by a writer outside
colmig while the job runs (such a holder is waited on for ``-lock-timeout`` seconds, then the
job fails naming the file). colmig's own DuckDB writer and readers coordinate through a lock
file, ``<file>.colmig.lock``: readers hold it shared while a connection is open, so copying
between tables of one file, or reading a file another colmig job writes, waits instead of
failing.

Tables are split on ``-partition-on`` (or a single-column integer/timestamp primary key) into
ranges, or by ``-partition-window`` time windows, through the shared planner.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from colmig.backends.duckdb import typemap
from colmig.backends.duckdb.writer import FileLock, database_path, error_class, open_database
from colmig.backends.sql_common import TableChoice, quote_ident, sql_string
from colmig.backends.sql_reader import SqlReader
from colmig.config import Settings
from colmig.errors import ColmigError, ConnectionFailedError
from colmig.urls import URL

_KEY_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "DATE",
)


class DuckdbReader(SqlReader):
    dialect = "duckdb"

    def __init__(self, url: URL, settings: Settings) -> None:
        super().__init__(url, settings)
        self.path = database_path(url)
        if not Path(self.path).is_file():
            raise ConnectionFailedError(
                f"DuckDB database {url.redacted} does not exist"
                f" (no file {Path(self.path).absolute()})",
                url=url.redacted,
            )
        self._types: dict[TableChoice, list[tuple[str, str]]] = {}

    # --- connections ----------------------------------------------------------------------------

    def _open(self) -> tuple[Any, FileLock]:
        lock = FileLock(self.path, shared=True)
        lock.acquire()
        try:
            conn = open_database(self.url, read_only=True, wait_s=self.settings.lock_timeout)
            # JSON and UUID come out as Arrow's canonical extension types (booleans as bool8,
            # which conform() casts back to bool).
            conn.execute("SET arrow_lossless_conversion = true")
        except BaseException:
            lock.release()
            raise
        return conn, lock

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        conn, lock = self._open()
        try:
            yield conn
        finally:
            try:
                conn.close()
            finally:
                lock.release()

    def _open_stream(
        self, sql: str, batch_rows: int
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch], Callable[[], None]]:
        conn, lock = self._open()
        try:
            reader = conn.sql(sql).to_arrow_reader(max(1, batch_rows))
        except BaseException:
            conn.close()
            lock.release()
            raise

        def close() -> None:
            try:
                with contextlib.suppress(Exception):
                    reader.close()
                conn.close()
            finally:
                lock.release()

        return reader.schema, iter(reader), close

    def _fetch_all(self, sql: str) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]

    def _fetch_one(self, sql: str) -> tuple[Any, ...]:
        row = self._fetch_all(sql)[0]
        if len(row) == 2 and all(isinstance(v, dt.datetime) for v in row):
            # MIN/MAX come back as Python datetimes, truncated to microseconds: widen the upper
            # bound so the last (inclusive) range keeps nanosecond rows past the maximum.
            row = (row[0], row[1] + dt.timedelta(microseconds=1))
        return row

    # --- dialect hooks --------------------------------------------------------------------------

    def quote(self, name: str) -> str:
        return quote_ident(name)

    def _error_class(self, exc: BaseException) -> type[ColmigError]:
        return error_class(exc)

    def _range_literal(self, value: Any, kind: str) -> str:
        if kind == "int":
            return str(int(value))
        if kind == "timestamptz":
            return f"CAST({sql_string(str(value) + '+00')} AS TIMESTAMPTZ)"
        return f"CAST({sql_string(str(value))} AS TIMESTAMP)"

    def _where_table(self, table: str) -> str:
        schema, _, name = table.rpartition(".")
        clause = f"lower(table_name) = lower({sql_string(name)})"
        if schema:
            clause += f" AND lower(schema_name) = lower({sql_string(schema)})"
        return clause

    def _list_tables(self) -> list[str]:
        rows = self._fetch_all(
            "SELECT CASE WHEN schema_name = 'main' THEN name ELSE schema_name || '.' || name END"
            " FROM (SELECT schema_name, table_name AS name FROM duckdb_tables()"
            " WHERE NOT internal AND NOT temporary UNION ALL SELECT schema_name, view_name"
            " FROM duckdb_views() WHERE NOT internal AND NOT temporary)"
            " WHERE name NOT LIKE 'colmig\\_%' ESCAPE '\\' ORDER BY 1"
        )
        return [str(r[0]) for r in rows]

    def _primary_key(self, table: str) -> str | None:
        def lookup() -> str | None:
            rows = self._fetch_all(
                "SELECT constraint_column_names FROM duckdb_constraints() WHERE"
                f" {self._where_table(table)} AND constraint_type = 'PRIMARY KEY'"
            )
            if len(rows) != 1 or len(rows[0][0]) != 1:
                return None
            column = str(rows[0][0][0])
            types = dict(
                self._fetch_all(
                    "SELECT column_name, data_type FROM duckdb_columns() WHERE"
                    f" {self._where_table(table)}"
                )
            )
            kind = str(types.get(column, "")).upper()
            return column if kind in _KEY_TYPES or kind.startswith("TIMESTAMP") else None

        return self._guarded(lookup)  # type: ignore[no-any-return]

    def _estimate_rows(self, table: str) -> int | None:
        rows = self._guarded(
            lambda: self._fetch_all(
                f"SELECT estimated_size FROM duckdb_tables() WHERE {self._where_table(table)}"
            )
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def _column_types(self, choice: TableChoice) -> list[tuple[str, str]]:
        """(name, DuckDB type) of each column the table or query yields."""
        if choice not in self._types:
            rows = self._guarded(
                lambda: self._fetch_all(f"DESCRIBE SELECT * FROM {self._from(choice)}")
            )
            self._types[choice] = [(str(r[0]), str(r[1])) for r in rows]
        return self._types[choice]

    def _select(self, choice: TableChoice, where: str | None) -> str:
        columns = self._column_types(choice)
        exprs = [(name, typemap.read_expression(self.col(name), kind)) for name, kind in columns]
        if all(expr is None for _name, expr in exprs):
            return super()._select(choice, where)
        projection = ", ".join(
            self.col(name) if expr is None else f"{expr} AS {self.col(name)}"
            for name, expr in exprs
        )
        sql = f"SELECT {projection} FROM {self._from(choice)}"
        return f"{sql} WHERE {where}" if where else sql

    def _normalize_schema(self, schema: pa.Schema, choice: TableChoice) -> pa.Schema:
        types = dict(self._column_types(choice))
        return pa.schema([typemap.arrow_field(f, types.get(f.name, "")) for f in schema])


def open_reader(url: URL, settings: Settings) -> DuckdbReader:
    """Open a DuckDB table, list/glob of tables or query as a data source (read-only)."""
    return DuckdbReader(url, settings)
