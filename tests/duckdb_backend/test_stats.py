"""partition_stats: DuckDB-side SQL aggregates equal the canonical checksums of the same rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from decimal import Decimal, localcontext
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from colmig.backends.sql_common import canonical_decimal, canonical_float, stats_kind
from colmig.config import Settings
from colmig.registry import open_reader, open_writer
from tests.databases.helpers import run_job
from tests.duckdb_backend.helpers import job, wide_table, write_table


def stats_table(copies: int = 5) -> pa.Table:
    """wide_table() repeated with distinct ids, so range partitions hold several rows each."""
    base = wide_table()
    parts = []
    for k in range(copies):
        ids = pc.add(base.column("id"), 3 * k)
        parts.append(base.set_column(0, "id", ids))
    return pa.concat_tables(parts)


def python_reference(table: pa.Table) -> dict[str, tuple[int, int, str]]:
    """Canonical stats computed value by value in Python, the definition spelled out."""
    out: dict[str, tuple[int, int, str]] = {}
    for field in table.schema:
        kind = stats_kind(field.type)
        column = table.column(field.name).combine_chunks()
        total: Any
        if kind == "none":
            continue
        if kind == "timestamp":
            unit = field.type.unit
            per_us = {"s": Decimal(10**6), "ms": Decimal(1000), "us": 1, "ns": Decimal("0.001")}
            raw = column.cast(pa.int64()).to_pylist()
            # Sub-microsecond digits are dropped toward zero (Arrow's ns -> us cast).
            total = sum(int(Decimal(v) * per_us[unit]) for v in raw if v is not None)
        elif kind == "date":
            total = sum(v.toordinal() - 719163 for v in column.to_pylist() if v is not None)
            total *= 86_400_000_000
        elif kind == "time":
            total = sum(
                (v.hour * 3600 + v.minute * 60 + v.second) * 10**6 + v.microsecond
                for v in column.to_pylist()
                if v is not None
            )
        elif kind in ("hash", "hash_bytes"):
            total = sum(
                int(
                    hashlib.md5(v if isinstance(v, bytes) else str(v).encode()).hexdigest()[:15], 16
                )
                for v in column.to_pylist()
                if v is not None
            )
        else:
            values = [v for v in column.to_pylist() if v is not None]
            with localcontext() as context:
                context.prec = 400  # the default context rounds Decimal sums at 28 digits
                total = sum(int(v) if isinstance(v, bool) else v for v in values)
        text = canonical_float(total) if kind == "float" else canonical_decimal(total)
        out[field.name] = (len(column), column.null_count, text)
    return out


#: The canonical definitions in DuckDB SQL, written independently of the writer's expressions.
_REFERENCE_SQL = {
    "exact": "SUM({c})::VARCHAR",
    "bool": "count_if({c})::VARCHAR",
    "float": "SUM({c})::DOUBLE",
    "timestamp": "SUM(date_diff('microsecond', TIMESTAMP '1970-01-01', {c}::TIMESTAMP))::VARCHAR",
    "date": "SUM(({c} - DATE '1970-01-01')::HUGEINT * 86400000000)::VARCHAR",
    "time": "SUM(date_diff('microsecond', TIME '00:00:00', {c}::TIME))::VARCHAR",
    "hash": "SUM(('0x' || left(md5({c}::VARCHAR), 15))::UBIGINT)::VARCHAR",
    "hash_bytes": "SUM(('0x' || left(md5({c}::BLOB), 15))::UBIGINT)::VARCHAR",
}


def duckdb_reference(table: pa.Table) -> dict[str, tuple[int, int, str]]:
    """The same stats from a fresh in-memory DuckDB over the Arrow rows."""
    out: dict[str, tuple[int, int, str]] = {}
    with duckdb.connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.register("rows", table)
        for field in table.schema:
            kind = stats_kind(field.type)
            if kind == "none" or (kind == "timestamp" and field.type.unit == "ns"):
                continue  # ns: ::TIMESTAMP rounds where the canonical sum truncates
            col = f'"{field.name}"'
            sql = f"SELECT COUNT(*), COUNT(*) - COUNT({col}), {_REFERENCE_SQL[kind]} FROM rows"
            count, nulls, total = conn.execute(sql.format(c=col)).fetchone()
            text = canonical_float(total) if kind == "float" else canonical_decimal(total)
            out[field.name] = (count, nulls, text)
    return out


def engine_reference(table: pa.Table) -> dict[str, tuple[int, int, str]]:
    """What the engine computes on the source side (colmig.engine.checksums)."""
    from colmig.engine.checksums import table_stats

    stats = table_stats(table.to_batches(), table.schema)
    # arrow.uuid: the engine hashes the 16 raw bytes where the databases (PostgreSQL uuid::text,
    # this writer) hash the canonical text; reported, compared against the Python reference.
    uuids = {f.name for f in table.schema if f.type == pa.uuid()}
    return {n: (s.count, s.nulls, s.checksum) for n, s in stats.items() if n not in uuids}


def same(got: dict[str, tuple[int, int, str]], want: dict[str, tuple[int, int, str]]) -> None:
    for name, (count, nulls, text) in want.items():
        g_count, g_nulls, g_text = got[name]
        assert (g_count, g_nulls) == (count, nulls), name
        if name.startswith("f"):  # float sums are approximate
            assert math.isclose(float(g_text), float(text), rel_tol=1e-12), name
        else:
            assert g_text == text, name


def test_partition_stats_equal_reference_stats(tmp_path: Any) -> None:
    table = stats_table()
    source, target = f"duckdb://{tmp_path}/src.duckdb", f"duckdb://{tmp_path}/dst.duckdb"
    write_table(source, table, Settings(table="readings"), job("seed"), parts=1)
    reader = open_reader(source, Settings(table="readings", partition_on="id", partitions=3))
    writer = open_writer(target, Settings(table="readings"))
    run_job(reader, writer, job())
    schema = reader.schema()
    partitions = reader.plan(3)
    assert len(partitions) == 3
    seen = 0
    for partition in partitions:
        rows = pa.Table.from_batches(list(reader.read(partition, 1000)), schema=schema)
        seen += rows.num_rows
        stats = writer.partition_stats(partition, schema, job())
        assert stats is not None
        got = {name: (s.count, s.nulls, s.checksum) for name, s in stats.items()}
        assert {n for n, s in stats.items() if s.approximate} == {"f64", "f32"}
        assert set(got) == {f.name for f in schema if stats_kind(f.type) != "none"}
        same(got, python_reference(rows))
        same(got, duckdb_reference(rows))
        same(got, engine_reference(rows))
    assert seen == table.num_rows


def test_stats_see_what_the_target_holds(tmp_path: Any) -> None:
    """A row changed in the target after the load changes that partition's checksum."""
    table = stats_table(2)
    source, target = f"duckdb://{tmp_path}/src.duckdb", f"duckdb://{tmp_path}/dst.duckdb"
    write_table(source, table, Settings(table="r"), job("seed"), parts=1)
    reader = open_reader(source, Settings(table="r", partition_on="id", partitions=2))
    writer = open_writer(target, Settings(table="r"))
    run_job(reader, writer, job())
    first = reader.plan(2)[0]
    before = writer.partition_stats(first, reader.schema(), job())
    with duckdb.connect(f"{tmp_path}/dst.duckdb") as conn:
        conn.execute("UPDATE r SET txt = 'tampered', ts = ts + INTERVAL 1 SECOND WHERE id = 1")
    after = writer.partition_stats(first, reader.schema(), job())
    assert before is not None and after is not None
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {"txt", "ts"}
    assert dt.timedelta(seconds=1) == dt.timedelta(
        microseconds=int(after["ts"].checksum) - int(before["ts"].checksum)
    )
