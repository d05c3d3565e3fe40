"""MySQL/MariaDB writer: ``LOAD DATA LOCAL INFILE`` fed from Arrow, inside the ledger transaction.

Each batch becomes MySQL's default text format (tab separated, backslash escapes, ``\\N`` for
NULL) built column-wise with pyarrow.compute and written as one buffer to a temp file. InnoDB
makes LOAD DATA part of the transaction that also inserts the ledger row. When the server
refuses local infile, rows go in as multi-row INSERTs instead.

Time zones: MySQL has no zoned timestamp that covers years past 2038, so zoned Arrow
timestamps are stored in ``DATETIME(p)`` as UTC with the column comment ``colmig:utc``;
sessions run with ``time_zone = '+00:00'`` and reads give UTC-zoned timestamps back.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from colmig.backends.mysql.errors import error_class
from colmig.backends.mysql.fit import fit_batch
from colmig.backends.mysql.typemap import arrow_type, check_compatible, create_table_sql
from colmig.backends.sql_common import LEDGER_TABLE, stats_kind
from colmig.backends.sql_writer import SqlWriter
from colmig.backends.target_fit import Position, load_field
from colmig.config import Settings
from colmig.errors import ColmigError, ConnectionFailedError, TargetError
from colmig.urls import URL, redact_secrets

#: Server errors meaning "local infile is disabled" (client or server side).
_INFILE_REFUSED = {1148, 2068, 3948, 3950, 4166}


def connect(url: URL, **extra: Any) -> Any:
    import pymysql

    conn = pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=url.database or None,
        charset="utf8mb4",
        autocommit=False,
        local_infile=True,
        connect_timeout=10,
        # connect_timeout covers only TCP: a server that accepts and never greets would hang
        # the handshake forever without a read timeout, dropped once connected (long loads).
        read_timeout=extra.pop("read_timeout", 10),
        init_command=(
            "SET time_zone = '+00:00', sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')"
        ),
        **extra,
    )
    conn._read_timeout = None
    return conn


def _escape(column: pa.Array) -> pa.Array:
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        column = pc.replace_substring(column, raw, escaped)
    return column


def text_column(column: pa.Array) -> pa.Array:
    """One column in LOAD DATA's text form (escaped, NULL as \\N), vectorized."""
    t = column.type
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.uuid":
            values = [
                None if v is None else str(uuid.UUID(bytes=v)) for v in column.storage.to_pylist()
            ]
            column = pa.array(values, pa.string())
        else:
            column = column.storage
        t = column.type
    if pa.types.is_boolean(t):
        column = pc.if_else(column, "1", "0")
    elif pa.types.is_timestamp(t):
        if t.tz:
            # The int64 storage of a zoned timestamp is UTC: drop the zone, keep the instant.
            column = column.cast(pa.int64()).cast(pa.timestamp(t.unit))
        column = column.cast(pa.string())
    elif pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        column = pa.array([None if v is None else v.hex() for v in column.to_pylist()], pa.string())
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        column = _escape(column.cast(pa.string()))
    else:
        column = column.cast(pa.string())
    return column.fill_null("\\N")


