"""MySQL/MariaDB reader: connectorx ``arrow_stream`` (Rust, binary protocol, batch by batch).

connectorx streams record batches of ``batch_rows`` rows without materialising the result;
information_schema then restores what the wire types lose (DECIMAL scale, BOOLEAN, JSON, UUID
and UTC-zoned timestamps written by colmig).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from colmig.backends.mysql.typemap import arrow_type
from colmig.backends.mysql.writer import connect
from colmig.backends.sql_common import TableChoice, quote_ident, sql_string
from colmig.backends.sql_reader import SqlReader
from colmig.config import Settings
from colmig.urls import URL


def connectorx_uri(url: URL) -> str:
    rest = url.raw.split("://", 1)[1].split("?", 1)[0]
    return "mysql://" + rest


class MysqlReader(SqlReader):
    dialect = "mysql"

    def quote(self, name: str) -> str:
        return quote_ident(name, "`")

    def schema(self) -> pa.Schema:
        if self._schema is None:
            # connectorx retries a refused connection for ~30 s; pymysql fails at once.
            self._fetch_all("SELECT 1")
        return super().schema()

    def _open_stream(
        self, sql: str, batch_rows: int
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch], Callable[[], None]]:
        import connectorx as cx

        reader = cx.read_sql(
            connectorx_uri(self.url),
            sql,
            return_type="arrow_stream",
            record_batch_size=batch_rows,
            pre_execution_query="SET time_zone = '+00:00'",
        )
        return reader.schema, iter(reader), reader.close

    def _fetch_all(self, sql: str) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            conn = connect(self.url)
            try:
                with conn.cursor() as cur:
                    cur.execute(sql)
                    return [tuple(r) for r in cur.fetchall()]
            finally:
                conn.close()

        return self._guarded(run)  # type: ignore[no-any-return]

    def _fetch_one(self, sql: str) -> tuple[Any, ...]:
        return self._fetch_all(sql)[0]

    def _list_tables(self) -> list[str]:
        rows = self._fetch_all(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
            " AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'colmig\\_%' ORDER BY 1"
        )
        return [str(r[0]) for r in rows]

    def _primary_key(self, table: str) -> str | None:
        rows = self._fetch_all(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema ="
            f" DATABASE() AND table_name = {sql_string(table, True)} AND column_key = 'PRI'"
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
            f" AND table_name = {sql_string(table, True)}"
        )
        return int(rows[0][0]) if rows and rows[0][0] else None

    def _normalize_schema(self, schema: pa.Schema, choice: TableChoice) -> pa.Schema:
        declared: dict[str, pa.DataType | None] = {}
        if choice.source:
            rows = self._fetch_all(
                "SELECT column_name, data_type, column_type, column_comment FROM"
                " information_schema.columns WHERE table_schema = DATABASE() AND table_name ="
                f" {sql_string(choice.source, True)}"
            )
            declared = {str(r[0]): arrow_type(str(r[1]), str(r[2]), str(r[3] or "")) for r in rows}
        fields = []
        for field in schema:
            t = declared.get(field.name) or field.type
            if pa.types.is_large_binary(t):
                t = pa.binary()
            fields.append(pa.field(field.name, t, True))
        return pa.schema(fields)


def open_reader(url: URL, settings: Settings) -> MysqlReader:
    """Open a MySQL/MariaDB table, list/glob of tables or query as a data source."""
    return MysqlReader(url, settings)
