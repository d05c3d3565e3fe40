"""MySQL/MariaDB schema target: pymysql, GET_LOCK, dirty-flag bookkeeping.

MySQL commits every DDL statement implicitly, so a migration cannot be rolled back as a whole.
The tracking row is therefore written dirty *before* the statements run and cleaned after the
last one; a failure leaves it dirty and the runner refuses to go on until ``force``. pymysql
sends one statement per call (no multi-statement flag), so procedure bodies with ``;`` inside
``BEGIN ... END`` need no DELIMITER: the runner hands each statement over whole.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

from colmig.backends.base import AppliedMigration, SchemaTarget
from colmig.backends.schema_common import (
    AUDIT_TABLE,
    CONNECT_TIMEOUT_S,
    applied_from_rows,
    audit_row,
    lock_name,
    snippet,
    tracking_row,
)
from colmig.backends.sql_common import quote_ident
from colmig.config import Settings
from colmig.errors import (
    ColmigError,
    ConfigError,
    ConnectionFailedError,
    LockTimeoutError,
    MigrationFailedError,
    TargetError,
)
from colmig.urls import URL, add_secret, redact_secrets

#: Error codes meaning the server is gone (2003 refused, 2006 gone, 2013 lost; from the
#: server: 1053 shutting down, 1927 MariaDB's "connection was killed").
_CONNECTION_CODES = {1053, 1927, 2002, 2003, 2005, 2006, 2013, 2055}


def mysql_error(exc: BaseException) -> str:
    """``message [error code]`` from a pymysql exception, redacted, one line."""
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):
        text = f"{args[1]} [error {args[0]}]"
    else:
        text = str(exc) or type(exc).__name__
    text = redact_secrets(text).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def q(name: str) -> str:
    return quote_ident(name, "`")


class MysqlSchemaTarget(SchemaTarget):
    """Schema migrations on one MySQL or MariaDB database."""

    dialect = "mysql"
    transactional_ddl = False

    def __init__(self, url: URL, settings: Settings) -> None:
        if not url.database:
            raise ConfigError(f"{url.redacted} names no database; add /DBNAME to the URL")
        self.url = url
        self.settings = settings
        add_secret(url.password)
        self._lock_name = lock_name(url.database, settings.migrations_table)
        self._locked = False
        self._conn: Any = None

    # --- connection ---------------------------------------------------------------------------

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> Any:
        import pymysql

        try:
            conn = pymysql.connect(
                host=self.url.host or "127.0.0.1",
                port=self.url.port or 3306,
                user=self.url.username or "root",
                password=self.url.password or "",
                database=self.url.database,
                charset="utf8mb4",
                autocommit=False,
                connect_timeout=CONNECT_TIMEOUT_S,
                # connect_timeout covers only TCP; a server that accepts and never greets would
                # hang the handshake forever without a read timeout.
                read_timeout=CONNECT_TIMEOUT_S,
                init_command="SET time_zone = '+00:00'",
            )
        except Exception as exc:
            raise ConnectionFailedError(
                f"cannot connect to {self.url.redacted}: {mysql_error(exc)}",
                url=self.url.redacted,
            ) from None
        # Migrations and GET_LOCK may take long: no read timeout once connected. pymysql
        # applies _read_timeout to the socket before each read.
        conn._read_timeout = None
        return conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._locked = False
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _rollback(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.rollback()
        except Exception:
            self._drop_connection()

    def _fail(self, what: str, exc: BaseException) -> ColmigError:
        """A typed error for a failed bookkeeping query (not a migration statement)."""
        self._rollback()
        if isinstance(exc, ColmigError):
            return exc
        message = f"{what} on {self.url.redacted} failed: {mysql_error(exc)}"
        if _code(exc) in _CONNECTION_CODES:
            self._drop_connection()
            return ConnectionFailedError(message, url=self.url.redacted)
        return TargetError(message, url=self.url.redacted)

    def _query(self, sql: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return [tuple(r) for r in cur.fetchall()]

    def _commit(self) -> None:
        # Also ends InnoDB's read snapshot: a later read must see other runs' commits.
        self.conn.commit()

    # --- tables -------------------------------------------------------------------------------

    def _table_exists(self, table: str) -> bool:
        schema, _, name = table.rpartition(".")
        rows = self._query(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema ="
            f" {'%s' if schema else 'DATABASE()'} AND table_name = %s",
            (schema, name) if schema else (name,),
        )
        return bool(rows[0][0])

    def ensure_tables(self, migrations_table: str) -> None:
        try:
            self._query(
                f"CREATE TABLE IF NOT EXISTS {q(migrations_table)} (version VARCHAR(191) NOT NULL"
                " PRIMARY KEY, description TEXT NOT NULL, checksum VARCHAR(64) NOT NULL DEFAULT"
                " '', applied_at DATETIME(6) NOT NULL, duration_ms BIGINT NOT NULL DEFAULT 0,"
                " applied_by VARCHAR(255) NOT NULL DEFAULT '', dirty BOOLEAN NOT NULL DEFAULT"
                " FALSE) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
            )
            self._create_audit_table()
            self._commit()
        except Exception as exc:
            raise self._fail(f"creating {migrations_table} and {AUDIT_TABLE}", exc) from None

    def _create_audit_table(self) -> None:
        self._query(
            f"CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY"
            " KEY, `at` DATETIME(6) NOT NULL, operation VARCHAR(64) NOT NULL, username"
            " VARCHAR(255), host VARCHAR(255), source TEXT, direction VARCHAR(16), from_version"
            " VARCHAR(191), to_version VARCHAR(191), versions TEXT, duration_ms BIGINT, outcome"
            " VARCHAR(32) NOT NULL, error TEXT, entry JSON NOT NULL) ENGINE=InnoDB DEFAULT"
            " CHARSET=utf8mb4"
        )

    def applied(self, migrations_table: str) -> list[AppliedMigration]:
        try:
            if not self._table_exists(migrations_table):
                self._commit()
                return []
            rows = self._query(
                "SELECT version, description, checksum, applied_at, duration_ms, applied_by,"
                f" dirty FROM {q(migrations_table)} ORDER BY version"
            )
            self._commit()
        except Exception as exc:
            raise self._fail(f"reading {migrations_table}", exc) from None
        return applied_from_rows(rows)

    # --- lock ---------------------------------------------------------------------------------

    def lock(self, timeout_s: float) -> None:
        if self._locked:
            return
        try:
            got = self._query("SELECT GET_LOCK(%s, %s)", (self._lock_name, max(timeout_s, 0.0)))
            self._commit()
            if got[0][0] == 1:
                self._locked = True
                return
            holder = self._query("SELECT IS_USED_LOCK(%s)", (self._lock_name,))[0][0]
            self._commit()
        except Exception as exc:
            raise self._fail("taking the migration lock", exc) from None
        who = f" (connection id {holder})" if holder else ""
        raise LockTimeoutError(
            f"another colmig run holds the migration lock {self._lock_name!r} on "
            f"{self.url.redacted}{who}; waited {timeout_s:g}s (raise -lock-timeout or retry when "
            "it has finished)",
            url=self.url.redacted,
        )

    def unlock(self) -> None:
        if not self._locked or self._conn is None:
            self._locked = False
            return
        try:
            self._query("SELECT RELEASE_LOCK(%s)", (self._lock_name,))
            self._commit()
        except Exception:
            # Closing the session releases the lock as well.
            self._drop_connection()
        self._locked = False

    # --- migrations ---------------------------------------------------------------------------

    def apply(
        self,
        statements: list[str],
        record: Mapping[str, Any] | None,
        remove_version: str | None,
        migrations_table: str,
        *,
        in_transaction: bool = True,
    ) -> None:
        # MySQL commits each DDL statement anyway: every file already runs the way a
        # '-- colmig:no-transaction' file does (dirty row first, cleaned after the last).
        del in_transaction
        table = q(migrations_table)
        row = tracking_row({**record, "dirty": True}, 0) if record is not None else None
        try:
            if remove_version is not None:
                self._query(
                    f"UPDATE {table} SET dirty = TRUE WHERE version = %s", (remove_version,)
                )
            if row is not None:
                self._query(f"DELETE FROM {table} WHERE version = %s", (row.version,))
                self._insert(table, row)
            self._commit()
        except Exception as exc:
            raise self._fail(f"marking the migration dirty in {migrations_table}", exc) from None
        started = time.monotonic()
        self._run(statements, row.version if row else remove_version)
        duration_ms = int((time.monotonic() - started) * 1000)
        try:
            if remove_version is not None:
                self._query(f"DELETE FROM {table} WHERE version = %s", (remove_version,))
            if row is not None:
                self._query(
                    f"UPDATE {table} SET dirty = FALSE, duration_ms = %s WHERE version = %s",
                    (duration_ms, row.version),
                )
            self._commit()
        except Exception as exc:
            raise self._fail(f"recording the migration in {migrations_table}", exc) from None

    def _run(self, statements: list[str], dirty_version: str | None) -> None:
        with self.conn.cursor() as cur:
            for index, statement in enumerate(statements):
                try:
                    cur.execute(statement)
                    # Drain every result set so the next statement starts cleanly.
                    while cur.nextset():
                        pass
                except Exception as exc:
                    # Pending DML rolls back; DDL that ran before is already committed.
                    self._rollback()
                    lost = _code(exc) in _CONNECTION_CODES
                    left = (
                        f"; version {dirty_version} is left dirty: check which of its statements"
                        " took effect, fix the database by hand, then run"
                        f" `colmig force {dirty_version}`"
                        if dirty_version
                        else ""
                    )
                    raise (ConnectionFailedError if lost else MigrationFailedError)(
                        f"statement {index + 1} of {len(statements)} failed: {mysql_error(exc)}"
                        f"{left} (statement: {snippet(statement)})",
                        statement_index=index,
                        cause=mysql_error(exc),
                        url=self.url.redacted,
                    ) from None

    def _insert(self, table: str, row: Any) -> None:
        self._query(
            f"INSERT INTO {table} (version, description, checksum, applied_at, duration_ms,"
            " applied_by, dirty) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                row.version,
                row.description,
                row.checksum,
                row.applied_at.replace(tzinfo=None),
                row.duration_ms,
                row.applied_by,
                row.dirty,
            ),
        )

    def set_version(
        self, migrations_table: str, record: Mapping[str, Any] | None, remove_versions: list[str]
    ) -> None:
        table = q(migrations_table)
        try:
            doomed = list(remove_versions) + ([str(record["version"])] if record else [])
            for version in doomed:
                self._query(f"DELETE FROM {table} WHERE version = %s", (version,))
            if record is not None:
                self._insert(table, tracking_row(record))
            self._commit()
        except Exception as exc:
            raise self._fail(f"updating {migrations_table}", exc) from None

    # --- audit --------------------------------------------------------------------------------

    def write_audit(self, entry: Mapping[str, Any]) -> None:
        row = audit_row(entry)
        try:
            self._rollback()
            self._create_audit_table()
            self._query(
                f"INSERT INTO {AUDIT_TABLE} (`at`, operation, username, host, source, direction,"
                " from_version, to_version, versions, duration_ms, outcome, error, entry) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    row.at.replace(tzinfo=None),
                    row.operation,
                    row.username,
                    row.host,
                    row.source,
                    row.direction,
                    row.from_version,
                    row.to_version,
                    row.versions,
                    row.duration_ms,
                    row.outcome,
                    row.error,
                    row.entry,
                ),
            )
            self._commit()
        except Exception as exc:
            raise self._fail(f"writing to {AUDIT_TABLE}", exc) from None

    def close(self) -> None:
        if self._conn is not None:
            self.unlock()
        self._drop_connection()

    def __repr__(self) -> str:
        return f"MysqlSchemaTarget({self.url.redacted!r})"


def open_schema_target(url: URL, settings: Settings) -> MysqlSchemaTarget:
    """Open the MySQL/MariaDB database at ``url`` for schema migrations.

    Connects at once, so an unreachable server fails here (within the connect timeout) with
    ConnectionFailedError naming the redacted URL."""
    target = MysqlSchemaTarget(url, settings)
    _ = target.conn
    return target
