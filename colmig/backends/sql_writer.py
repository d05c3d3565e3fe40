"""The transactional-ledger writer shared by PostgreSQL, MySQL/MariaDB and SQLite.

Every partition commits its rows and its ``colmig_ledger`` row in one database transaction,
so ``committed_partitions`` is exact after any crash. Write modes:

* append: rows go straight into the target inside the partition's transaction;
* replace: rows go into a per-job staging table; ``finalize`` swaps it in atomically;
* upsert: each partition loads a temporary table and merges it on ``-key`` in the same
  transaction as its ledger row;
* ``-rollback-on-error`` (append/upsert): rows go into a per-job staging table that
  ``finalize`` moves into the target in one transaction and ``rollback`` drops.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from colmig.backends.base import Capabilities, ColumnStats, JobInfo, Partition, Writer, WriteResult
from colmig.backends.sql_common import (
    LEDGER_TABLE,
    SQL_TYPE_KEY,
    cast_column,
    default_table_name,
    quote_name,
    range_predicate,
    staging_table,
)
from colmig.backends.sql_convert import ValueDoesNotFit, fit_batch
from colmig.config import Settings
from colmig.errors import (
    ColmigError,
    ConfigError,
    ConnectionFailedError,
    TargetError,
    TransientError,
)
from colmig.urls import URL, redact_secrets

log = logging.getLogger(__name__)
_LOGGED_MISFITS = 20
#: Resume counts at most this many rows of a target table to check the ledger against it.
RESUME_COUNT_CAP = 1_000_000

_CONNECTION_WORDS = (
    "connection refused",
    "could not connect",
    "server closed",
    "connection reset",
    "terminating connection",
    "lost connection",
    "can't connect",
    "broken pipe",
    "connection to server",
    "gone away",
    "no connection",
    "connection is closed",
    "eof",
)


def legacy_error_class(exc: BaseException) -> type[ColmigError]:
    """Message-text classification kept only for dialects without their own ``_error_class``."""
    if any(word in str(exc).lower() for word in _CONNECTION_WORDS):
        return TransientError
    return TargetError


class SqlWriter(Writer):
    """A DB-API based writer; subclasses supply the dialect."""

    dialect = "sql"
    capabilities = Capabilities(transactional_ledger=True, upsert=True, replace=True)

    def __init__(self, url: URL, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self._conn: Any = None
        if settings.write_mode == "upsert" and not settings.key:
            raise ConfigError("-write-mode upsert needs -key col[,col]")

    # --- connection -------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_conn"] = None
        state.pop("_cursors", None)
        return state

    @property
    def conn(self) -> Any:
        if self._conn is None:
            try:
                self._conn = self._connect()
            except ColmigError:
                raise
            except Exception as exc:
                raise ConnectionFailedError(
                    f"cannot connect to {self.url.redacted}: {redact_secrets(str(exc))}",
                    url=self.url.redacted,
                ) from None
        return self._conn

    def _cursor(self) -> Any:
        """A cursor of the shared connection; ADBC will not close a connection with open ones."""
        for old in self.__dict__.pop("_cursors", []):
            with contextlib.suppress(Exception):
                old.close()
        cur = self.conn.cursor()
        self.__dict__["_cursors"] = [cur]
        return cur

    def close(self) -> None:
        for old in self.__dict__.pop("_cursors", []):
            with contextlib.suppress(Exception):
                old.close()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def __del__(self) -> None:
        self.close()

    def describe(self) -> str:
        job = self.__dict__.get("_described_job")
        return f"{self.dialect} table {self._target_name(job)} at {self.url.redacted}"

    # --- dialect hooks ------------------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    def quote(self, name: str) -> str: ...

    def col(self, name: str) -> str:
        """Quote a column name as one identifier (``quote`` splits ``schema.table`` at dots)."""
        return quote_name(name, self.quote("x")[0])

    @abstractmethod
    def literal(self, value: str) -> str: ...

    @abstractmethod
    def _ensure_ledger(self, cur: Any) -> None: ...

    @abstractmethod
    def _existing_load_schema(self, cur: Any, table: str, schema: pa.Schema) -> pa.Schema | None:
        """The load schema of an existing compatible table, None when it does not exist."""

    @abstractmethod
    def _create_table(self, cur: Any, table: str, schema: pa.Schema, keys: list[str]) -> pa.Schema:
        """Create ``table`` for ``schema``; return its load schema."""

    @abstractmethod
    def _load(
        self, cur: Any, table: str, batches: Iterator[pa.RecordBatch], schema: pa.Schema
    ) -> None:
        """Bulk-load ``batches`` (already conformed to ``schema``) into ``table``, no commit."""

    @abstractmethod
    def _create_temp_like(self, cur: Any, temp: str, table: str) -> None: ...

    @abstractmethod
    def _merge_sql(self, target: str, source: str, columns: list[str], keys: list[str]) -> str: ...

    def _merge(self, cur: Any, target: str, source: str, columns: list[str]) -> None:
        """Upsert the rows of ``source`` into ``target`` on -key (same transaction)."""
        cur.execute(self._merge_sql(target, source, columns, self._keys()))

    def _swap(self, cur: Any, staging: str, target: str) -> None:
        """Put the fully loaded staging table in the target's place (-write-mode replace)."""
        cur.execute(f"DROP TABLE IF EXISTS {self.quote(target)}")
        cur.execute(
            f"ALTER TABLE {self.quote(staging)} RENAME TO {self.quote(target.split('.')[-1])}"
        )

    @abstractmethod
    def _table_exists(self, cur: Any, table: str) -> bool: ...

    @abstractmethod
    def _checksum_expr(self, col: str, field: pa.Field) -> str | None:
        """SQL aggregate of the canonical checksum of one quoted column (see
        colmig.engine.checksums), or None when the dialect cannot compute it."""

    def _stats_sql(self, table: str, schema: pa.Schema, where: str | None) -> str | None:
        """``count, nulls_1, sum_1, nulls_2, sum_2, ...`` of ``table`` (read by stats_from_row)."""
        parts = ["COUNT(*)"]
        for field in schema:
            col = self.col(field.name)
            checksum = self._checksum_expr(col, field)
            if checksum is None:
                return None
            parts.append(f"COUNT(*) - COUNT({col})")
            parts.append(checksum)
        clause = f" WHERE {where}" if where else ""
        return f"SELECT {', '.join(parts)} FROM {self.quote(table)}{clause}"

    def _drop_temp(self, cur: Any, temp: str) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {self.quote(temp)}")

    def _after_create(self, cur: Any, table: str) -> None:
        """Dialect extras on a freshly created target (TimescaleDB hypertable)."""

    def _begin(self, cur: Any) -> None:
        """Start a transaction where the driver does not do it implicitly."""

    def _range_literal(self, value: Any, kind: str) -> str:
        return str(int(value)) if kind == "int" else self.literal(str(value))

    def _error_class(self, exc: BaseException) -> type[ColmigError]:
        """The colmig family of a driver exception: TransientError (reconnect and retry),
        ConnectionFailedError or TargetError. Dialects classify by driver exception class and
        SQLSTATE/errno; this fallback serves dialects that do not yet."""
        return legacy_error_class(exc)

    # --- naming -------------------------------------------------------------------------------

    def _target_name(self, job: JobInfo | None, partition: Partition | None = None) -> str:
        if partition is not None and partition.spec.get("target_table"):
            return str(partition.spec["target_table"])
        s = self.settings
        name = s.target_table or (s.table if s.table and "," not in s.table else None)
        if name and not any(ch in name for ch in "*?["):
            return name
        if job is not None and job.target_table:
            return job.target_table
        if job is not None:
            return default_table_name(job.source_redacted)
        if self.url.query.get("table"):
            return self.url.query["table"]
        return "colmig_data"

    def _uses_staging(self) -> bool:
        return self.settings.write_mode == "replace" or self.settings.rollback_on_error

    def _staging(self, target: str, job: JobInfo) -> str:
        kind = "replace" if self.settings.write_mode == "replace" else "run"
        return staging_table(target, job.job_id, kind)

    def _keys(self) -> list[str]:
        return [k.strip() for k in (self.settings.key or "").split(",") if k.strip()]

    def _placeholder(self, index: int) -> str | None:
        """The driver's parameter marker for the ``index``-th (0-based) parameter, or None when
        the dialect passes values as escaped literals."""
        return None

    def _ledger_sql(self, cur: Any, template: str, *values: Any) -> None:
        """Run a ledger statement whose ``{}`` slots are values (ids, counts, table names),
        bound as driver parameters where the dialect has them."""
        if self._placeholder(0) is None:
            cur.execute(
                template.format(
                    *(str(v) if isinstance(v, int) else self.literal(str(v)) for v in values)
                )
            )
            return
        cur.execute(template.format(*(self._placeholder(i) for i in range(len(values)))), values)

    def _per_partition_tables(self) -> bool:
        """A list or glob of source tables: each goes to its own table, named per partition."""
        s = self.settings
        spec = s.source_table or s.table or ""
        return not s.target_table and not s.query and ("," in spec or any(c in spec for c in "*?["))

    def _create_for_partition(self, cur: Any, table: str, schema: pa.Schema) -> None:
        """Create a list/glob job's target table in its own committed transaction, once, while
        parallel partitions of the same table wait (then see it)."""
        self.conn.rollback()
        with self._creation_lock(cur, table):
            self._begin(cur)
            if self._existing_load_schema(cur, table, schema) is None:
                keys = self._keys() if self.settings.write_mode == "upsert" else []
                self._create_table(cur, table, schema, keys)
                self._after_create(cur, table)
            self.conn.commit()
        self._begin(cur)

    def _creation_lock(self, cur: Any, table: str) -> contextlib.AbstractContextManager[None]:
        """Held while one process checks for and creates ``table``."""
        return contextlib.nullcontext()

    def _ledger_has_target(self, cur: Any) -> bool:
        """Whether the ledger records each partition's target table (the column is optional:
        ledgers of older colmig versions, and dialects that do not add it, lack it)."""
        if "_ledger_target" not in self.__dict__:
            self.__dict__["_ledger_target"] = "target_table" in self._columns_of(cur, LEDGER_TABLE)
        return bool(self.__dict__["_ledger_target"])

    # --- contract -----------------------------------------------------------------------------

    def prepare(self, schema: pa.Schema, job: JobInfo, fresh: bool) -> None:
        self.__dict__["_described_job"] = job
        target = self._target_name(job)
        keys = self._keys() if self.settings.write_mode == "upsert" else []
        missing = [k for k in keys if k not in schema.names]
        if missing:
            raise ConfigError(f"-key column(s) {', '.join(missing)} not in the data")
        if self._per_partition_tables() and self._uses_staging():
            raise ConfigError(
                "-write-mode replace and -rollback-on-error stage one table: run one job per"
                " table instead of a list or glob of tables"
            )
        with self._guard("prepare"):
            cur = self._cursor()
            self._begin(cur)
            self._ensure_ledger(cur)
            if fresh:
                self._ledger_sql(cur, f"DELETE FROM {LEDGER_TABLE} WHERE job_id = {{}}", job.job_id)
            resumed = self._ledger_count(cur, job) > 0
            if self.settings.write_mode == "replace":
                staging = self._staging(target, job)
                if not resumed or not self._table_exists(cur, staging):
                    if not resumed:
                        cur.execute(f"DROP TABLE IF EXISTS {self.quote(staging)}")
                    if not resumed or not self._table_exists(cur, target):
                        self._create_table(cur, staging, schema, keys)
                        self._after_create(cur, staging)
            elif not self._per_partition_tables():
                if self._existing_load_schema(cur, target, schema) is None:
                    self._create_table(cur, target, schema, keys)
                    self._after_create(cur, target)
                if self.settings.rollback_on_error:
                    staging = self._staging(target, job)
                    if not resumed:
                        cur.execute(f"DROP TABLE IF EXISTS {self.quote(staging)}")
                    if not self._table_exists(cur, staging):
                        self._create_table(cur, staging, schema, [])
            self.conn.commit()

    def _ledger_count(self, cur: Any, job: JobInfo) -> int:
        self._ledger_sql(
            cur, f"SELECT COUNT(*) FROM {LEDGER_TABLE} WHERE job_id = {{}}", job.job_id
        )
        return int(cur.fetchall()[0][0])

    def write_partition(
        self,
        partition: Partition,
        batches: Iterable[pa.RecordBatch],
        schema: pa.Schema,
        job: JobInfo,
    ) -> WriteResult:
        target = self._target_name(job, partition)
        counted = {"rows": 0, "bytes": 0}
        with self._guard(f"partition {partition.label}"):
            cur = self._cursor()
            self._begin(cur)
            self._ledger_sql(
                cur,
                f"SELECT rows_written FROM {LEDGER_TABLE}"
                " WHERE job_id = {} AND partition_id = {}",
                job.job_id,
                partition.id,
            )
            done = cur.fetchall()
            if done:
                self.conn.rollback()
                return WriteResult(rows=int(done[0][0]), bytes=0)
            dest = self._staging(target, job) if self._uses_staging() else target
            load_schema = self._existing_load_schema(cur, dest, schema)
            if load_schema is None and self._per_partition_tables():
                self._create_for_partition(cur, dest, schema)
                load_schema = self._existing_load_schema(cur, dest, schema)
            if load_schema is None:
                raise TargetError(f"target table {dest} disappeared during the run", table=dest)

            fitter = _Fitter(self.settings.on_error != "fail", partition.label, load_schema)

            raised: list[BaseException] = []

            def stream() -> Iterator[pa.RecordBatch]:
                try:
                    for batch in batches:
                        if batch.num_rows == 0:
                            continue
                        fitted = fitter.fit(batch.select(load_schema.names))
                        counted["rows"] += fitted.num_rows
                        counted["bytes"] += batch.nbytes
                        if fitted.num_rows:
                            yield fitted
                except BaseException as exc:
                    # Drivers scanning this stream wrap what it raises in their own errors.
                    raised.append(exc)
                    raise

            try:
                if self.settings.write_mode == "upsert" and not self.settings.rollback_on_error:
                    temp = f"colmig_tmp_{partition.id[-12:]}".replace("-", "_")
                    self._create_temp_like(cur, temp, dest)
                    self._load(cur, temp, stream(), load_schema)
                    self._merge(cur, dest, temp, load_schema.names)
                    self._drop_temp(cur, temp)
                else:
                    self._load(cur, dest, stream(), load_schema)
            except Exception:
                if raised:
                    raise raised[0] from None
                raise
            stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
            # A bound parameter keeps its type (timestamptz); a literal is the text form.
            now: Any = stamp if self._placeholder(0) else stamp.strftime("%Y-%m-%d %H:%M:%S")
            names, values = "", ""
            row: tuple[Any, ...] = (job.job_id, partition.id, counted["rows"], now, job.run_id)
            if self._ledger_has_target(cur):
                names, values, row = ", target_table", ", {}", (*row, target)
            self._ledger_sql(
                cur,
                f"INSERT INTO {LEDGER_TABLE} (job_id, partition_id, rows_written, committed_at,"
                f" run_id{names}) VALUES ({{}}, {{}}, {{}}, {{}}, {{}}{values})",
                *row,
            )
            self.conn.commit()
        return WriteResult(
            rows=counted["rows"],
            bytes=counted["bytes"],
            outputs=(target,),
            rejected_rows=fitter.rejected,
        )

    def committed_partitions(self, job: JobInfo) -> set[str] | None:
        """The job's ledger rows whose rows are still plausibly in the target.

        A partition whose table was dropped or emptied since is forgotten (its ledger row
        deleted) so the run writes it again; a table holding fewer rows than the ledger
        records for it (append) stops the run naming the table, since which partitions lost
        rows cannot be told."""
        with self._guard("reading the ledger"):
            cur = self._cursor()
            self._begin(cur)
            if not self._table_exists(cur, LEDGER_TABLE):
                self.conn.rollback()
                return set()
            target = ", target_table" if self._ledger_has_target(cur) else ""
            self._ledger_sql(
                cur,
                f"SELECT partition_id, rows_written{target} FROM {LEDGER_TABLE}"
                " WHERE job_id = {}",
                job.job_id,
            )
            by_table: dict[str | None, dict[str, int]] = {}
            # Rows written before the ledger named tables: a list/glob job's table is unknown.
            default = None if self._per_partition_tables() else self._target_name(job)
            for row in cur.fetchall():
                table = str(row[2]) if target and row[2] else default
                by_table.setdefault(table, {})[str(row[0])] = int(row[1])
            stale: set[str] = set()
            for table, entries in by_table.items():
                if table is not None and self._rows_gone(cur, table, job, sum(entries.values())):
                    stale |= set(entries)
            if stale:
                self._forget(cur, job, stale)
                self.conn.commit()
            else:
                self.conn.rollback()
            return {pid for entries in by_table.values() for pid in entries} - stale

    def _rows_gone(self, cur: Any, table: str, job: JobInfo, recorded: int) -> bool:
        """True when ``table`` lost every row the ledger records for it; raises TargetError
        when it lost only some of them (append)."""
        holders = [table]
        if self._uses_staging():
            staging = self._staging(table, job)
            if self.settings.write_mode == "replace":
                holders = [staging] if self._table_exists(cur, staging) else [table]
            else:
                holders = [staging, table]
        present = [t for t in holders if self._table_exists(cur, t)]
        if not present:
            log.warning(
                "table %s recorded as loaded by this job is gone from %s: writing its"
                " partitions again",
                table,
                self.url.redacted,
            )
            return True
        if recorded == 0:
            return False
        # Counting stops at what the ledger recorded (capped): cheap next to the load itself.
        wanted = recorded if self.settings.write_mode == "append" else 1
        wanted = min(wanted, RESUME_COUNT_CAP)
        held = sum(self._count_up_to(cur, t, wanted) for t in present)
        if held == 0:
            log.warning(
                "table %s holds none of the %d rows this job loaded into it (emptied since):"
                " writing its partitions again",
                table,
                recorded,
            )
            return True
        if held < wanted:
            self.conn.rollback()
            raise TargetError(
                f"table {table} in {self.url.redacted} holds {held} rows but this job's ledger"
                f" records {recorded} rows committed into it: rows were deleted since the last"
                " run and colmig cannot tell which partitions lost them. Empty the table and"
                " re-run with -fresh, or delete this job's rows from colmig_ledger",
                table=table,
            )
        return False

    def _count_up_to(self, cur: Any, table: str, limit: int) -> int:
        cur.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM {self.quote(table)} LIMIT {limit}) s")
        return int(cur.fetchall()[0][0])

    def _forget(self, cur: Any, job: JobInfo, partition_ids: set[str]) -> None:
        for pid in sorted(partition_ids):
            self._ledger_sql(
                cur,
                f"DELETE FROM {LEDGER_TABLE} WHERE job_id = {{}} AND partition_id = {{}}",
                job.job_id,
                pid,
            )

    def finalize(self, job: JobInfo) -> None:
        if not self._uses_staging():
            return
        target = self._target_name(job)
        staging = self._staging(target, job)
        with self._guard("finalize"):
            cur = self._cursor()
            self._begin(cur)
            if not self._table_exists(cur, staging):
                self.conn.rollback()
                return
            if self.settings.write_mode == "replace":
                self._swap(cur, staging, target)
            else:
                cols = self._columns_of(cur, staging)
                if self.settings.write_mode == "upsert":
                    self._merge(cur, target, staging, cols)
                else:
                    names = ", ".join(self.col(c) for c in cols)
                    cur.execute(
                        f"INSERT INTO {self.quote(target)} ({names}) SELECT {names} FROM "
                        f"{self.quote(staging)}"
                    )
                cur.execute(f"DROP TABLE {self.quote(staging)}")
            self.conn.commit()

    def _columns_of(self, cur: Any, table: str) -> list[str]:
        cur.execute(f"SELECT * FROM {self.quote(table)} WHERE 1 = 0")
        cur.fetchall()
        return [d[0] for d in cur.description]

    def rollback(self, job: JobInfo, partition_ids: Iterable[str] = ()) -> None:
        """Undo this job's uncommitted work: drop its staging table and forget its ledger rows.

        Only a staged run (-rollback-on-error or replace) can be undone; rows appended directly
        are already visible and stay."""
        target = self._target_name(job)
        with self._guard("rollback"):
            cur = self._cursor()
            self._begin(cur)
            if self._uses_staging():
                cur.execute(f"DROP TABLE IF EXISTS {self.quote(self._staging(target, job))}")
                if self._table_exists(cur, LEDGER_TABLE):
                    self._ledger_sql(
                        cur, f"DELETE FROM {LEDGER_TABLE} WHERE job_id = {{}}", job.job_id
                    )
            self.conn.commit()

    def _partition_range(
        self, partition: Partition, schema: pa.Schema, job: JobInfo
    ) -> tuple[str, str] | None:
        """The target table and WHERE clause holding ``partition``'s rows, when it is a range
        of a column the target has (other partitions cannot be told apart in the target)."""
        spec = dict(partition.spec)
        column = spec.get("column")
        if not column or "lo" not in spec or column not in schema.names:
            return None
        where = range_predicate(spec, self.col, self._range_literal)
        return self._target_name(job, partition), where

    def partition_stats(
        self, partition: Partition, schema: pa.Schema, job: JobInfo
    ) -> dict[str, ColumnStats] | None:
        found = self._partition_range(partition, schema, job)
        if found is None:
            return None
        target, where = found
        sql = self._stats_sql(target, schema, where)
        if sql is None:
            return None
        with self._guard("validation"):
            cur = self._cursor()
            self._begin(cur)
            cur.execute(sql)
            row = cur.fetchall()[0]
            self.conn.rollback()
        return stats_from_row(schema, row)

    def target_stats(self, schema: pa.Schema, job: JobInfo) -> dict[str, ColumnStats] | None:
        target = self._target_name(job)
        sql = self._stats_sql(target, schema, None)
        if sql is None:
            return None
        with self._guard("validation"):
            cur = self._cursor()
            self._begin(cur)
            if not self._table_exists(cur, target):
                self.conn.rollback()
                return {}
            cur.execute(sql)
            row = cur.fetchall()[0]
            self.conn.rollback()
        return stats_from_row(schema, row)

    # --- errors -------------------------------------------------------------------------------

    def _guard(self, what: str) -> _Guard:
        return _Guard(self, what)