class MysqlWriter(SqlWriter):
    dialect = "mysql"

    def __init__(self, url: URL, settings: Settings) -> None:
        super().__init__(url, settings)
        self._infile_ok = url.query.get("local_infile", "1") not in {"0", "false"}
        #: information_schema rows of each table loaded, for fitting values to its columns.
        self._columns: dict[str, dict[str, tuple[Any, ...]]] = {}

    def _connect(self) -> Any:
        try:
            return connect(self.url)
        except Exception as exc:
            # A refused or dropped connect is retried (server restarting); a refused login is
            # not. Same families as PostgreSQL's.
            cls = error_class(exc)
            if cls is TargetError:
                cls = ConnectionFailedError
            text = redact_secrets(str(exc)).strip()
            raise cls(
                f"cannot connect to {self.url.redacted}: {text}", url=self.url.redacted
            ) from None

    def quote(self, name: str) -> str:
        # One identifier, dots included (a CSV header "temp.c" is a column, not a path).
        return "`" + name.replace("`", "``") + "`"

    def literal(self, value: str) -> str:
        # The driver's quoting follows the session (NO_BACKSLASH_ESCAPES included).
        return str(self.conn.escape(value))

    def _error_class(self, exc: BaseException) -> type[ColmigError]:
        return error_class(exc)

    def _ensure_ledger(self, cur: Any) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (job_id VARCHAR(191) NOT NULL,"
            " partition_id VARCHAR(191) NOT NULL, rows_written BIGINT NOT NULL, committed_at"
            " DATETIME(6) NOT NULL, run_id VARCHAR(191) NOT NULL, PRIMARY KEY (job_id,"
            " partition_id)) ENGINE=InnoDB"
        )
        # Which table each partition went to (resume checks it); added to older ledgers.
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE()"
            " AND table_name = %s AND column_name = 'target_table'",
            (LEDGER_TABLE,),
        )
        if not cur.fetchall()[0][0]:
            cur.execute(f"ALTER TABLE {LEDGER_TABLE} ADD COLUMN target_table VARCHAR(255)")

    @contextlib.contextmanager
    def _creation_lock(self, cur: Any, table: str) -> Iterator[None]:
        # A named server lock: parallel partitions of a list/glob job create a table once.
        cur.execute("SELECT GET_LOCK(%s, 600)", (f"colmig create {table}"[:64],))
        cur.fetchall()
        try:
            yield
        finally:
            cur.execute("SELECT RELEASE_LOCK(%s)", (f"colmig create {table}"[:64],))
            cur.fetchall()

    def _table_exists(self, cur: Any, table: str) -> bool:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
            " AND table_name = %s",
            (table,),
        )
        return bool(cur.fetchall()[0][0])

    def _existing_load_schema(self, cur: Any, table: str, schema: pa.Schema) -> pa.Schema | None:
        if not self._table_exists(cur, table):
            return None
        cur.execute(
            "SELECT column_name, data_type, column_type, is_nullable = 'YES', column_default IS"
            " NOT NULL OR extra LIKE %s, column_comment FROM information_schema.columns WHERE"
            " table_schema = DATABASE() AND table_name = %s ORDER BY ordinal_position",
            ("%auto_increment%", table),
        )
        rows = [tuple(r) for r in cur.fetchall()]
        self._columns[table] = {str(r[0]): r for r in rows}
        check_compatible(schema, rows, table)
        by_name = self._columns[table]
        return pa.schema(
            [
                load_field(f, arrow_type(str(r[1]), str(r[2]), str(r[5] or "")), str(r[2]))
                for f in schema
                for r in [by_name[f.name]]
            ]
        )

    def _create_table(self, cur: Any, table: str, schema: pa.Schema, keys: list[str]) -> pa.Schema:
        cur.execute(create_table_sql(table, schema, keys, self.quote))
        return schema

    def _load(
        self, cur: Any, table: str, batches: Iterator[pa.RecordBatch], schema: pa.Schema
    ) -> None:
        where = Position(table)
        columns = self._columns.get(table, {})
        for raw in batches:
            batch = fit_batch(raw, columns, where)
            where.offset += raw.num_rows
            if self._infile_ok:
                try:
                    self._load_infile(cur, table, batch)
                    continue
                except Exception as exc:
                    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
                    if code not in _INFILE_REFUSED:
                        raise
                    self._infile_ok = False
            self._load_inserts(cur, table, batch)

    def _load_infile(self, cur: Any, table: str, batch: pa.RecordBatch) -> None:
        columns = [text_column(c) for c in batch.columns]
        rows = pc.binary_join_element_wise(*columns, "\t") if len(columns) > 1 else columns[0]
        lines = pc.binary_join_element_wise(rows, pa.scalar("", pa.string()), "\n")
        lines = lines.cast(pa.large_string())
        offsets = lines.buffers()[1]
        data = lines.buffers()[2]
        start, end = (
            pa.Array.from_buffers(pa.int64(), len(lines) + 1, [None, offsets], offset=lines.offset)
            .to_numpy()[[0, -1]]
            .tolist()
        )
        targets, sets = [], []
        for index, field in enumerate(batch.schema):
            t = field.type
            if (
                pa.types.is_binary(t)
                or pa.types.is_large_binary(t)
                or pa.types.is_fixed_size_binary(t)
            ):
                targets.append(f"@v{index}")
                sets.append(f"{self.quote(field.name)} = UNHEX(@v{index})")
            else:
                targets.append(self.quote(field.name))
        fd, path = tempfile.mkstemp(prefix="colmig-", suffix=".tsv")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(memoryview(data)[start:end])
            sql = (
                f"LOAD DATA LOCAL INFILE {self.literal(path)} INTO TABLE {self.quote(table)}"
                " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\'"
                f" LINES TERMINATED BY '\\n' ({', '.join(targets)})"
                + (f" SET {', '.join(sets)}" if sets else "")
            )
            loaded = cur.execute(sql)
            # LOCAL implies IGNORE: duplicate keys and bad values become warnings, not errors.
            warnings = cur.connection.show_warnings() if cur.warning_count else ()
            if warnings or loaded != batch.num_rows:
                detail = "; ".join(str(w[2]) for w in warnings[:3]) or "rows were skipped"
                raise TargetError(
                    f"table {table}: {loaded} of {batch.num_rows} rows loaded: {detail}",
                    table=table,
                )
        finally:
            os.unlink(path)

    def _load_inserts(self, cur: Any, table: str, batch: pa.RecordBatch) -> None:
        # With parameters pymysql %-formats the statement: a % in a name must be doubled.
        names = ", ".join(self.quote(n) for n in batch.schema.names).replace("%", "%%")
        marks = ", ".join(["%s"] * batch.num_columns)
        columns = [_python_values(c) for c in batch.columns]
        rows = list(zip(*columns, strict=True))
        into = self.quote(table).replace("%", "%%")
        cur.executemany(f"INSERT INTO {into} ({names}) VALUES ({marks})", rows)

    def _create_temp_like(self, cur: Any, temp: str, table: str) -> None:
        cur.execute(f"CREATE TEMPORARY TABLE {self.quote(temp)} LIKE {self.quote(table)}")
        self._columns[temp] = self._columns.get(table, {})

    def _merge(self, cur: Any, target: str, source: str, columns: list[str]) -> None:
        """ON DUPLICATE KEY UPDATE where the table's unique keys are exactly -key; otherwise a
        delete of the matching rows and an insert, in the partition's transaction."""
        keys = self._keys()
        if self._unique_on(cur, target, keys):
            cur.execute(self._merge_sql(target, source, columns, keys))
            return
        q = self.quote
        match = " AND ".join(f"t.{q(k)} <=> s.{q(k)}" for k in keys)
        key_list = ", ".join(q(k) for k in keys)
        cur.execute(
            f"DELETE t FROM {q(target)} AS t INNER JOIN (SELECT DISTINCT {key_list} FROM"
            f" {q(source)}) AS s ON {match}"
        )
        names = ", ".join(q(c) for c in columns)
        cur.execute(f"INSERT INTO {q(target)} ({names}) SELECT {names} FROM {q(source)}")

    def _unique_on(self, cur: Any, table: str, keys: list[str]) -> bool:
        """True when ``table`` has a unique index and every one is on exactly ``keys``."""
        cur.execute(
            "SELECT index_name, column_name FROM information_schema.statistics WHERE"
            " table_schema = DATABASE() AND table_name = %s AND non_unique = 0",
            (table,),
        )
        indexes: dict[str, set[str]] = {}
        for index, column in cur.fetchall():
            indexes.setdefault(str(index), set()).add(str(column))
        return bool(indexes) and all(cols == set(keys) for cols in indexes.values())

    def _drop_temp(self, cur: Any, temp: str) -> None:
        cur.execute(f"DROP TEMPORARY TABLE IF EXISTS {self.quote(temp)}")

    def _merge_sql(self, target: str, source: str, columns: list[str], keys: list[str]) -> str:
        names = ", ".join(self.quote(c) for c in columns)
        updates = ", ".join(
            f"{self.quote(c)} = VALUES({self.quote(c)})" for c in columns if c not in keys
        ) or ", ".join(f"{self.quote(k)} = {self.quote(k)}" for k in keys)
        return (
            f"INSERT INTO {self.quote(target)} ({names}) SELECT {names} FROM {self.quote(source)}"
            f" ON DUPLICATE KEY UPDATE {updates}"
        )

    def _swap(self, cur: Any, staging: str, target: str) -> None:
        # RENAME TABLE swaps atomically; DDL commits on MySQL, so the swap is its own step.
        if self._table_exists(cur, target):
            old = f"{staging}_old"
            cur.execute(f"DROP TABLE IF EXISTS {self.quote(old)}")
            cur.execute(
                f"RENAME TABLE {self.quote(target)} TO {self.quote(old)}, {self.quote(staging)}"
                f" TO {self.quote(target)}"
            )
            cur.execute(f"DROP TABLE {self.quote(old)}")
        else:
            cur.execute(f"RENAME TABLE {self.quote(staging)} TO {self.quote(target)}")

    def _checksum_expr(self, col: str, field: pa.Field) -> str | None:
        return mysql_checksum_expr(col, stats_kind(field.type))


