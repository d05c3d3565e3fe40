"""PostgreSQL / TimescaleDB writer: ADBC bulk ingest (binary COPY) inside the ledger transaction.

ADBC's ``adbc_ingest`` runs COPY on the connection's open transaction when autocommit is off,
so a partition's rows and its ledger row commit together without a staging copy (measured:
rows ingested then rolled back are gone). Upserts load a temporary table first.
"""

from __future__ import annotations

import contextlib
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

    def _placeholder(self, index: int) -> str | None:
        return f"${index + 1}"

    def _ensure_ledger(self, cur: Any) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (job_id text NOT NULL, partition_id text"
            " NOT NULL, rows_written bigint NOT NULL, committed_at timestamptz NOT NULL,"
            " run_id text NOT NULL, PRIMARY KEY (job_id, partition_id))"
        )
        cur.execute(f"ALTER TABLE {LEDGER_TABLE} ADD COLUMN IF NOT EXISTS target_table text")

    @contextlib.contextmanager
    def _creation_lock(self, cur: Any, table: str) -> Iterator[None]:
        # A session lock, released after the creating transaction committed; the waiter then
        # starts a new transaction, whose catalog snapshot sees the table.
        key = (f"colmig create {table}",)
        cur.execute("SELECT pg_advisory_lock(hashtext($1))", key)
        cur.fetchall()
        self.conn.commit()
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                cur.execute("SELECT pg_advisory_unlock(hashtext($1))", key)
                cur.fetchall()
                self.conn.commit()

    def _table_exists(self, cur: Any, table: str) -> bool:
        cur.execute("SELECT to_regclass($1) IS NOT NULL", (self.quote(table),))
        return bool(cur.fetchall()[0][0])

    def _columns(self, cur: Any, table: str) -> list[typemap.PgColumn]:
        cur.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,"
            " a.atthasdef FROM pg_attribute a WHERE a.attrelid = to_regclass($1)"
            " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (self.quote(table),),
        )
        return [typemap.PgColumn(r[0], r[1], bool(r[2]), bool(r[3])) for r in cur.fetchall()]

    def _existing_load_schema(self, cur: Any, table: str, schema: pa.Schema) -> pa.Schema | None:
        if not self._table_exists(cur, table):
            return None
        return typemap.check_compatible(schema, self._columns(cur, table), table)

    def _create_table(self, cur: Any, table: str, schema: pa.Schema, keys: list[str]) -> pa.Schema:
        sql = typemap.create_table_sql(table, schema, self.quote)
        if keys:
            sql = sql[:-1] + f", PRIMARY KEY ({', '.join(self.col(k) for k in keys)}))"
        cur.execute(sql)
        return typemap.load_schema(schema)

    def _after_create(self, cur: Any, table: str) -> None:
        column = self.settings.hypertable
        if not column:
            return
        cur.execute(
            "SELECT create_hypertable($1::regclass, $2::name, migrate_data => true)",
            (self.quote(table), column),
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
        names = ", ".join(self.col(c) for c in columns)
        updates = ", ".join(
            f"{self.col(c)} = EXCLUDED.{self.col(c)}" for c in columns if c not in keys
        )
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        return (
            f"INSERT INTO {self.quote(target)} ({names}) {self._last_per_key(source, columns)}"
            f" ON CONFLICT ({', '.join(self.col(k) for k in keys)}) {action}"
        )

    def _last_per_key(self, source: str, columns: list[str]) -> str:
        """The rows of ``source``, only the last loaded row of each key (one row per key is
        what ON CONFLICT and MERGE may touch)."""
        names = ", ".join(self.col(c) for c in columns)
        keys = ", ".join(self.col(k) for k in self._keys())
        return (
            f"SELECT DISTINCT ON ({keys}) {names} FROM {self.quote(source)}"
            f" ORDER BY {keys}, ctid DESC"
        )

    def _merge(self, cur: Any, target: str, source: str, columns: list[str]) -> None:
        """ON CONFLICT where a unique key on -key exists; otherwise MERGE (PostgreSQL 15+) or
        a DELETE of the matching rows and an INSERT, in the partition's transaction."""
        keys = self._keys()
        if self._has_unique_key(cur, target, keys):
            cur.execute(self._merge_sql(target, source, columns, keys))
            return
        on = " AND ".join(f"t.{self.col(k)} = s.{self.col(k)}" for k in keys)
        names = ", ".join(self.col(c) for c in columns)
        if self._server_version(cur) >= 150000:
            sets = ", ".join(f"{self.col(c)} = s.{self.col(c)}" for c in columns if c not in keys)
            matched = f" WHEN MATCHED THEN UPDATE SET {sets}" if sets else ""
            values = ", ".join(f"s.{self.col(c)}" for c in columns)
            cur.execute(
                f"MERGE INTO {self.quote(target)} t USING ({self._last_per_key(source, columns)})"
                f" s ON {on}{matched} WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
            )
            return
        cur.execute(f"DELETE FROM {self.quote(target)} t USING {self.quote(source)} s WHERE {on}")
        cur.execute(
            f"INSERT INTO {self.quote(target)} ({names}) {self._last_per_key(source, columns)}"
        )

    def _has_unique_key(self, cur: Any, table: str, keys: list[str]) -> bool:
        cur.execute(
            "SELECT array_agg(a.attname::text) FROM pg_index i JOIN pg_attribute a ON"
            " a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid ="
            " to_regclass($1) AND i.indisunique AND i.indpred IS NULL GROUP BY i.indexrelid",
            (self.quote(table),),
        )
        return any(set(row[0]) == set(keys) for row in cur.fetchall())

    def _server_version(self, cur: Any) -> int:
        cur.execute("SELECT current_setting('server_version_num')::int")
        return int(cur.fetchall()[0][0])

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
