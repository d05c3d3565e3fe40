"""PostgreSQL / TimescaleDB writer: ADBC bulk ingest (binary COPY) inside the ledger transaction.

ADBC's ``adbc_ingest`` runs COPY on the connection's open transaction when autocommit is off,
so a partition's rows and its ledger row commit together without a staging copy (measured:
rows ingested then rolled back are gone). Upserts load a temporary table first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from colmig.backends.postgres import typemap
from colmig.backends.postgres.connect import classify, connect
from colmig.backends.sql_common import LEDGER_TABLE, quote_ident, sql_string, stats_kind
from colmig.backends.sql_writer import SqlWriter
from colmig.config import Settings
from colmig.errors import ColmigError, TargetError
from colmig.urls import URL


class PostgresWriter(SqlWriter):
    dialect = "postgres"

    def _connect(self) -> Any:
        return connect(self.url)

    def _error_class(self, exc: BaseException) -> type[ColmigError]:
        return classify(exc)

    def quote(self, name: str) -> str:
        return quote_ident(name)

    def literal(self, value: str) -> str:
        return sql_string(value)

    def _ensure_ledger(self, cur: Any) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (job_id text NOT NULL, partition_id text"
            " NOT NULL, rows_written bigint NOT NULL, committed_at timestamptz NOT NULL,"
            " run_id text NOT NULL, PRIMARY KEY (job_id, partition_id))"
        )

    def _table_exists(self, cur: Any, table: str) -> bool:
        cur.execute(f"SELECT to_regclass({self.literal(self.quote(table))}) IS NOT NULL")
        return bool(cur.fetchall()[0][0])

    def _columns(self, cur: Any, table: str) -> list[typemap.PgColumn]:
        cur.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,"
            " a.atthasdef FROM pg_attribute a WHERE a.attrelid ="
            f" to_regclass({self.literal(self.quote(table))}) AND a.attnum > 0 AND NOT"
            " a.attisdropped ORDER BY a.attnum"
        )
        return [typemap.PgColumn(r[0], r[1], bool(r[2]), bool(r[3])) for r in cur.fetchall()]

    def _existing_load_schema(self, cur: Any, table: str, schema: pa.Schema) -> pa.Schema | None:
        if not self._table_exists(cur, table):
            return None
        return typemap.check_compatible(schema, self._columns(cur, table), table)

    def _create_table(self, cur: Any, table: str, schema: pa.Schema, keys: list[str]) -> pa.Schema:
        sql = typemap.create_table_sql(table, schema, self.quote)
        if keys:
            sql = sql[:-1] + f", PRIMARY KEY ({', '.join(self.quote(k) for k in keys)}))"
        cur.execute(sql)
        return typemap.load_schema(schema)

    def _after_create(self, cur: Any, table: str) -> None:
        column = self.settings.hypertable
        if not column:
            return
        cur.execute(
            f"SELECT create_hypertable({self.literal(self.quote(table))}, {self.literal(column)},"
            " migrate_data => true)"
        )
        cur.fetchall()

    def prepare(self, schema: pa.Schema, job: Any, fresh: bool) -> None:
        if self.settings.hypertable:
            self._check_timescale(schema)
        super().prepare(schema, job, fresh)

    def _check_timescale(self, schema: pa.Schema) -> None:
        column = self.settings.hypertable
        if column not in schema.names:
            raise TargetError(f"-hypertable {column}: no such column in the data")
        with self._guard("checking TimescaleDB"):
            cur = self._cursor()
            cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
            present = bool(cur.fetchall())
            self.conn.rollback()
        if not present:
            raise TargetError(
                f"-hypertable {column}: the target {self.url.redacted} does not have the "
                "timescaledb extension (run CREATE EXTENSION timescaledb; as a superuser, or drop "
                "-hypertable)",
                url=self.url.redacted,
            )

    def _load(
        self, cur: Any, table: str, batches: Iterator[pa.RecordBatch], schema: pa.Schema
    ) -> None:
        schema_name, _, name = table.rpartition(".")
        reader = pa.RecordBatchReader.from_batches(schema, batches)
        kwargs: dict[str, Any] = {"mode": "append"}
        if schema_name:
            kwargs["db_schema_name"] = schema_name
        if name.startswith("colmig_tmp_"):
            kwargs["temporary"] = True
        cur.adbc_ingest(name, reader, **kwargs)

    def _create_temp_like(self, cur: Any, temp: str, table: str) -> None:
        cur.execute(
            f"CREATE TEMP TABLE {self.quote(temp)} (LIKE {self.quote(table)} INCLUDING DEFAULTS)"
            " ON COMMIT DROP"
        )

    def _merge_sql(self, target: str, source: str, columns: list[str], keys: list[str]) -> str:
        names = ", ".join(self.quote(c) for c in columns)
        updates = ", ".join(
            f"{self.quote(c)} = EXCLUDED.{self.quote(c)}" for c in columns if c not in keys
        )
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        return (
            f"INSERT INTO {self.quote(target)} ({names}) SELECT {names} FROM {self.quote(source)}"
            f" ON CONFLICT ({', '.join(self.quote(k) for k in keys)}) {action}"
        )

    def _checksum_expr(self, col: str, field: pa.Field) -> str | None:
        return pg_checksum_expr(col, stats_kind(field.type))


def pg_checksum_expr(col: str, kind: str) -> str:
    """SQL aggregate of the canonical checksum (see colmig.engine.checksums) of one column."""
    if kind == "exact":
        return f"SUM({col})::text"
    if kind == "bool":
        return f"SUM(CASE WHEN {col} THEN 1 ELSE 0 END)::text"
    if kind == "float":
        return f"SUM({col}::float8)"
    if kind == "timestamp":
        return f"SUM(EXTRACT(EPOCH FROM {col}) * 1000000)::numeric(38,0)::text"
    if kind == "date":
        return f"SUM(({col} - DATE '1970-01-01')::numeric * 86400000000)::text"
    if kind == "time":
        return f"SUM(EXTRACT(EPOCH FROM {col}) * 1000000)::numeric(38,0)::text"
    if kind in ("hash", "hash_bytes"):
        value = col if kind == "hash_bytes" else f"{col}::text"
        return f"SUM(('x' || substr(md5({value}), 1, 15))::bit(60)::bigint)::text"
    return "NULL"


def open_writer(url: URL, settings: Settings) -> PostgresWriter:
    """Open a PostgreSQL table as a data target (connection opened lazily)."""
    return PostgresWriter(url, settings)
