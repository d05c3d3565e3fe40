"""The canonical column checksums of -validate: independent of batch boundaries, row order and
timestamp units, additive across partitions, and equal to PostgreSQL's SQL aggregates for the
same values."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from colmig.backends.base import ColumnStats
from colmig.backends.postgres.writer import pg_checksum_expr
from colmig.backends.sql_common import stats_kind
from colmig.backends.sql_writer import stats_from_row
from colmig.engine.checksums import (
    FOLD_ROWS,
    StatsAccumulator,
    add_stats,
    compare,
    stats_from_json,
    stats_to_json,
    table_stats,
)

UTC = dt.UTC


def _typed_table() -> pa.Table:
    """A few rows of every checksum family, with edge values and a NULL in every column."""
    return pa.table(
        {
            "i16": pa.array([1, -32768, 32767, None, 0], pa.int16()),
            "i64": pa.array([2**63 - 1, 2**63 - 1, -(2**63), None, 42], pa.int64()),
            "dec": pa.array(
                [
                    Decimal("12345678901234.5678"),
                    Decimal("-0.0001"),
                    None,
                    Decimal("0"),
                    Decimal("99999999999999.9999"),
                ],
                pa.decimal128(18, 4),
            ),
            "f64": pa.array([1.5, -2.25, 1e300, None, 3.141592653589793], pa.float64()),
            "flag": pa.array([True, False, None, True, True]),
            "ts_tz": pa.array(
                [
                    dt.datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
                    dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                    None,
                    dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
                    dt.datetime(1900, 1, 1, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "ts": pa.array(
                [
                    dt.datetime(2024, 3, 1, 12, 0, 0, 1),
                    None,
                    dt.datetime(1960, 6, 6, 6, 6, 6),
                    dt.datetime(2099, 12, 31, 23, 59, 59, 999999),
                    dt.datetime(1970, 1, 1),
                ],
                pa.timestamp("us"),
            ),
            "day": pa.array(
                [
                    dt.date(2024, 2, 29),
                    dt.date(1969, 12, 31),
                    None,
                    dt.date(1, 1, 1),
                    dt.date(9999, 12, 31),
                ],
                pa.date32(),
            ),
            "clock": pa.array(
                [
                    dt.time(0, 0),
                    dt.time(23, 59, 59, 999999),
                    None,
                    dt.time(12, 30, 1, 5),
                    dt.time(6),
                ],
                pa.time64("us"),
            ),
            "txt": pa.array(["plain", "", "Grüße, 日本, 🌡️ 23°C", None, "tab\tand\nnewline"]),
        }
    )


PG_TYPES = {
    "i16": "smallint",
    "i64": "bigint",
    "dec": "numeric(18,4)",
    "f64": "double precision",
    "flag": "boolean",
    "ts_tz": "timestamptz",
    "ts": "timestamp",
    "day": "date",
    "clock": "time",
    "txt": "text",
}


def _big_table(rows: int = 3 * FOLD_ROWS // 2) -> pa.Table:
    """More rows than one DuckDB fold, with NULLs sprinkled in (vectorized)."""
    rng = np.random.default_rng(7)
    nulls = rng.random(rows) < 0.05
    ints = rng.integers(-(2**62), 2**62, rows)
    micros = rng.integers(-(10**15), 10**16, rows)
    words = np.array(["a", "ß", "日本", "🌡️", "", "long text " * 5])
    return pa.table(
        {
            "i64": pa.array(ints, mask=nulls),
            "dec": pc.if_else(
                pa.array(nulls),
                pa.scalar(None, pa.decimal128(20, 3)),
                pc.binary_join_element_wise(
                    pa.array((ints % 10**12 - 5 * 10**11).astype(str)),
                    pa.array((ints % 1000).astype(str)),
                    ".",
                ).cast(pa.decimal128(20, 3)),
            ),
            "f64": pa.array(rng.normal(0, 1e6, rows), mask=nulls),
            "flag": pa.array(ints % 3 == 0, mask=nulls),
            "ts_tz": pa.array(micros, mask=nulls).cast(pa.timestamp("us", tz="UTC")),
            "day": pa.array((micros // 86_400_000_000).astype(np.int32), mask=nulls).cast(
                pa.date32()
            ),
            "txt": pa.array(words[ints % len(words)], mask=nulls),
        }
    )


def _exact(stats: dict[str, ColumnStats]) -> dict[str, ColumnStats]:
    return {k: v for k, v in stats.items() if not v.approximate}


def _assert_equivalent(a: dict[str, ColumnStats], b: dict[str, ColumnStats], rows: int) -> None:
    assert compare("t", rows, a, rows, b) == []
    assert _exact(a) == _exact(b)  # exact families agree digit for digit


def test_independent_of_batch_splits_and_row_order() -> None:
    table = _big_table()
    whole = table_stats([table], table.schema)
    assert set(whole) == set(table.column_names)
    assert whole["i64"].nulls == table.column("i64").null_count > 0

    cuts = [0, 1, 8, 1_000, FOLD_ROWS - 5, FOLD_ROWS + 3, table.num_rows]
    pieces = [table.slice(a, b - a) for a, b in itertools.pairwise(cuts)]
    acc = StatsAccumulator(table.schema)
    for piece in pieces:
        for batch in piece.to_batches(max_chunksize=50_000):
            acc.add(batch)
    _assert_equivalent(whole, acc.result(), table.num_rows)

    order = np.random.default_rng(1).permutation(table.num_rows)
    shuffled = table.take(pa.array(order))
    _assert_equivalent(whole, table_stats(shuffled.to_batches(7_777), table.schema), len(order))


def test_additive_across_partitions_and_json_round_trip() -> None:
    table = _big_table(50_000)
    left, right = table.slice(0, 12_345), table.slice(12_345)
    combined = add_stats(table_stats([left], table.schema), table_stats([right], table.schema))
    whole = table_stats([table], table.schema)
    _assert_equivalent(whole, combined, table.num_rows)
    assert stats_from_json(stats_to_json(whole)) == whole


def test_timestamp_units_and_string_types_do_not_matter() -> None:
    table = _typed_table()
    base = table_stats([table], table.schema)
    variants = table
    for name, kind in (("ts_tz", "ns"), ("ts", "ms")):
        column = table.column(name)
        if kind == "ms":  # only whole milliseconds survive: compare on truncated values
            column = pc.cast(column, pa.timestamp("ms"), safe=False)
            base_ms = table_stats(
                [pa.table({name: column.cast(pa.timestamp("us"))})],
                pa.schema([(name, pa.timestamp("us"))]),
            )
            got = table_stats([pa.table({name: column})], pa.schema([(name, column.type)]))
            assert got == base_ms
            continue
        variants = variants.set_column(
            variants.schema.get_field_index(name), name, column.cast(pa.timestamp(kind, "UTC"))
        )
    variants = variants.set_column(
        variants.schema.get_field_index("txt"), "txt", table.column("txt").cast(pa.large_string())
    )
    assert table_stats([variants], variants.schema) == base


def test_a_changed_value_changes_the_checksum() -> None:
    table = _typed_table()
    base = table_stats([table], table.schema)
    changed = table.set_column(
        table.schema.get_field_index("txt"),
        "txt",
        pa.array(["plain", "", "Grüße, 日本, 🌡️ 23°C", None, "tab\tand\nnewlinE"]),
    )
    mismatches = compare("p", 5, base, 5, table_stats([changed], changed.schema))
    assert [(m.column, m.what) for m in mismatches] == [("txt", "checksum")]


def _pg_stats(
    pg_url: str, table: pa.Table, types: dict[str, str] = PG_TYPES
) -> dict[str, ColumnStats]:
    import adbc_driver_postgresql.dbapi as pgdbapi

    columns = ", ".join(f'"{name}" {types[name]}' for name in table.column_names)
    parts = ["COUNT(*)"]
    for field in table.schema:
        col = f'"{field.name}"'
        parts += [f"COUNT(*) - COUNT({col})", pg_checksum_expr(col, stats_kind(field.type))]
    with pgdbapi.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE sample ({columns})")
        cur.adbc_ingest("sample", table, mode="append")
        conn.commit()
        cur.execute("SELECT count(*) FROM sample")
        assert cur.fetchone() == (table.num_rows,)
        cur.execute(f"SELECT {', '.join(parts)} FROM sample")
        row = cur.fetchone()
    assert row is not None
    return stats_from_row(table.schema, row)


@pytest.mark.parametrize("which", ["typed", "big"])
def test_equal_to_postgresql_aggregates(pg_url: str, which: str) -> None:
    table = _typed_table() if which == "typed" else _big_table(20_000)
    arrow = table_stats(table.to_batches(max_chunksize=3), table.schema)
    pg = _pg_stats(pg_url, table)
    assert compare(which, table.num_rows, arrow, table.num_rows, pg) == []
    assert _exact(arrow) == _exact(pg)


def test_float32_equal_to_postgresql_real(pg_url: str) -> None:
    values = np.random.default_rng(1).normal(1000, 300, 20_000).astype(np.float32)
    table = pa.table({"f32": pa.array(values)})
    arrow = table_stats([table], table.schema)
    pg = _pg_stats(pg_url, table, {"f32": "real"})
    assert compare("f32", table.num_rows, arrow, table.num_rows, pg) == []


def test_decimal_sums_are_exact_past_38_digits() -> None:
    nines = "9" * 38
    table = pa.table(
        {
            "d38": pa.array([nines, nines, None, "-" + nines, nines]).cast(pa.decimal128(38, 0)),
            "frac": pa.array(["0." + "9" * 38] * 3 + [None, "-0." + "0" * 37 + "1"]).cast(
                pa.decimal128(38, 38)
            ),
            "d76": pa.array([str(10**75)] * 4 + ["-1"]).cast(pa.decimal256(76, 0)),
        }
    )
    pieces = StatsAccumulator(table.schema)
    for batch in table.to_batches(max_chunksize=2):
        pieces.add(batch)
    stats = pieces.result()
    assert stats["d38"] == ColumnStats(5, 1, str(2 * int(nines)))
    assert stats["frac"].checksum == "2." + "9" * 37 + "6"  # 3 * (1 - 1e-38) - 1e-38
    assert stats["d76"].checksum == str(4 * 10**75 - 1)
    left, right = table.slice(0, 2), table.slice(2)
    added = add_stats(table_stats([left], table.schema), table_stats([right], table.schema))
    assert added == stats


def test_float16_sums_as_float32() -> None:
    values = np.array([1.5, -2.0, 0.0009765625, 65504.0], np.float16)
    half = pa.table({"f": pa.array(values)})
    single = pa.table({"f": pa.array(values.astype(np.float32))})
    assert table_stats([half], half.schema) == table_stats([single], single.schema)


def test_a_column_without_a_checksum_is_named_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from colmig.engine import checksums

    table = _typed_table()
    real = checksums._aggregate_sql
    monkeypatch.setattr(
        checksums,
        "_aggregate_sql",
        lambda name, kind: "no_such_function(1)" if kind == "bool" else real(name, kind),
    )
    stats = table_stats([table], table.schema)
    assert checksums.is_unavailable(stats["flag"])
    assert list(checksums.unchecked(stats)) == ["flag"]
    others = {k: v for k, v in stats.items() if k != "flag"}
    monkeypatch.setattr(checksums, "_aggregate_sql", real)
    good = table_stats([table], table.schema)
    assert others == {k: v for k, v in good.items() if k != "flag"}
    assert compare("p", 5, stats, 5, good) == []  # not a mismatch: named by unchecked()
