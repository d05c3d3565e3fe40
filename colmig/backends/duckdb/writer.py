"""DuckDB writer: native Arrow ingest inside the ledger transaction, one writer at a time.

A DuckDB file admits one read-write process at a time (any other process, even a read-only
one, fails to open it), while the engine writes partitions from parallel worker processes.
So every operation takes an exclusive ``fcntl.flock`` on ``<file>.colmig.lock`` next to the
database, connects, works, commits and closes before releasing it; other workers wait on the
lock (no timeout: the holder is always a colmig process making progress). Readers of the same
file take the lock shared (see :mod:`colmig.backends.duckdb.reader`). A process outside colmig
holding the file (a DuckDB shell, an application) is waited on for ``-lock-timeout`` seconds,
then the partition fails with ConnectionFailedError naming the file.

To keep reading and transforming parallel, a worker first spools its partition's batches to an
uncompressed Arrow IPC file in the temp directory (``TMPDIR``), and only then takes the lock and
loads the spool with ``INSERT INTO t SELECT ... FROM <registered Arrow stream>``; memory stays
bounded (the spool is memory-mapped), the lock is held only for the load.

Write modes come from :class:`SqlWriter`: append, replace (staging table renamed in at the end)
and upsert (temporary table, then ``INSERT ... ON CONFLICT (key) DO UPDATE``, keeping the last
row of a key within a partition). The table is created from the Arrow schema (see
:mod:`colmig.backends.duckdb.typemap`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from colmig.backends.base import JobInfo, Partition, WriteResult
from colmig.backends.duckdb import typemap
from colmig.backends.sql_common import LEDGER_TABLE, conform, quote_ident, sql_string, stats_kind
from colmig.backends.sql_writer import SqlWriter
from colmig.config import Settings
from colmig.errors import ColmigError, ConfigError, ConnectionFailedError, TargetError
from colmig.urls import URL, redact_secrets

LOCK_SUFFIX = ".colmig.lock"


def database_path(url: URL) -> str:
    """The file of a ``duckdb://`` URL (``duckdb://rel/x.duckdb`` or ``duckdb:///abs/x.duckdb``)."""
    path = url.path
    if not path or path == ":memory:":
        raise ConfigError(
            f"{url.redacted}: a DuckDB URL needs a database file, e.g. duckdb://data/iot.duckdb"
        )
    return path


class FileLock:
    """An ``flock`` on ``<database>.colmig.lock``: exclusive for writers, shared for readers."""

    def __init__(self, database: str, shared: bool) -> None:
        self.path = database + LOCK_SUFFIX
        self.shared = shared
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        if self._handle is not None:
            return
        try:
            handle = open(self.path, "a+")  # noqa: SIM115 - held until release()
        except OSError:
            if self.shared:
                return  # a read-only directory: no colmig writer can be there either
            raise
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX)
        except BaseException:
            handle.close()
            raise
        self._handle = handle

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


def open_database(url: URL, *, read_only: bool, wait_s: float) -> Any:
    """Connect to the DuckDB file of ``url`` (session time zone UTC).

    A file held by another process is retried for ``wait_s`` seconds; then, or on any other
    failure, ConnectionFailedError names the file.
    """
    import duckdb

    path = database_path(url)
    deadline = time.monotonic() + max(wait_s, 0.0)
    delay = 0.05
    while True:
        try:
            conn = duckdb.connect(path, read_only=read_only)
            break
        except duckdb.Error as exc:
            text = str(exc)
            if "lock" in text.lower() and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            first = redact_secrets(text).strip().splitlines()[0] if text.strip() else ""
            hint = (
                " (another process has the file open for writing; DuckDB allows one writer "
                "and no concurrent readers in other processes)"
                if "lock" in text.lower()
                else ""
            )
            raise ConnectionFailedError(
                f"cannot open DuckDB database {url.redacted}: {first}{hint}", url=url.redacted
            ) from None
    try:
        conn.execute("SET TimeZone = 'UTC'")
    except BaseException:
        conn.close()
        raise
    return conn


def error_class(exc: BaseException) -> type[ColmigError]:
    """DuckDB's exception classes: I/O and connection failures are the file, not the data."""
    import duckdb

    if isinstance(exc, duckdb.IOException | duckdb.ConnectionException | OSError):
        return ConnectionFailedError
    return TargetError


