"""SQLite writer: ADBC ingest inside the ledger transaction.

SQLite has type affinities, not types: the declared column type records the Arrow type so a
read gives it back (see :mod:`colmig.backends.sqlite.reader`). Timestamps are stored as ISO
8601 text in UTC, decimals as exact text, JSON and UUID as text, booleans as 0/1.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from colmig.backends.sql_common import LEDGER_TABLE, quote_ident, sql_string
from colmig.backends.sql_writer import SqlWriter
from colmig.config import Settings
from colmig.errors import TargetError
from colmig.urls import URL


def connect(url: URL) -> Any:
    import adbc_driver_sqlite.dbapi as sqlite

    path = url.path or ":memory:"
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite.connect(path, autocommit=False)
    cur = conn.cursor()
    # Parallel workers share one file: wait for the write lock instead of failing at once.
    cur.execute("PRAGMA busy_timeout = 120000")
    cur.close()
    return conn


def sqlite_type(field: pa.Field) -> str:
    """The declared SQLite type that records an Arrow type."""
    t = field.type
    hint = (field.metadata or {}).get(b"colmig.type", b"").decode()
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.json":
            return "JSON"
        if t.extension_name == "arrow.uuid":
            return "UUID"
        t = t.storage_type
    if hint in {"json", "jsonb"}:
        return "JSON"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return "BIGINT" if t.bit_width == 64 else "INTEGER"
    if pa.types.is_floating(t):
        return "REAL" if t.bit_width < 64 else "DOUBLE"
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return "TEXT"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "BLOB"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return f"TIMESTAMP{'TZ' if t.tz else ''}({ {'s': 0, 'ms': 3, 'us': 6, 'ns': 9}[t.unit] })"
    if pa.types.is_time(t):
        return "TIME"
    raise TargetError(f"column {field.name}: Arrow type {field.type} has no SQLite mapping")


def arrow_type(declared: str) -> pa.DataType | None:
    """The Arrow type a declared SQLite column type stands for (None: keep what ADBC infers)."""
    d = declared.upper().replace(" ", "")
    if d.startswith("TIMESTAMPTZ") or d.startswith("TIMESTAMPWITHTIMEZONE"):
        return pa.timestamp("ns" if "(9)" in d else "us", tz="UTC")
    if d.startswith(("TIMESTAMP", "DATETIME")):
        return pa.timestamp("ns" if "(9)" in d else "us")
    if d == "DATE":
        return pa.date32()
    if d == "TIME":
        return pa.time64("us")
    if d in {"BOOLEAN", "BOOL"}:
        return pa.bool_()
    if d.startswith(("DECIMAL", "NUMERIC")) and "(" in d:
        precision, _, scale = d.split("(")[1].rstrip(")").partition(",")
        return pa.decimal128(int(precision), int(scale or 0))
    if d == "JSON":
        return pa.json_()
    if d == "UUID":
        return pa.uuid()
    if d in {"INTEGER", "BIGINT", "INT", "SMALLINT", "TINYINT"}:
        return pa.int64()
    if d in {"REAL", "DOUBLE", "FLOAT", "DOUBLEPRECISION"}:
        return pa.float64()
    if d.startswith(("TEXT", "VARCHAR", "CHAR", "CLOB")):
        return pa.string()
    if d == "BLOB":
        return pa.binary()
    return None


def to_storage(column: pa.Array) -> pa.Array:
    """What ADBC SQLite can ingest: decimals/JSON/UUID as text, the rest as is."""
    t = column.type
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.uuid":
            return pa.array(
                [
                    None if v is None else str(uuid.UUID(bytes=v))
                    for v in column.storage.to_pylist()
                ],
                pa.string(),
            )
        return column.storage
    if pa.types.is_decimal(t):
        return pc.cast(column, pa.string())
    if pa.types.is_time(t):
        return pc.cast(pc.cast(column, pa.time64("us")), pa.string())
    return column


class SqliteWriter(SqlWriter):
    dialect = "sqlite"

    def _connect(self) -> Any:
        return connect(self.url)

    def quote(self, name: str) -> str:
        return quote_ident(name)

    def literal(self, value: str) -> str:
        return sql_string(value)

    def _ensure_ledger(self, cur: Any) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (job_id TEXT NOT NULL, partition_id TEXT"
            " NOT NULL, rows_written INTEGER NOT NULL, committed_at TEXT NOT NULL,"
            " run_id TEXT NOT NULL, PRIMARY KEY (job_id, partition_id))"
        )

    def _table_exists(self, cur: Any, table: str) -> bool:
        cur.execute(f"SELECT COUNT(*) FROM sqlite_master WHERE name = {self.literal(table)}")
        return bool(cur.fetchall()[0][0])

    def _existing_load_schema(self, cur: Any, table: str, schema: pa.Schema) -> pa.Schema | None:
        if not self._table_exists(cur, table):
            return None
        cur.execute(f"PRAGMA table_info({self.quote(table)})")
        declared = {r[1]: (r[2] or "") for r in cur.fetchall()}
        problems = []
        for field in schema:
            if field.name not in declared:
                problems.append(f"  {field.name}: missing in the target table")
                continue
            want = arrow_type(sqlite_type(field))
            have = arrow_type(declared[field.name])
            if want is not None and have is not None and _family(want) != _family(have):
                problems.append(
                    f"  {field.name}: source {field.type} needs {sqlite_type(field)}, target has "
                    f"{declared[field.name]}"
                )
        if problems:
            raise TargetError(
                f"table {table} is incompatible with the data:\n" + "\n".join(problems), table=table
            )
        return schema

    def _create_table(self, cur: Any, table: str, schema: pa.Schema, keys: list[str]) -> pa.Schema:
        cols = [
            f"{self.quote(f.name)} {sqlite_type(f)}{'' if f.nullable else ' NOT NULL'}"
            for f in schema
        ]
        if keys:
            cols.append(f"PRIMARY KEY ({', '.join(self.quote(k) for k in keys)})")
        cur.execute(f"CREATE TABLE {self.quote(table)} ({', '.join(cols)})")
        return schema

    def _load(
        self, cur: Any, table: str, batches: Iterator[pa.RecordBatch], schema: pa.Schema
    ) -> None:
        storage = pa.schema(
            [pa.field(f.name, to_storage(pa.array([], f.type)).type) for f in schema]
        )

        def converted() -> Iterator[pa.RecordBatch]:
            for batch in batches:
                yield pa.RecordBatch.from_arrays(
                    [to_storage(c) for c in batch.columns], schema=storage
                )

        reader = pa.RecordBatchReader.from_batches(storage, converted())
        temporary = table.startswith("colmig_tmp_")
        cur.adbc_ingest(table, reader, mode="append", temporary=temporary)

    def _create_temp_like(self, cur: Any, temp: str, table: str) -> None:
        cur.execute(
            f"CREATE TEMP TABLE {self.quote(temp)} AS SELECT * FROM {self.quote(table)} WHERE 0"
        )

    def _merge_sql(self, target: str, source: str, columns: list[str], keys: list[str]) -> str:
        names = ", ".join(self.quote(c) for c in columns)
        return (
            f"INSERT OR REPLACE INTO {self.quote(target)} ({names}) SELECT {names} FROM "
            f"{self.quote(source)}"
        )

    def _swap(self, cur: Any, staging: str, target: str) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {self.quote(target)}")
        cur.execute(f"ALTER TABLE {self.quote(staging)} RENAME TO {self.quote(target)}")

    def _checksum_expr(self, col: str, field: pa.Field) -> str | None:
        # SQLite has no md5(); validation falls back to the engine's totals.
        return None


def _family(t: pa.DataType) -> str:
    if isinstance(t, pa.BaseExtensionType):
        return t.extension_name
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_timestamp(t):
        return f"timestamp{'tz' if t.tz else ''}"
    return str(t).split("(")[0]


def open_writer(url: URL, settings: Settings) -> SqliteWriter:
    """Open a SQLite table as a data target."""
    return SqliteWriter(url, settings)