def mysql_checksum_expr(col: str, kind: str) -> str:
    """SQL aggregate of the canonical checksum (see colmig.engine.checksums) of one column."""
    if kind in ("exact", "bool"):
        return f"CAST(SUM({col}) AS CHAR)"
    if kind == "float":
        return f"SUM({col})"
    if kind in ("timestamp", "date"):
        return f"CAST(SUM(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {col})) AS CHAR)"
    if kind == "time":
        # TIME_TO_SEC keeps the fraction on MariaDB and drops it on MySQL: whole parts only.
        seconds = f"HOUR({col}) * 3600 + MINUTE({col}) * 60 + SECOND({col})"
        return f"CAST(SUM(({seconds}) * 1000000 + MICROSECOND({col})) AS CHAR)"
    if kind in ("hash", "hash_bytes"):
        return f"CAST(SUM(CAST(CONV(SUBSTR(MD5({col}), 1, 15), 16, 10) AS UNSIGNED)) AS CHAR)"
    return "NULL"


def _python_values(column: pa.Array) -> list[Any]:
    t = column.type
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.uuid":
            return [
                None if v is None else str(uuid.UUID(bytes=v)) for v in column.storage.to_pylist()
            ]
        return column.storage.to_pylist()
    if pa.types.is_timestamp(t) and t.tz:
        return column.cast(pa.int64()).cast(pa.timestamp(t.unit)).to_pylist()
    return column.to_pylist()


def open_writer(url: URL, settings: Settings) -> MysqlWriter:
    """Open a MySQL/MariaDB table as a data target."""
    return MysqlWriter(url, settings)
