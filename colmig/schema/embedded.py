"""Shared SchemaTarget for embedded, file-based databases (SQLite, DuckDB).

Both have transactional DDL: each migration and its tracking row commit in one transaction.
The migration lock is an exclusive ``flock`` on ``<database file>.colmig-lock`` (the kernel
drops it if colmig dies), held together with the database's own write transaction. Nothing
creates the database file until a mutating command needs it, so ``-dry-run`` and ``status``
on a missing file leave no file behind.
"""

from __future__ import annotations

import json
import re
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from colmig.audit import ENTRY_KEYS
from colmig.backends.base import AppliedMigration, SchemaTarget
from colmig.config import Settings
from colmig.errors import ConfigError, MigrationFailedError, TargetError
from colmig.schema.filelock import FileLock
from colmig.urls import URL, redact_secrets

AUDIT_TABLE = "colmig_audit"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_RECORD_COLUMNS = (
    "version",
    "description",
    "checksum",
    "applied_at",
    "duration_ms",
    "applied_by",
    "dirty",
)


def table_ident(name: str) -> str:
    """Quote a plain or ``schema.table`` name; ConfigError for anything else."""
    if not _IDENT.match(name):
        raise ConfigError(
            f"-migrations-table {name!r} must be a plain name or schema.name "
            "(letters, digits, underscores)"
        )
    return ".".join(f'"{part}"' for part in name.split("."))


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception message, redacted."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return redact_secrets(lines[0] if lines else type(exc).__name__)