class DuckConnection:
    """A DuckDB connection shaped like the DB-API cursor/connection SqlWriter drives.

    DuckDB's ``cursor()`` opens a second connection with its own transaction, so this object is
    both. It also owns the writer lock and releases it on close.
    """

    def __init__(self, raw: Any, lock: FileLock) -> None:
        self.raw = raw
        self.lock = lock

    def cursor(self) -> DuckConnection:
        return self

    def execute(self, sql: str, parameters: Any = None) -> DuckConnection:
        self.raw.execute(sql, parameters)
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self.raw.fetchall())

    @property
    def description(self) -> Any:
        return self.raw.description

    def register(self, name: str, data: Any) -> None:
        self.raw.register(name, data)

    def unregister(self, name: str) -> None:
        self.raw.unregister(name)

    def commit(self) -> None:
        self.raw.commit()

    def rollback(self) -> None:
        import duckdb

        # DuckDB refuses ROLLBACK outside a transaction; the guard calls it after any error.
        with contextlib.suppress(duckdb.TransactionException):
            self.raw.execute("ROLLBACK")

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            self.lock.release()


class DuckdbWriter(SqlWriter):
    dialect = "duckdb"

    def __init__(self, url: URL, settings: Settings) -> None:
        super().__init__(url, settings)
        self.path = database_path(url)

    # --- connection: lock, connect, work, close -------------------------------------------------

    def _connect(self) -> Any:
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConnectionFailedError(
                f"cannot create the directory of DuckDB database {self.url.redacted}: "
                f"{exc.strerror or exc}",
                url=self.url.redacted,
            ) from None
        lock = FileLock(self.path, shared=False)
        try:
            lock.acquire()
        except OSError as exc:
            raise ConnectionFailedError(
                f"cannot lock DuckDB database {self.url.redacted} ({lock.path}): "
                f"{exc.strerror or exc}",
                url=self.url.redacted,
            ) from None
        try:
            raw = open_database(self.url, read_only=False, wait_s=self.settings.lock_timeout)
        except BaseException:
            lock.release()
            raise
        return DuckConnection(raw, lock)

    def _cursor(self) -> Any:
        return self.conn

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        """One connection (and one hold of the lock) for the duration of the block.

        Sessions nest; the outermost one closes the connection, which releases the lock.
        """
        self.__dict__["_depth"] = self.__dict__.get("_depth", 0) + 1
        try:
            yield
        finally:
            self.__dict__["_depth"] -= 1
            if self.__dict__["_depth"] == 0:
                self.close()

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:  # type: ignore[override]
        # Every SqlWriter operation runs under a guard: making each one a session means no
        # operation, present or future, keeps the file locked after it returns.
        with self._session(), super()._guard(what):
            yield

    # --- contract: every operation is one session ----------------------------------------------

    def prepare(self, schema: pa.Schema, job: JobInfo, fresh: bool) -> None:
        with self._session():
            super().prepare(schema, job, fresh)

    def write_partition(
        self,
        partition: Partition,
        batches: Iterable[pa.RecordBatch],
        schema: pa.Schema,
        job: JobInfo,
    ) -> WriteResult:
        with _spool(batches) as replay, self._session():
            return super().write_partition(partition, replay(), schema, job)

    def committed_partitions(self, job: JobInfo) -> set[str] | None:
        if not Path(self.path).exists():
            return set()
        with self._session():
            return super().committed_partitions(job)

    # --- dialect hooks --------------------------------------------------------------------------

    def quote(self, name: str) -> str:
        return quote_ident(name)

    def _error_class(self, exc: BaseException) -> type[ColmigError]:
        return error_class(exc)

    def literal(self, value: str) -> str:
        return sql_string(value)

    def _placeholder(self, index: int) -> str | None:
        return "?"

    def _begin(self, cur: Any) -> None:
        cur.execute("BEGIN TRANSACTION")

    def _ensure_ledger(self, cur: Any) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (job_id VARCHAR NOT NULL, partition_id"
            " VARCHAR NOT NULL, rows_written BIGINT NOT NULL, committed_at TIMESTAMPTZ NOT NULL,"
            " run_id VARCHAR NOT NULL, PRIMARY KEY (job_id, partition_id))"
        )
        cur.execute(f"ALTER TABLE {LEDGER_TABLE} ADD COLUMN IF NOT EXISTS target_table VARCHAR")

    def _where_table(self, table: str) -> str:
        schema, _, name = table.rpartition(".")
        clause = f"lower(table_name) = lower({self.literal(name)})"
        if schema:
            clause += f" AND lower(schema_name) = lower({self.literal(schema)})"
        return clause

    def _table_exists(self, cur: Any, table: str) -> bool:
        cur.execute(f"SELECT COUNT(*) FROM duckdb_tables() WHERE {self._where_table(table)}")
        return bool(cur.fetchall()[0][0])

    def _columns(self, cur: Any, table: str) -> list[typemap.DuckColumn]:
        cur.execute(
            "SELECT column_name, data_type, is_nullable, column_default IS NOT NULL FROM"
            f" duckdb_columns() WHERE {self._where_table(table)} ORDER BY column_index"
        )
        return [typemap.DuckColumn(r[0], r[1], bool(r[2]), bool(r[3])) for r in cur.fetchall()]

    def _existing_load_schema(self, cur: Any, table: str, schema: pa.Schema) -> pa.Schema | None:
        columns = self._columns(cur, table)
        if not columns:
            return None
        return typemap.check_compatible(schema, columns, table)

    def _create_table(self, cur: Any, table: str, schema: pa.Schema, keys: list[str]) -> pa.Schema:
        cur.execute(typemap.create_table_sql(table, schema, keys, self.quote))
        return typemap.load_schema(schema)

    def _load(
        self, cur: Any, table: str, batches: Iterator[pa.RecordBatch], schema: pa.Schema
    ) -> None:
        view = f"colmig_arrow_{uuid.uuid4().hex[:12]}"
        cur.register(view, pa.RecordBatchReader.from_batches(schema, batches))
        names = ", ".join(self.col(n) for n in schema.names)
        try:
            cur.execute(f"INSERT INTO {self.quote(table)} ({names}) SELECT {names} FROM {view}")
        finally:
            # Unregistering in a transaction the INSERT aborted fails: keep the INSERT's error.
            with contextlib.suppress(Exception):
                cur.unregister(view)

    def _create_temp_like(self, cur: Any, temp: str, table: str) -> None:
        cur.execute(
            f"CREATE TEMP TABLE {self.quote(temp)} AS SELECT * FROM {self.quote(table)} LIMIT 0"
        )

    def _merge_sql(self, target: str, source: str, columns: list[str], keys: list[str]) -> str:
        names = ", ".join(self.col(c) for c in columns)
        key_list = ", ".join(self.col(k) for k in keys)
        updates = ", ".join(
            f"{self.col(c)} = EXCLUDED.{self.col(c)}" for c in columns if c not in keys
        )
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        # ON CONFLICT cannot touch one row twice per statement: the last row of a key wins.
        return (
            f"INSERT INTO {self.quote(target)} ({names}) SELECT {names} FROM {self.quote(source)}"
            f" QUALIFY row_number() OVER (PARTITION BY {key_list} ORDER BY rowid DESC) = 1"
            f" ON CONFLICT ({key_list}) {action}"
        )

    def _checksum_expr(self, col: str, field: pa.Field) -> str | None:
        return typemap.checksum_expr(col, stats_kind(field.type), field.type)

    def _merge(self, cur: Any, target: str, source: str, columns: list[str]) -> None:
        """ON CONFLICT where a PRIMARY KEY or UNIQUE constraint on -key exists, else MERGE."""
        keys = self._keys()
        cur.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() WHERE"
            f" {self._where_table(target)} AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
        )
        constrained = [{c.lower() for c in row[0]} for row in cur.fetchall()]
        if {k.lower() for k in keys} in constrained:
            cur.execute(self._merge_sql(target, source, columns, keys))
            return
        key_list = ", ".join(self.col(k) for k in keys)
        on = " AND ".join(f"t.{self.col(k)} = s.{self.col(k)}" for k in keys)
        names = ", ".join(self.col(c) for c in columns)
        sets = ", ".join(f"{self.col(c)} = s.{self.col(c)}" for c in columns if c not in keys)
        matched = f" WHEN MATCHED THEN UPDATE SET {sets}" if sets else ""
        values = ", ".join(f"s.{self.col(c)}" for c in columns)
        cur.execute(
            f"MERGE INTO {self.quote(target)} AS t USING (SELECT {names} FROM"
            f" {self.quote(source)} QUALIFY row_number() OVER (PARTITION BY {key_list}"
            f" ORDER BY rowid DESC) = 1) AS s ON {on}{matched}"
            f" WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
        )


@contextlib.contextmanager
def _spool(batches: Iterable[pa.RecordBatch]) -> Iterator[Any]:
    """Drain ``batches`` into a temporary Arrow IPC file; yield a function replaying them."""
    fd, path = tempfile.mkstemp(prefix="colmig-duckdb-", suffix=".arrows")
    try:
        schema: pa.Schema | None = None
        with os.fdopen(fd, "wb") as sink:
            writer: Any = None
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                if writer is None:
                    schema = batch.schema
                    writer = pa.ipc.new_stream(sink, schema)
                elif not batch.schema.equals(schema, check_metadata=False):
                    batch = conform(batch.select(schema.names), schema)  # type: ignore[union-attr]
                writer.write_batch(batch)
            if writer is not None:
                writer.close()

        def replay() -> Iterator[pa.RecordBatch]:
            if schema is None:
                return
            # Batches point into the mapping; it lives as long as they do.
            yield from pa.ipc.open_stream(pa.memory_map(path))

        yield replay
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def open_writer(url: URL, settings: Settings) -> DuckdbWriter:
    """Open a DuckDB table as a data target (connections opened per operation, under a lock)."""
    return DuckdbWriter(url, settings)