def stats_from_row(schema: pa.Schema, row: tuple[Any, ...]) -> dict[str, ColumnStats]:
    """Decode the row of ``count, nulls_1, sum_1, nulls_2, sum_2, ...`` from ``*_stats_sql``."""
    from colmig.backends.sql_common import canonical_decimal, canonical_float, stats_kind

    count = int(row[0])
    out: dict[str, ColumnStats] = {}
    for index, field in enumerate(schema):
        kind = stats_kind(field.type)
        if kind == "none":
            continue
        nulls, total = row[1 + 2 * index], row[2 + 2 * index]
        if kind == "float":
            out[field.name] = ColumnStats(count, int(nulls), canonical_float(total), True)
        else:
            out[field.name] = ColumnStats(count, int(nulls), canonical_decimal(total))
    return out


class _Fitter:
    """Converts a partition's batches exactly to the target's column types (sql_convert).

    A value that does not fit stops the partition naming column, value, row and partition, or
    with ``lenient`` (-on-error skip/reject) drops its row, counts it and logs it."""

    def __init__(self, lenient: bool, where: str, schema: pa.Schema) -> None:
        self.lenient = lenient
        self.where = f"partition {where}"
        self.schema = schema
        self.names = {
            f.name: (f.metadata or {}).get(SQL_TYPE_KEY, str(f.type).encode()).decode()
            for f in schema
        }
        self.offset = 0
        self.rejected = 0

    def fit(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        fitted, misfits = fit_batch(
            batch, self.schema, self.names, lenient=self.lenient, fallback=cast_column
        )
        for misfit in misfits:
            shifted = dataclasses.replace(misfit, row=misfit.row + self.offset)
            if not self.lenient:
                raise ValueDoesNotFit(shifted.describe(self.where), column=misfit.column)
            if self.rejected < _LOGGED_MISFITS:
                log.warning("skipped: %s", shifted.describe(self.where))
        self.rejected += len({m.row for m in misfits})
        self.offset += batch.num_rows
        return fitted


class _Guard:
    """Rolls back and turns driver exceptions into typed, redacted colmig errors."""

    def __init__(self, writer: SqlWriter, what: str) -> None:
        self.writer = writer
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, _tb: Any) -> bool:
        if exc is None:
            return False
        conn = self.writer._conn
        if conn is not None:
            try:
                conn.rollback()
            except Exception:
                self.writer._conn = None
        if isinstance(exc, ColmigError) or not isinstance(exc, Exception):
            return False
        text = redact_secrets(str(exc)).strip()
        message = text.splitlines()[0] if text else type(exc).__name__
        where = f"{self.writer.dialect} {self.writer.url.redacted}"
        cls = self.writer._error_class(exc)
        if cls is not TargetError:
            self.writer.close()
            raise cls(
                f"{self.what}: connection to {where} failed: {message}",
                url=self.writer.url.redacted,
            ) from None
        raise TargetError(
            f"{self.what}: {where} refused the data: {message}", url=self.writer.url.redacted
        ) from None
