"""PostgreSQL schema target: transactional DDL over ADBC, advisory lock, tracking and audit tables.

ADBC prepares every query, so it runs one statement per call (the runner hands over the split
statement list; dollar-quoted bodies arrive whole). COPY is switched off for results so that
statements such as SHOW or EXPLAIN inside a migration work. Each migration's statements and
its tracking-row change commit in one transaction; any failure rolls all of it back.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Mapping
from typing import Any

from colmig.backends.base import AppliedMigration, SchemaTarget
from colmig.backends.schema_common import (
    AUDIT_TABLE,
    CONNECT_TIMEOUT_S,
    LOCK_POLL_S,
    applied_from_rows,
    audit_row,
    lock_key,
    lock_name,
    snippet,
    tracking_row,
)
from colmig.backends.sql_common import quote_ident, sql_string
from colmig.config import Settings
from colmig.errors import (
    ColmigError,
    ConfigError,
    ConnectionFailedError,
    LockTimeoutError,
    MigrationFailedError,
    TargetError,
)
from colmig.schema.pgcopy import parse_block
from colmig.schema.pgcopy_load import CopyRowError, copy_rows
from colmig.schema.pghints import error_line as _error_line
from colmig.schema.pghints import no_transaction_hint
from colmig.urls import URL, add_secret, redact_secrets

#: URL query keys colmig handles itself instead of passing them to libpq.
_OWN_KEYS = {"search_path", "schema", "table"}
_DRIVER_PREFIX = re.compile(r"^[A-Z_]+: (\[libpq\] )?(Failed to (prepare|execute) query: )?")
_FAILED_QUERY = re.compile(r"^Failed to (prepare|execute) query '.*?': ", re.DOTALL)


def libpq_uri(url: URL) -> str:
    """The libpq URI for ``url`` with a connect timeout and colmig's application name."""
    rest = url.raw.split("://", 1)[1].split("?", 1)[0]
    query = {k: v for k, v in url.query.items() if k not in _OWN_KEYS}
    query.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
    query.setdefault("application_name", "colmig")
    return "postgresql://" + rest + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def _diag(exc: BaseException) -> dict[str, str]:
    """The server's error fields (PG_DIAG_*) that ADBC attaches to its exceptions."""
    out: dict[str, str] = {}
    for key, value in getattr(exc, "details", None) or ():
        name = key.decode() if isinstance(key, bytes) else str(key)
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        out[name.removeprefix("PG_DIAG_")] = text
    return out


def pg_error(exc: BaseException) -> str:
    """The server's message (primary, detail, hint) redacted, with the SQLSTATE; never empty.

    Read from the error fields, not the driver's text: that text repeats the whole statement
    (so its "first line" may be part of the SQL) and is empty for some failures."""
    diag = _diag(exc)
    state = getattr(exc, "sqlstate", None) or diag.get("SQLSTATE")
    if diag.get("MESSAGE_PRIMARY"):
        parts = [diag["MESSAGE_PRIMARY"]]
        parts += [
            f"{k.title()}: {diag[f'MESSAGE_{k}']}"
            for k in ("DETAIL", "HINT")
            if diag.get(f"MESSAGE_{k}")
        ]
        line = " ".join(p.strip().replace("\n", " ") for p in parts)
    else:
        text = redact_secrets(str(exc)).strip()
        text = _FAILED_QUERY.sub("", _DRIVER_PREFIX.sub("", text))
        text = re.sub(r"\.?\s*SQLSTATE: \w+\s*$", "", text).strip()
        line = re.sub(r"^(ERROR|FATAL|PANIC):\s+", "", text.splitlines()[0].strip() if text else "")
        if not line:
            status = str(exc).split(":", 1)[0] if ":" in str(exc) else ""
            line = (
                f"the driver reported {type(exc).__name__}{f' ({status})' if status else ''} "
                "without a message from the server (the connection may have been lost)"
            )
    line = redact_secrets(line)
    return f"{line} [SQLSTATE {state}]" if state else line


