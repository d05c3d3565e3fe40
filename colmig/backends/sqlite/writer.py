"""SQLite writer: ADBC ingest inside the ledger transaction.

SQLite has type affinities, not types: the declared column type records the Arrow type so a
read gives it back (see :mod:`colmig.backends.sqlite.reader`). Timestamps are stored as ISO
8601 text in UTC, decimals as exact text (``DECIMAL_TEXT(p,s)``: TEXT affinity, so SQLite
does not turn them into doubles), JSON and UUID as text, booleans as 0/1. Values SQLite
cannot keep (NaN, -0.0, unsigned integers past 2^63-1) are refused (see fit.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from colmig.backends.base import ColumnStats, JobInfo, Partition
from colmig.backends.sql_common import LEDGER_TABLE, sql_string
from colmig.backends.sql_writer import SqlWriter
from colmig.backends.sqlite.fit import storage_batch
from colmig.backends.target_fit import Position, load_field
from colmig.config import Settings
from colmig.errors import ColmigError, TargetError, TransientError
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
            return "JSON_TEXT"
        if t.extension_name == "arrow.uuid":
            return "UUID"
        t = t.storage_type
    if hint in {"json", "jsonb"}:
        return "JSON_TEXT"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        if t == pa.uint64():
            return "UBIGINT"
        return "BIGINT" if t.bit_width == 64 else "INTEGER"
    if pa.types.is_floating(t):
        return "REAL" if t.bit_width < 64 else "DOUBLE"
    if pa.types.is_decimal(t):
        # "DECIMAL(p,s)" has NUMERIC affinity: SQLite would store the text as a double.
        return f"DECIMAL_TEXT({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return "TEXT"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "BLOB"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return f"TIMESTAMP{'TZ' if t.tz else ''}({ {'s': 0, 'ms': 3, 'us': 6, 'ns': 9}[t.unit] })"
    if pa.types.is_time(t):
        return "TIME(9)" if t == pa.time64("ns") else "TIME"
    raise TargetError(
        f"column {field.name}: Arrow type {field.type} has no SQLite mapping; cast it in a"
        " transform (a duration to int64 of its unit, a list or struct to JSON text)",
        column=field.name,
    )


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
    if d == "TIME(9)":
        return pa.time64("ns")
    if d == "UBIGINT":
        return pa.uint64()
    if d in {"BOOLEAN", "BOOL"}:
        return pa.bool_()
    if d.startswith(("DECIMAL", "NUMERIC")) and "(" in d:
        precision, _, scale = d.split("(")[1].rstrip(")").partition(",")
        maker = pa.decimal128 if int(precision) <= 38 else pa.decimal256
        return maker(int(precision), int(scale or 0))
    # JSON_TEXT has TEXT affinity; a "JSON" column (NUMERIC) turns the text 1.50 into 1.5.
    if d in {"JSON", "JSON_TEXT"}:
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


class SqliteWriter(SqlWriter):
    dialect = "sqlite"

    def __init__(self, url: URL, settings: Settings) -> None:
        super().__init__(url, settings)
        #: Declared column types of each table loaded (the target's types win).
        self._declared: dict[str, dict[str, str]] = {}

    def _connect(self) -> Any:
        return connect(self.url)

    def _begin(self, cur: Any) -> None:
        # ADBC keeps a deferred transaction open, which takes the write lock only at the first
        # write: two workers that both read first (the ledger) then deadlock on the upgrade and
        # SQLite fails one at once ("database is locked"). Take the write lock up front, so
        # parallel workers queue on busy_timeout instead.
        cur.execute("COMMIT")
        cur.execute("BEGIN IMMEDIATE")

    def _error_class(self, exc: BaseException) -> type[ColmigError]:
        from adbc_driver_manager import AdbcStatusCode

        if getattr(exc, "status_code", None) == AdbcStatusCode.TIMEOUT:
            return TransientError
        # A local file has no connection to lose: everything else is the target refusing.
        return TargetError

    def _range_literal(self, value: Any, kind: str) -> str:
        if kind == "int":
            return str(int(value))
        # Timestamps are stored as ISO text with a "T": compare in the same shape.
        return sql_string(str(value).replace(" ", "T"))

    def quote(self, name: str) -> str:
        # One identifier, dots included (a CSV header "temp.c" is a column, not a path).
        return '"' + name.replace('"', '""') + '"'

    def literal(self, value: str) -> str:
        return sql_string(value)

    def _ensure_ledger(self, cur: Any) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (job_id TEXT NOT NULL, partition_id TEXT"
            " NOT NULL, rows_written INTEGER NOT NULL, committed_at TEXT NOT NULL,"
            " run_id TEXT NOT NULL, PRIMARY KEY (job_id, partition_id))"
        )
        # Which table each partition went to (resume checks it); added to older ledgers.
        cur.execute(
            "SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = 'target_table'", (LEDGER_TABLE,)
        )
        if not cur.fetchall()[0][0]:
            cur.execute(f"ALTER TABLE {LEDGER_TABLE} ADD COLUMN target_table TEXT")

    def _table_exists(self, cur: Any, table: str) -> bool:
        cur.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = ?", (table,))
        return bool(cur.fetchall()[0][0])

    def _existing_load_schema(self, cur: Any, table: str, schema: pa.Schema) -> pa.Schema | None:
        if not self._table_exists(cur, table):
            return None
        cur.execute("SELECT name, type FROM pragma_table_info(?)", (table,))
        declared = {str(r[0]): str(r[1] or "") for r in cur.fetchall()}
        self._declared[table] = declared
        problems = []
        for field in schema:
            if field.name not in declared:
                problems.append(f"  {field.name}: missing in the target table")
                continue
            want = arrow_type(sqlite_type(field))
            have = arrow_type(declared[field.name])
            if want is not None and have is not None and not _accepts(_family(have), _family(want)):
                problems.append(
                    f"  {field.name}: source {field.type} needs {sqlite_type(field)}, target has "
                    f"{declared[field.name]}"
                )
        if problems:
            raise TargetError(
                f"table {table} is incompatible with the data:\n" + "\n".join(problems), table=table
            )
        return pa.schema(
            [load_field(f, arrow_type(declared[f.name]), declared[f.name]) for f in schema]
        )

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
        declared = self._declared.get(table, {})
        where = Position(table)
        empty = pa.RecordBatch.from_pylist([], schema=schema)
        storage = storage_batch(empty, declared, where).schema

        temporary = table.startswith("colmig_tmp_")
        # One ingest per batch, converted first: a refused value is raised here, not inside
        # ADBC's stream binding (which would wrap it and leave its statement open).
        try:
            for batch in batches:
                stored = storage_batch(batch, declared, where)
                where.offset += batch.num_rows
                data = pa.RecordBatch.from_arrays(stored.columns, schema=storage)
                cur.adbc_ingest(table, data, mode="append", temporary=temporary)
        except BaseException:
            # The error's traceback keeps this cursor alive; closed, it cannot keep the
            # connection from closing ("Cannot close AdbcConnection with open AdbcStatement").
            cur.close()
            raise

    def _create_temp_like(self, cur: Any, temp: str, table: str) -> None:
        cur.execute(
            f"CREATE TEMP TABLE {self.quote(temp)} AS SELECT * FROM {self.quote(table)} WHERE 0"
        )
        self._declared[temp] = self._declared.get(table, {})

    def _merge_sql(self, target: str, source: str, columns: list[str], keys: list[str]) -> str:
        names = ", ".join(self.quote(c) for c in columns)
        updates = ", ".join(
            f"{self.quote(c)} = excluded.{self.quote(c)}" for c in columns if c not in keys
        )
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        # "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint.
        return (
            f"INSERT INTO {self.quote(target)} ({names}) SELECT {names} FROM"
            f" {self.quote(source)} WHERE true ON CONFLICT ({', '.join(map(self.quote, keys))})"
            f" {action}"
        )

    def _merge(self, cur: Any, target: str, source: str, columns: list[str]) -> None:
        """ON CONFLICT where a unique index is exactly on -key; otherwise delete the rows with
        matching keys and insert, in the partition's transaction (INSERT OR REPLACE would
        append duplicates to a table without such an index)."""
        keys = self._keys()
        if self._unique_on(cur, target, keys):
            cur.execute(self._merge_sql(target, source, columns, keys))
            return
        q = self.quote
        match = " AND ".join(f"s.{q(k)} IS {q(target)}.{q(k)}" for k in keys)
        cur.execute(
            f"DELETE FROM {q(target)} WHERE EXISTS (SELECT 1 FROM {q(source)} AS s WHERE {match})"
        )
        names = ", ".join(q(c) for c in columns)
        cur.execute(f"INSERT INTO {q(target)} ({names}) SELECT {names} FROM {q(source)}")

    def _unique_on(self, cur: Any, table: str, keys: list[str]) -> bool:
        """True when ``table`` has a primary key or unique index on exactly ``keys``."""
        cur.execute('SELECT name FROM pragma_index_list(?) WHERE "unique"', (table,))
        indexes = [str(r[0]) for r in cur.fetchall()]
        for index in indexes:
            cur.execute("SELECT name FROM pragma_index_info(?)", (index,))
            if {str(r[0]) for r in cur.fetchall()} == set(keys):
                return True
        cur.execute("SELECT name FROM pragma_table_info(?) WHERE pk > 0", (table,))
        return {str(r[0]) for r in cur.fetchall()} == set(keys)

    def _swap(self, cur: Any, staging: str, target: str) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {self.quote(target)}")
        cur.execute(f"ALTER TABLE {self.quote(staging)} RENAME TO {self.quote(target)}")

    def _checksum_expr(self, col: str, field: pa.Field) -> str | None:
        # SQLite has no md5() and sums exact text as doubles: see _read_stats.
        return None

    def partition_stats(
        self, partition: Partition, schema: pa.Schema, job: JobInfo
    ) -> dict[str, ColumnStats] | None:
        found = self._partition_range(partition, schema, job)
        if found is None:
            return None
        target, where = found
        return self._read_stats(target, schema, where)

    def target_stats(self, schema: pa.Schema, job: JobInfo) -> dict[str, ColumnStats] | None:
        return self._read_stats(self._target_name(job), schema, None)

    def _read_stats(
        self, table: str, schema: pa.Schema, where: str | None
    ) -> dict[str, ColumnStats]:
        """The canonical statistics (colmig.engine.checksums) of the rows the table holds,
        computed by the same code as the source side over the stored values read back."""
        from colmig.backends.sqlite.decode import decode, typed_select
        from colmig.engine.checksums import StatsAccumulator

        accumulator = StatsAccumulator(schema)
        with self._guard("validation"):
            cur = self._cursor()
            if not self._table_exists(cur, table):
                self.conn.rollback()
                return {}
            cur.execute("SELECT name, type FROM pragma_table_info(?)", (table,))
            declared = {str(r[0]): str(r[1] or "") for r in cur.fetchall()}
            columns = [(f.name, declared.get(f.name, "")) for f in schema]
            cur.execute(typed_select(self.quote, self.quote(table), columns, where))
            first = True
            for batch in cur.fetch_record_batch():
                if first:  # the row of typed literals
                    batch, first = batch.slice(1), False
                accumulator.add(decode(batch, schema))
            self.conn.rollback()
        return accumulator.result()


def _family(t: pa.DataType) -> str:
    if isinstance(t, pa.BaseExtensionType):
        return t.extension_name
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return f"timestamp{'tz' if t.tz else ''}"
    return str(t).split("(")[0]


#: Target families that take a source family value by value (checked while loading).
_ACCEPTS = {
    "int": {"int", "float"},
    # A zoned instant in a plain TIMESTAMP/DATETIME column is stored as UTC wall time.
    "timestamptz": {"timestamptz", "timestamp"},
}


def _accepts(have: str, want: str) -> bool:
    return have == want or have in _ACCEPTS.get(want, set())


def open_writer(url: URL, settings: Settings) -> SqliteWriter:
    """Open a SQLite table as a data target."""
    return SqliteWriter(url, settings)
