"""MySQL/MariaDB reader: connectorx ``arrow_stream`` (Rust, binary protocol, batch by batch).

connectorx streams record batches of ``batch_rows`` rows without materialising the result;
information_schema then restores what the wire types lose (DECIMAL scale, BOOLEAN, JSON, UUID
and UTC-zoned timestamps written by colmig).

connectorx reads every DECIMAL as decimal128(38,10) and panics on other scales or more than
28 digits, and panics on a TIME outside a day. So DECIMAL and TIME columns are selected as
``CAST(col AS CHAR)`` and turned back into Arrow decimals and times here, exactly.
Catalog queries go through pymysql with parameters; names are quoted with backticks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from colmig.backends.mysql.errors import error_class
from colmig.backends.mysql.typemap import arrow_type
from colmig.backends.mysql.writer import connect
from colmig.backends.sql_common import TableChoice
from colmig.backends.sql_reader import SqlReader
from colmig.config import Settings
from colmig.errors import ColmigError, SourceDataError
from colmig.urls import URL, redact_secrets

#: pymysql field type codes read as text by connectorx (see module doc).
_DECIMAL_CODES = {0, 246}
_TIME_CODE = 11


def connectorx_uri(url: URL) -> str:
    rest = url.raw.split("://", 1)[1].split("?", 1)[0]
    return "mysql://" + rest


class MysqlReader(SqlReader):
    dialect = "mysql"

    def __init__(self, url: URL, settings: Settings) -> None:
        super().__init__(url, settings)
        self._described: dict[str, list[tuple[str, int, int, int]]] = {}
        self._times: dict[str, list[str]] = {}

    def quote(self, name: str) -> str:
        # One identifier, dots included (a CSV header "temp.c" is a column, not a path).
        return "`" + name.replace("`", "``") + "`"

    def schema(self) -> pa.Schema:
        if self._schema is None:
            # connectorx retries a refused connection for ~30 s; pymysql fails at once.
            self._fetch_all("SELECT 1")
        return super().schema()

    # --- DECIMAL and TIME as text -------------------------------------------------------------

    def _describe(self, choice: TableChoice) -> list[tuple[str, int, int, int]]:
        """(name, type code, display length, scale) of every column of ``choice``."""
        key = choice.source or choice.query or ""
        if key not in self._described:

            def run() -> list[tuple[str, int, int, int]]:
                conn = connect(self.url)
                try:
                    with conn.cursor() as cur:
                        cur.execute(f"SELECT * FROM {self._from(choice)} WHERE 1 = 0")
                        return [
                            (str(d[0]), int(d[1]), int(d[3] or 0), int(d[5] or 0))
                            for d in cur.description
                        ]
                finally:
                    conn.close()

            self._described[key] = self._guarded(run)
        return self._described[key]

    def _select(self, choice: TableChoice, where: str | None) -> str:
        columns = self._describe(choice)
        special = [c for c in columns if c[1] in _DECIMAL_CODES or c[1] == _TIME_CODE]
        if not special:
            return super()._select(choice, where)
        parts = []
        for name, code, _length, _scale in columns:
            col = self.quote(name)
            as_text = code in _DECIMAL_CODES or code == _TIME_CODE
            parts.append(f"CAST({col} AS CHAR) AS {col}" if as_text else col)
        sql = f"SELECT {', '.join(parts)} FROM {self._from(choice)}"
        sql = f"{sql} WHERE {where}" if where else sql
        self._times[sql] = [name for name, code, _, _ in columns if code == _TIME_CODE]
        return sql

    def _open_stream(
        self, sql: str, batch_rows: int
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch], Callable[[], None]]:
        import connectorx as cx

        try:
            reader = cx.read_sql(
                connectorx_uri(self.url),
                sql,
                return_type="arrow_stream",
                record_batch_size=batch_rows,
                pre_execution_query="SET time_zone = '+00:00'",
            )
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:  # connectorx panics raise a BaseException subclass
            raise self._connectorx_error(exc) from None
        times = self._times.get(sql, [])

        def batches() -> Iterator[pa.RecordBatch]:
            stream = iter(reader)
            while True:
                try:
                    batch = next(stream)
                except StopIteration:
                    return
                except (KeyboardInterrupt, SystemExit, GeneratorExit):
                    raise
                except BaseException as exc:
                    raise self._connectorx_error(exc) from None
                yield _decode_times(batch, times, self.url.redacted) if times else batch

        return reader.schema, batches(), reader.close

    # --- catalog ------------------------------------------------------------------------------

    def _fetch_all(self, sql: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            conn = connect(self.url)
            try:
                with conn.cursor() as cur:
                    cur.execute(sql, params)
                    return [tuple(r) for r in cur.fetchall()]
            finally:
                conn.close()

        return self._guarded(run)  # type: ignore[no-any-return]

    def _fetch_one(self, sql: str) -> tuple[Any, ...]:
        return self._fetch_all(sql)[0]

    def _list_tables(self) -> list[str]:
        rows = self._fetch_all(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
            " AND table_type = 'BASE TABLE' AND table_name NOT LIKE %s ORDER BY 1",
            ("colmig\\_%",),
        )
        return [str(r[0]) for r in rows]

    def _primary_key(self, table: str) -> str | None:
        rows = self._fetch_all(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema ="
            " DATABASE() AND table_name = %s AND column_key = 'PRI'",
            (table,),
        )
        numeric = {
            "tinyint",
            "smallint",
            "mediumint",
            "int",
            "bigint",
            "datetime",
            "timestamp",
            "date",
        }
        if len(rows) == 1 and str(rows[0][1]).lower() in numeric:
            return str(rows[0][0])
        return None

    def _estimate_rows(self, table: str) -> int | None:
        rows = self._fetch_all(
            "SELECT table_rows FROM information_schema.tables WHERE table_schema = DATABASE()"
            " AND table_name = %s",
            (table,),
        )
        return int(rows[0][0]) if rows and rows[0][0] else None

    def _normalize_schema(self, schema: pa.Schema, choice: TableChoice) -> pa.Schema:
        declared: dict[str, pa.DataType | None] = {}
        if choice.source:
            rows = self._fetch_all(
                "SELECT column_name, data_type, column_type, column_comment FROM"
                " information_schema.columns WHERE table_schema = DATABASE() AND table_name = %s",
                (choice.source,),
            )
            declared = {str(r[0]): arrow_type(str(r[1]), str(r[2]), str(r[3] or "")) for r in rows}
        else:
            declared = {
                name: _described_type(code, length, scale)
                for name, code, length, scale in self._describe(choice)
            }
        fields = []
        for field in schema:
            t = declared.get(field.name) or field.type
            if pa.types.is_large_binary(t):
                t = pa.binary()
            fields.append(pa.field(field.name, t, True))
        return pa.schema(fields)

    # --- errors -------------------------------------------------------------------------------

    def _error_class(self, exc: BaseException) -> type[ColmigError]:
        return error_class(exc)

    def _connectorx_error(self, exc: BaseException) -> ColmigError:
        """connectorx errors carry no class or errno: ask pymysql whether the server answers.

        If it does not, its exception says why (login refused, connection lost); if it does,
        the query or its data failed."""
        try:
            self._fetch_all("SELECT 1")
        except ColmigError as probe:
            return probe
        text = redact_secrets(str(exc)).strip()
        message = text.splitlines()[0] if text else type(exc).__name__
        return SourceDataError(
            f"{self.dialect} source {self.url.redacted}: {message} (a value Arrow cannot hold,"
            " such as a zero date 0000-00-00: select it with NULLIF(col, '0000-00-00') or"
            " CAST(col AS CHAR) in -query)",
            url=self.url.redacted,
        )


def _described_type(code: int, length: int, scale: int) -> pa.DataType | None:
    """The Arrow type of a query column whose wire type connectorx does not read faithfully."""
    if code in _DECIMAL_CODES:
        # Display length counts the sign and the decimal point.
        precision = max(1, length - 1 - (1 if scale else 0))
        return (
            pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
        )
    if code == _TIME_CODE:
        return pa.time64("us")
    return None


def _decode_times(batch: pa.RecordBatch, names: list[str], where: str) -> pa.RecordBatch:
    """TIME columns read as text back to time64[us]; a TIME outside a day is refused."""
    arrays = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if field.name in names:
            column = pa.array(
                [_time(v, field.name, where) for v in column.to_pylist()], pa.time64("us")
            )
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _time(text: str | None, column: str, where: str) -> dt.time | None:
    if text is None:
        return None
    hours, minutes, seconds = text.split(":")
    whole, _, fraction = seconds.partition(".")
    if text.startswith("-") or not 0 <= int(hours) < 24:
        raise SourceDataError(
            f"mysql source {where}: column {column}: TIME {text} is not a time of day (Arrow"
            " times hold 00:00:00 to 23:59:59.999999); select it with CAST(... AS CHAR) in"
            " -query to keep it as text",
            column=column,
        )
    micros = int((fraction + "000000")[:6])
    return dt.time(int(hours), int(minutes), int(whole), micros)


def open_reader(url: URL, settings: Settings) -> MysqlReader:
    """Open a MySQL/MariaDB table, list/glob of tables or query as a data source."""
    return MysqlReader(url, settings)