class PostgresSchemaTarget(SchemaTarget):
    """Schema migrations on one PostgreSQL database."""

    dialect = "postgres"
    transactional_ddl = True

    def __init__(self, url: URL, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        add_secret(url.password)
        search_path = url.query.get("search_path") or url.query.get("schema") or ""
        self.search_path = [p.strip() for p in search_path.split(",") if p.strip()]
        self._lock_key = lock_key(lock_name("pg", settings.migrations_table))
        self._locked = False
        self._conn: Any = None

    # --- connection ---------------------------------------------------------------------------

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> Any:
        import adbc_driver_postgresql.dbapi as pg

        try:
            conn = pg.connect(libpq_uri(self.url), autocommit=False)
        except Exception as exc:
            raise ConnectionFailedError(
                f"cannot connect to {self.url.redacted}: {pg_error(exc)}", url=self.url.redacted
            ) from None
        if self.search_path:
            try:
                with contextlib.closing(conn.cursor()) as cur:
                    path = ", ".join(quote_ident(p) for p in self.search_path)
                    cur.execute(f"SET SESSION search_path TO {path}")
                conn.commit()
            except Exception as exc:
                conn.close()
                raise ConfigError(
                    f"search_path {','.join(self.search_path)} of {self.url.redacted}: "
                    f"{pg_error(exc)}"
                ) from None
        return conn

    def _cursor(self) -> Any:
        cur = self.conn.cursor()
        # Results via COPY cannot carry SHOW, EXPLAIN and friends; plain queries can.
        cur.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})
        return cur

    def _rollback(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.rollback()
        except Exception:
            # A dead connection cannot roll back; the server already dropped the transaction.
            self._drop_connection()

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._locked = False
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _fail(self, what: str, exc: BaseException) -> ColmigError:
        """A typed error for a failed bookkeeping query (not a migration statement)."""
        self._rollback()
        if isinstance(exc, ColmigError):
            return exc
        message = f"{what} on {self.url.redacted} failed: {pg_error(exc)}"
        if self._conn is None or type(exc).__name__ == "OperationalError":
            return ConnectionFailedError(message, url=self.url.redacted)
        return TargetError(message, url=self.url.redacted)

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with contextlib.closing(self._cursor()) as cur:
            cur.execute(sql, params or None)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []

    # --- tables -------------------------------------------------------------------------------

    def _table_exists(self, table: str) -> bool:
        rows = self._query(f"SELECT to_regclass({sql_string(quote_ident(table))}) IS NOT NULL")
        return bool(rows[0][0])

    def ensure_tables(self, migrations_table: str) -> None:
        try:
            # Two first runs at once would race on CREATE TABLE IF NOT EXISTS (pg_type unique
            # violation); a transaction-scoped lock serialises them.
            self._query("SELECT pg_advisory_xact_lock($1)", (self._lock_key ^ 1,))
            if self.search_path:
                self._query(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.search_path[0])}")
            self._query(
                f"CREATE TABLE IF NOT EXISTS {quote_ident(migrations_table)} ("
                "version text PRIMARY KEY, description text NOT NULL DEFAULT '',"
                " checksum text NOT NULL DEFAULT '', applied_at timestamptz NOT NULL DEFAULT"
                " now(), duration_ms bigint NOT NULL DEFAULT 0, applied_by text NOT NULL DEFAULT"
                " '', dirty boolean NOT NULL DEFAULT false)"
            )
            self._create_audit_table()
            self.conn.commit()
        except Exception as exc:
            raise self._fail(f"creating {migrations_table} and {AUDIT_TABLE}", exc) from None

    def _create_audit_table(self) -> None:
        self._query(
            f"CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} (id bigserial PRIMARY KEY, at timestamptz"
            " NOT NULL, operation text NOT NULL, username text, host text, source text,"
            " direction text, from_version text, to_version text, versions text, duration_ms"
            " bigint, outcome text NOT NULL, error text, entry jsonb NOT NULL)"
        )

    def applied(self, migrations_table: str) -> list[AppliedMigration]:
        try:
            if not self._table_exists(migrations_table):
                self.conn.rollback()
                return []
            rows = self._query(
                "SELECT version, description, checksum, applied_at, duration_ms, applied_by,"
                f" dirty FROM {quote_ident(migrations_table)} ORDER BY version"
            )
            self.conn.rollback()
        except Exception as exc:
            raise self._fail(f"reading {migrations_table}", exc) from None
        return applied_from_rows(rows)

    # --- lock ---------------------------------------------------------------------------------

    def lock(self, timeout_s: float) -> None:
        if self._locked:
            return
        deadline = time.monotonic() + max(timeout_s, 0.0)
        try:
            while True:
                got = bool(self._query("SELECT pg_try_advisory_lock($1)", (self._lock_key,))[0][0])
                # Session-level: the lock outlives this transaction, so end it.
                self.conn.commit()
                if got:
                    self._locked = True
                    return
                if time.monotonic() >= deadline:
                    break
                time.sleep(min(LOCK_POLL_S, max(deadline - time.monotonic(), 0.01)))
            holder = self._lock_holder()
        except Exception as exc:
            raise self._fail("taking the migration lock", exc) from None
        raise LockTimeoutError(
            f"another colmig run holds the migration lock on {self.url.redacted}{holder}; "
            f"waited {timeout_s:g}s (raise -lock-timeout or retry when it has finished)",
            url=self.url.redacted,
        )

    def _lock_holder(self) -> str:
        key = self._lock_key & 0xFFFFFFFFFFFFFFFF
        rows = self._query(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), '')"
            " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype ="
            " 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE"
            " datname = current_database()) AND l.classid::bigint = $1 AND l.objid::bigint = $2"
            " AND l.objsubid = 1",
            (key >> 32, key & 0xFFFFFFFF),
        )
        self.conn.rollback()
        if not rows:
            return ""
        pid, app, addr = rows[0]
        return f" (server pid {pid}, application {app or '?'}{f', from {addr}' if addr else ''})"

    def unlock(self) -> None:
        if not self._locked or self._conn is None:
            self._locked = False
            return
        try:
            self._query("SELECT pg_advisory_unlock($1)", (self._lock_key,))
            self.conn.commit()
        except Exception:
            # Closing the session releases it just as well.
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
        if not in_transaction:
            self._apply_outside_transaction(statements, record, remove_version, migrations_table)
            return
        started = time.monotonic()
        search_path = self._search_path()
        self._run_statements(statements, in_transaction=True)
        duration_ms = int((time.monotonic() - started) * 1000)
        try:
            self._restore_search_path(search_path)
            table = quote_ident(migrations_table)
            if remove_version is not None:
                self._query(f"DELETE FROM {table} WHERE version = $1", (remove_version,))
            if record is not None:
                self._insert(table, record, duration_ms)
            self.conn.commit()
        except Exception as exc:
            raise self._fail(f"recording the migration in {migrations_table}", exc) from None

    def _apply_outside_transaction(
        self,
        statements: list[str],
        record: Mapping[str, Any] | None,
        remove_version: str | None,
        migrations_table: str,
    ) -> None:
        """A ``-- colmig:no-transaction`` file: the row is dirty while its statements run one
        by one in autocommit mode, so a failure part-way leaves it dirty for ``force``."""
        table = quote_ident(migrations_table)
        try:
            if remove_version is not None:
                self._query(
                    f"UPDATE {table} SET dirty = true WHERE version = $1", (remove_version,)
                )
            if record is not None:
                self._query(f"DELETE FROM {table} WHERE version = $1", (str(record["version"]),))
                self._insert(table, {**record, "dirty": True}, 0)
            self.conn.commit()
        except Exception as exc:
            raise self._fail(f"marking the migration dirty in {migrations_table}", exc) from None
        started = time.monotonic()
        search_path = self._search_path()
        self.conn.rollback()
        self.conn.adbc_connection.set_autocommit(True)
        try:
            self._run_statements(statements, in_transaction=False)
        finally:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._restore_search_path(search_path)
                with contextlib.suppress(Exception):
                    self._conn.adbc_connection.set_autocommit(False)
        duration_ms = int((time.monotonic() - started) * 1000)
        try:
            if remove_version is not None:
                self._query(f"DELETE FROM {table} WHERE version = $1", (remove_version,))
            if record is not None:
                self._query(
                    f"UPDATE {table} SET dirty = false, duration_ms = $1 WHERE version = $2",
                    (duration_ms, str(record["version"])),
                )
            self.conn.commit()
        except Exception as exc:
            raise self._fail(f"recording the migration in {migrations_table}", exc) from None

    def _search_path(self) -> str:
        return str(self._query("SELECT current_setting('search_path')")[0][0])

    def _restore_search_path(self, search_path: str) -> None:
        """Undo a session-wide search_path change a migration made (pg_dump files run
        ``set_config('search_path', '', false)``), so the tracking table, the audit table
        and the next migration resolve names as before it."""
        self._query("SELECT set_config('search_path', $1, false)", (search_path,))

    def _run_statements(self, statements: list[str], *, in_transaction: bool) -> None:
        cur = self._cursor()
        try:
            self._run_on(cur, statements, in_transaction)
        finally:
            with contextlib.suppress(Exception):  # a lost connection cannot close it cleanly
                cur.close()

    def _run_on(self, cur: Any, statements: list[str], in_transaction: bool) -> None:
        for index, statement in enumerate(statements):
            try:
                block = parse_block(statement)
                if block is not None:
                    copy_rows(self.conn, cur, block, in_transaction=in_transaction)
                else:
                    cur.execute(statement)
            except CopyRowError as exc:
                if in_transaction:
                    self._rollback()
                cause = f"{exc.what}: {self._cause(exc.error, statement)}"
                raise MigrationFailedError(
                    f"statement {index + 1} of {len(statements)} failed: {cause}",
                    statement_index=index,
                    line_offset=exc.line_offset,
                    cause=cause,
                    url=self.url.redacted,
                ) from None
            except Exception as exc:
                if in_transaction:
                    self._rollback()
                lost = self._connection_lost(exc)
                raise (ConnectionFailedError if lost else MigrationFailedError)(
                    self._statement_message(index, len(statements), statement, exc),
                    statement_index=index,
                    line_offset=_error_line(exc, statement),
                    cause=self._cause(exc, statement),
                    url=self.url.redacted,
                ) from None

    def _connection_lost(self, exc: BaseException) -> bool:
        """Whether a failed statement lost the connection (exit code 3, not 5): a connection
        SQLSTATE (class 08, 57P01-57P03), or no SQLSTATE and the connection no longer answers."""
        state = getattr(exc, "sqlstate", None)
        if state:
            return state.startswith("08") or state in ("57P01", "57P02", "57P03")
        if self._conn is None:  # the rollback already found it dead
            return True
        try:
            self._query("SELECT 1")
            return False
        except Exception:
            self._drop_connection()
            return True

    def _cause(self, exc: BaseException, statement: str) -> str:
        """The driver's reason alone (the runner adds file, line and what happened next)."""
        return pg_error(exc) + no_transaction_hint(getattr(exc, "sqlstate", None), statement)

    def _statement_message(self, index: int, total: int, statement: str, exc: Exception) -> str:
        return (
            f"statement {index + 1} of {total} failed: {self._cause(exc, statement)}; rolled back"
            f" (statement: {snippet(statement)})"
        )

    def _insert(self, table: str, record: Mapping[str, Any], duration_ms: int | None) -> None:
        row = tracking_row(record, duration_ms)
        self._query(
            f"INSERT INTO {table} (version, description, checksum, applied_at, duration_ms,"
            " applied_by, dirty) VALUES ($1::text, $2::text, $3::text, $4::text::timestamptz,"
            " $5::bigint, $6::text, $7::boolean)",
            (
                row.version,
                row.description,
                row.checksum,
                row.applied_at.isoformat(),
                row.duration_ms,
                row.applied_by,
                row.dirty,
            ),
        )

    def set_version(
        self, migrations_table: str, record: Mapping[str, Any] | None, remove_versions: list[str]
    ) -> None:
        table = quote_ident(migrations_table)
        try:
            doomed = list(remove_versions) + ([str(record["version"])] if record else [])
            for version in doomed:
                self._query(f"DELETE FROM {table} WHERE version = $1", (version,))
            if record is not None:
                self._insert(table, record, None)
            self.conn.commit()
        except Exception as exc:
            raise self._fail(f"updating {migrations_table}", exc) from None

    # --- audit --------------------------------------------------------------------------------

    def write_audit(self, entry: Mapping[str, Any]) -> None:
        row = audit_row(entry)
        try:
            self._rollback()
            if not self._table_exists(AUDIT_TABLE):
                self._create_audit_table()
            self._query(
                f"INSERT INTO {AUDIT_TABLE} (at, operation, username, host, source, direction,"
                " from_version, to_version, versions, duration_ms, outcome, error, entry) VALUES"
                " ($1::text::timestamptz, $2::text, $3::text, $4::text, $5::text, $6::text,"
                " $7::text, $8::text, $9::text, $10::bigint, $11::text, $12::text,"
                " $13::text::jsonb)",
                (
                    row.at.isoformat(),
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
            self.conn.commit()
        except Exception as exc:
            raise self._fail(f"writing to {AUDIT_TABLE}", exc) from None

    def close(self) -> None:
        if self._conn is not None:
            self.unlock()
        self._drop_connection()

    def __repr__(self) -> str:
        return f"PostgresSchemaTarget({self.url.redacted!r})"


def open_schema_target(url: URL, settings: Settings) -> PostgresSchemaTarget:
    """Open the PostgreSQL database at ``url`` for schema migrations.

    Connects at once, so an unreachable server fails here (within the connect timeout) with
    ConnectionFailedError naming the redacted URL."""
    target = PostgresSchemaTarget(url, settings)
    _ = target.conn
    return target
