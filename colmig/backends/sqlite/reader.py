"""SQLite reader: ADBC streams; declared column types restore the Arrow types written.

Catalog lookups pass table names as parameters (``pragma_table_info(?)``); queries quote them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from colmig.backends.sql_common import TableChoice
from colmig.backends.sql_reader import SqlReader
from colmig.backends.sqlite.decode import decode, typed_select
from colmig.backends.sqlite.writer import arrow_type, connect
from colmig.config import Settings
from colmig.errors import ColmigError, ConnectionFailedError, TargetError, TransientError
from colmig.urls import URL


class SqliteReader(SqlReader):
    dialect = "sqlite"

    def __init__(self, url: URL, settings: Settings) -> None:
        super().__init__(url, settings)
        from pathlib import Path

        if url.path and url.path != ":memory:" and not Path(url.path).exists():
            raise ConnectionFailedError(f"SQLite database {url.redacted} does not exist")

    def quote(self, name: str) -> str:
        # One identifier, dots included (a CSV header "temp.c" is a column, not a path).
        return '"' + name.replace('"', '""') + '"'

    def _open_stream(
        self, sql: str, batch_rows: int
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch], Callable[[], None]]:
        conn = connect(self.url)
        cur = conn.cursor()
        try:
            cur.execute(sql)
            reader = cur.fetch_record_batch()
        except Exception:
            conn.close()
            raise

        # Text that stands for another type (TIME) is decoded here; conform does the rest.
        schema = self._schema
        skip = 1 if sql in self.__dict__.setdefault("_typed_first_row", set()) else 0

        def batches() -> Iterator[pa.RecordBatch]:
            _owner = cur
            dropped = skip
            for batch in reader:
                if dropped:
                    batch, dropped = batch.slice(dropped), 0
                    if not batch.num_rows:
                        continue
                yield batch if schema is None else decode(batch, schema)
            del _owner

        def close() -> None:
            try:
                reader.close()
                cur.close()
            finally:
                conn.close()

        return reader.schema, batches(), close

    def _error_class(self, exc: BaseException) -> type[ColmigError]:
        from adbc_driver_manager import AdbcStatusCode

        if getattr(exc, "status_code", None) == AdbcStatusCode.TIMEOUT:
            return TransientError
        # A local file: no connection to lose; the query or its data failed (exit 4).
        return TargetError

    def _select(self, choice: TableChoice, where: str | None) -> str:
        """A table's rows with one storage class per column, which ADBC needs: it types each
        column from the first batch and fails on any other type later ("Type mismatch in
        column 1: expected INT64 but got DOUBLE" for a NUMERIC column holding 1 and 2.5, or a
        column whose first rows are NULL). Decimal columns are read as text and REAL ones as
        REAL; a first row of typed literals (dropped in _open_stream) fixes every type."""
        if not choice.source:
            return super()._select(choice, where)
        rows = self._fetch_all("SELECT name, type FROM pragma_table_info(?)", (choice.source,))
        if not rows:
            return super()._select(choice, where)
        columns = [(str(name), str(declared or "")) for name, declared in rows]
        sql = typed_select(self.quote, self._from(choice), columns, where)
        self.__dict__.setdefault("_typed_first_row", set()).add(sql)
        return sql

    def _fetch_all(self, sql: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        conn = connect(self.url)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return [tuple(r) for r in cur.fetchall()]
        finally:
            conn.close()

    def _fetch_one(self, sql: str) -> tuple[Any, ...]:
        row = self._fetch_all(sql)[0]
        return tuple(_parse_bound(v) for v in row)

    def _list_tables(self) -> list[str]:
        rows = self._fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'colmig\\_%'"
            " ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1"
        )
        return [str(r[0]) for r in rows]

    def _primary_key(self, table: str) -> str | None:
        rows = self._guarded(
            lambda: self._fetch_all(
                "SELECT name, type FROM pragma_table_info(?) WHERE pk", (table,)
            )
        )
        if len(rows) == 1 and (rows[0][1] or "").upper() in {"INTEGER", "BIGINT", "INT"}:
            return str(rows[0][0])
        return None

    def _schema_of(self, choice: TableChoice) -> pa.Schema:
        if choice.source:
            return super()._schema_of(choice)

        # A query has no declared types: ADBC infers them from rows, so probe real rows.
        def probe() -> pa.Schema:
            sql = f"SELECT * FROM {self._from(choice)} LIMIT 10000"
            schema, batches, close = self._open_stream(sql, 10000)
            try:
                first = next(iter(batches), None)
            finally:
                close()
            return self._normalize_schema(first.schema if first is not None else schema, choice)

        return self._guarded(probe)  # type: ignore[no-any-return]

    def _normalize_schema(self, schema: pa.Schema, choice: TableChoice) -> pa.Schema:
        declared: dict[str, str] = {}
        if choice.source:
            rows = self._fetch_all("SELECT name, type FROM pragma_table_info(?)", (choice.source,))
            declared = {str(r[0]): str(r[1] or "") for r in rows}
        fields = []
        for field in schema:
            wanted = arrow_type(declared.get(field.name, ""))
            t = wanted if wanted is not None else field.type
            if pa.types.is_null(t):
                t = pa.string()
            fields.append(pa.field(field.name, t, True))
        return pa.schema(fields)

    def _range_literal(self, value: Any, kind: str) -> str:
        if kind == "int":
            return str(int(value))
        # Timestamps are ISO text with a "T"; compare in the same shape.
        return "'" + str(value).replace(" ", "T").replace("'", "''") + "'"


def _parse_bound(value: Any) -> Any:
    """MIN/MAX of ISO text columns come back as text: make them datetimes to split by time."""
    import datetime as dt

    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def open_reader(url: URL, settings: Settings) -> SqliteReader:
    """Open a SQLite table, list/glob of tables or query as a data source."""
    return SqliteReader(url, settings)