class EmbeddedSchemaTarget(SchemaTarget):
    """A file-backed database migrated through a DB-API connection with ``?`` parameters."""

    transactional_ddl = True
    #: Whether even a read needs the file lock (DuckDB: one process may open the file).
    lock_for_reads = False
    begin_sql = "BEGIN"

    def __init__(self, url: URL, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        raw = url.path
        self.memory = raw in ("", ":memory:")
        self.path = None if self.memory else Path(raw).expanduser().resolve()
        lock_path = Path(f"{self.path}.colmig-lock") if self.path else Path("/nonexistent")
        self._flock = FileLock(lock_path, "migration")
        self._conn: Any = None
        self._locked = False

    # --- driver specifics ---------------------------------------------------------------------

    @abstractmethod
    def _connect(self, read_only: bool) -> Any:
        """Open a connection (read-only ones never create the file)."""

    @abstractmethod
    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        """The driver's exception classes for failing SQL."""

    @abstractmethod
    def _table_exists(self, conn: Any, table: str) -> bool:
        """Whether ``table`` (plain or schema.name) exists."""

    # --- connection handling ------------------------------------------------------------------

    def _exists(self) -> bool:
        return self.memory or (self.path is not None and self.path.exists())

    @contextmanager
    def _session(self, write: bool) -> Iterator[Any]:
        """A connection (None: read of a missing file); driver errors become TargetError."""
        try:
            with self._raw_session(write) as conn:
                yield conn
        except self._driver_errors() as exc:
            raise TargetError(f"{self.url.redacted}: {first_line(exc)}") from exc

    @contextmanager
    def _raw_session(self, write: bool) -> Iterator[Any]:
        if self._conn is not None and (self._locked or self.memory):
            yield self._conn
            return
        if not write and not self._exists():
            yield None
            return
        if self.memory:
            self._conn = self._connect(read_only=False)
            yield self._conn
            return
        hold = self.lock_for_reads or write
        if hold and not self._flock.held:
            self._flock.acquire(self.settings.lock_timeout)
            release = True
        else:
            release = False
        try:
            conn = self._connect(read_only=not write)
            try:
                yield conn
            finally:
                conn.close()
        finally:
            if release:
                self._flock.release()

    # --- SchemaTarget -------------------------------------------------------------------------

    def lock(self, timeout_s: float) -> None:
        """Take the ``.colmig-lock`` file lock, then open the read-write connection."""
        if self.memory:
            return
        self._flock.acquire(timeout_s)
        try:
            if self._conn is None:
                self._conn = self._connect(read_only=False)
        except BaseException:
            self._flock.release()
            raise
        self._locked = True

    def unlock(self) -> None:
        """Close the connection and drop the file lock."""
        if self.memory:
            return
        self._locked = False
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                conn.close()
        finally:
            self._flock.release()

    def close(self) -> None:
        """Close everything; idempotent."""
        if not self.memory:
            self.unlock()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def ensure_tables(self, migrations_table: str) -> None:
        """Create the tracking and audit tables when missing."""
        table = table_ident(migrations_table)
        with self._session(write=True) as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {table} ("
                "version TEXT PRIMARY KEY, description TEXT NOT NULL, checksum TEXT NOT NULL, "
                "applied_at TEXT NOT NULL, duration_ms BIGINT NOT NULL, "
                "applied_by TEXT NOT NULL, dirty BOOLEAN NOT NULL DEFAULT FALSE)"
            )
            self._create_audit(conn)

    def _create_audit(self, conn: Any) -> None:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} ("
            '"at" TEXT NOT NULL, "user" TEXT, "host" TEXT, "operation" TEXT NOT NULL, '
            '"source" TEXT, "direction" TEXT, "from_version" TEXT, "to_version" TEXT, '
            '"versions" TEXT, "duration_ms" BIGINT, "outcome" TEXT NOT NULL, "error" TEXT)'
        )

    def applied(self, migrations_table: str) -> list[AppliedMigration]:
        """Tracking rows by version; [] when the file or the table does not exist."""
        table = table_ident(migrations_table)
        with self._session(write=False) as conn:
            if conn is None or not self._table_exists(conn, migrations_table):
                return []
            rows = conn.execute(
                f"SELECT {', '.join(_RECORD_COLUMNS)} FROM {table} ORDER BY version"
            ).fetchall()
        return [
            AppliedMigration(
                version=str(r[0]),
                description=str(r[1]),
                checksum=str(r[2]),
                applied_at=str(r[3]),
                duration_ms=int(r[4]),
                applied_by=str(r[5]),
                dirty=bool(r[6]),
            )
            for r in rows
        ]

    def _upsert(self, conn: Any, table: str, record: Mapping[str, Any]) -> None:
        values = [record[c] for c in _RECORD_COLUMNS]
        values[-1] = bool(values[-1])
        conn.execute(f"DELETE FROM {table} WHERE version = ?", [values[0]])
        marks = ", ".join("?" for _ in values)
        conn.execute(f"INSERT INTO {table} ({', '.join(_RECORD_COLUMNS)}) VALUES ({marks})", values)

    @contextmanager
    def _transaction(self, conn: Any) -> Iterator[None]:
        conn.execute(self.begin_sql)
        try:
            yield
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except self._driver_errors():
                pass  # the failure already ended the transaction
            raise
        conn.execute("COMMIT")

    def apply(
        self,
        statements: list[str],
        record: Mapping[str, Any] | None,
        remove_version: str | None,
        migrations_table: str,
        *,
        in_transaction: bool = True,
    ) -> None:
        """Run the statements and the bookkeeping in one transaction (or, for a
        no-transaction file, each statement on its own between a dirty and a clean row)."""
        table = table_ident(migrations_table)
        if not in_transaction:
            self._apply_outside_transaction(statements, record, remove_version, table)
            return
        with self._session(write=True) as conn, self._transaction(conn):
            self._run_statements(conn, statements)
            if record is not None:
                self._upsert(conn, table, record)
            if remove_version is not None:
                conn.execute(f"DELETE FROM {table} WHERE version = ?", [remove_version])

    def _apply_outside_transaction(
        self,
        statements: list[str],
        record: Mapping[str, Any] | None,
        remove_version: str | None,
        table: str,
    ) -> None:
        with self._session(write=True) as conn:
            with self._transaction(conn):
                if record is not None:
                    self._upsert(conn, table, {**record, "dirty": True})
                if remove_version is not None:
                    conn.execute(
                        f"UPDATE {table} SET dirty = TRUE WHERE version = ?", [remove_version]
                    )
            self._run_statements(conn, statements)  # the driver commits each one
            with self._transaction(conn):
                if record is not None:
                    self._upsert(conn, table, record)
                if remove_version is not None:
                    conn.execute(f"DELETE FROM {table} WHERE version = ?", [remove_version])

    def _run_statements(self, conn: Any, statements: list[str]) -> None:
        for index, sql in enumerate(statements):
            try:
                conn.execute(sql)
            except self._driver_errors() as exc:
                cause = first_line(exc)
                raise MigrationFailedError(
                    f"statement {index + 1} failed: {cause}",
                    statement_index=index,
                    cause=cause,
                ) from None

    def set_version(
        self, migrations_table: str, record: Mapping[str, Any] | None, remove_versions: list[str]
    ) -> None:
        """Insert/replace ``record`` and delete ``remove_versions`` in one transaction."""
        table = table_ident(migrations_table)
        with self._session(write=True) as conn, self._transaction(conn):
            if record is not None:
                self._upsert(conn, table, record)
            for version in remove_versions:
                conn.execute(f"DELETE FROM {table} WHERE version = ?", [version])

    def write_audit(self, entry: Mapping[str, Any]) -> None:
        """Append one entry to ``colmig_audit`` (versions as a JSON array)."""
        values = [entry.get(c) for c in ENTRY_KEYS]
        values[ENTRY_KEYS.index("versions")] = json.dumps(list(entry.get("versions") or []))
        columns = ", ".join(f'"{c}"' for c in ENTRY_KEYS)
        marks = ", ".join("?" for _ in values)
        with self._session(write=True) as conn:
            self._create_audit(conn)
            conn.execute(f"INSERT INTO {AUDIT_TABLE} ({columns}) VALUES ({marks})", values)
