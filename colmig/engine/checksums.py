"""Canonical, order-independent per-column statistics for ``-validate``.

Every engine that computes them (DuckDB over Arrow here, SQL aggregates in the database
backends) must produce the same text for the same multiset of values:

- integers and decimals: the exact sum, as a plain decimal string;
- booleans: the number of true values;
- floats: the sum as a double, compared with a relative tolerance (``approximate``);
- timestamps, dates and times: the exact sum of microseconds since the epoch (since midnight
  for times; a date counts as its midnight);
- strings and binary: the exact sum of the first 15 hex digits of each value's md5, read as a
  60-bit integer (a multiset hash).

Sums are additive, so statistics of batches add up to those of the partition, and those of
partitions to those of the table. Decimal sums are exact at any size (summed from the 32-bit
words of Arrow's storage, never in a 38-digit accumulator); float16 sums as float32.

A column whose checksum cannot be computed gets ``checksum = "unavailable: why"`` instead of
an exception: ``-validate`` names it as not checked, and the rows stay committed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from colmig.backends.base import ColumnStats
from colmig.backends.sql_common import canonical_decimal, canonical_float, stats_kind

FLOAT_RELATIVE_TOLERANCE = 1e-9
#: Prefix of the checksum of a column whose statistics could not be computed.
UNAVAILABLE = "unavailable"
#: Decimal arithmetic with room for any sum (the default context rounds to 28 digits).
EXACT = Context(prec=400)
#: One DuckDB query per this many rows: per-batch queries would cost more than the sums.
FOLD_ROWS = 131_072


def _as_micros(column: pa.ChunkedArray, kind: str) -> pa.ChunkedArray:
    """Temporal columns as int64 microseconds (vectorized, no Python per value)."""
    if kind == "timestamp":
        unit_type = pa.timestamp("us", tz=column.type.tz)  # type: ignore[attr-defined]
        return pc.cast(column, unit_type, safe=False).cast(pa.int64())
    if kind == "date":
        days = pc.cast(pc.cast(column, pa.date32()), pa.int32()).cast(pa.int64())
        return pc.multiply(days, pa.scalar(86_400_000_000, pa.int64()))
    # time
    return pc.cast(column, pa.time64("us")).cast(pa.int64())


def _aggregate_sql(name: str, kind: str) -> str:
    col = '"' + name.replace('"', '""') + '"'
    if kind in ("exact", "timestamp", "date", "time"):
        return f"CAST(SUM({col}) AS VARCHAR)"
    if kind == "bool":
        return f"CAST(SUM(CASE WHEN {col} THEN 1 ELSE 0 END) AS VARCHAR)"
    if kind == "float":
        return f"SUM(CAST({col} AS DOUBLE))"
    if kind == "hash":
        text = f"CAST({col} AS VARCHAR)"
        return f"CAST(SUM(CAST('0x' || substr(md5({text}), 1, 15) AS BIGINT)) AS VARCHAR)"
    return f"CAST(SUM(CAST('0x' || substr(md5({col}), 1, 15) AS BIGINT)) AS VARCHAR)"


@dataclass
class _Sum:
    count: int = 0
    nulls: int = 0
    exact: Decimal = Decimal(0)
    floating: float = 0.0
    unavailable: str = ""


def _decimal_sum(column: pa.ChunkedArray) -> Decimal:
    """The exact sum of a decimal column, from the 32-bit words of its two's complement
    storage: each word column sums in int64 without overflow, so any row count up to 2**31
    per chunk and any precision (decimal128 and decimal256) is exact."""
    scale = column.type.scale  # type: ignore[attr-defined]
    width = column.type.byte_width  # type: ignore[attr-defined]
    words_per_value = width // 4
    total = 0
    for chunk in column.chunks:
        if len(chunk) == chunk.null_count:
            continue
        words = np.frombuffer(
            chunk.buffers()[1],
            dtype=np.uint32,
            count=len(chunk) * words_per_value,
            offset=chunk.offset * width,
        ).reshape(-1, words_per_value)
        if chunk.null_count:
            words = words[np.asarray(chunk.is_valid())]
        for index in range(words_per_value - 1):
            total += int(words[:, index].sum(dtype=np.int64)) << (32 * index)
        top = words[:, -1].view(np.int32).sum(dtype=np.int64)
        total += int(top) << (32 * (words_per_value - 1))
    return Decimal(total).scaleb(-scale, EXACT)


_DUCKDB: Any = None


def _connection() -> Any:
    """One in-memory DuckDB per process (connecting costs ~0.1 s; a cursor costs nothing)."""
    global _DUCKDB
    if _DUCKDB is None:
        import duckdb  # only runs with -validate; keeps it out of every worker otherwise

        _DUCKDB = duckdb.connect()
    return _DUCKDB


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


class StatsAccumulator:
    """Adds up the canonical statistics of a stream of batches sharing one schema."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.kinds = {f.name: stats_kind(f.type) for f in schema}
        self.kinds = {name: kind for name, kind in self.kinds.items() if kind != "none"}
        self.sums = {name: _Sum() for name in self.kinds}
        self.rows = 0
        self._db: Any = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def add(self, data: pa.RecordBatch | pa.Table) -> None:
        """Fold one batch into the running sums (small batches are summed together)."""
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        self.rows += table.num_rows
        if not self.kinds or table.num_rows == 0:
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= FOLD_ROWS:
            self._fold()

    @property
    def pending_rows(self) -> int:
        """Rows added but not yet summed (held in memory)."""
        return self._pending_rows

    def flush(self) -> None:
        """Sum what is pending now (callers holding many accumulators bound memory so)."""
        self._fold()

    def _fold(self) -> None:
        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        self._pending = []
        self._pending_rows = 0
        in_duckdb = []
        for name, kind in self.kinds.items():
            acc = self.sums[name]
            if acc.unavailable:
                continue
            column = table.column(name)
            if kind == "exact" and pa.types.is_decimal(column.type):
                try:
                    acc.nulls += column.null_count
                    acc.exact = EXACT.add(acc.exact, _decimal_sum(column))
                except (pa.ArrowException, ValueError) as exc:
                    acc.unavailable = f"{type(exc).__name__}: {_first_line(exc)}"
                continue
            in_duckdb.append(name)
        try:
            self._fold_duckdb(table, in_duckdb)
        except Exception:
            # One column DuckDB cannot sum must not cost the others their checksums.
            for name in in_duckdb:
                try:
                    self._fold_duckdb(table, [name])
                except Exception as exc:
                    self.sums[name].unavailable = f"{type(exc).__name__}: {_first_line(exc)}"

    def _fold_duckdb(self, table: pa.Table, names: list[str]) -> None:
        if not names:
            return
        columns, selects = {}, []
        for index, name in enumerate(names):
            kind = self.kinds[name]
            column = table.column(name)
            if kind in ("timestamp", "date", "time"):
                column = _as_micros(column, kind)
            elif pa.types.is_float16(column.type):
                column = column.cast(pa.float32())  # DuckDB has no half float
            alias = f"c{index}"
            columns[alias] = column
            selects.append(f"COUNT(*) - COUNT({alias})")
            selects.append(_aggregate_sql(alias, kind))
        # Extension columns (arrow.uuid, arrow.json) stay as they are: DuckDB reads them as
        # UUID/JSON and renders the canonical text databases hash (hyphenated UUIDs).
        frame = pa.table(columns)  # noqa: F841 - read by DuckDB's replacement scan
        if self._db is None:
            self._db = _connection().cursor()
        row = self._db.execute(f"SELECT {', '.join(selects)} FROM frame").fetchone()
        assert row is not None
        for index, name in enumerate(names):
            nulls, total = row[2 * index], row[2 * index + 1]
            acc = self.sums[name]
            acc.nulls += int(nulls)
            if total is None:
                continue
            if self.kinds[name] == "float":
                acc.floating += float(total)
            else:
                acc.exact = EXACT.add(acc.exact, Decimal(str(total)))

    def result(self) -> dict[str, ColumnStats]:
        """The statistics of everything added so far."""
        self._fold()
        out = {}
        for name, kind in self.kinds.items():
            acc = self.sums[name]
            count = self.rows
            if acc.unavailable:
                out[name] = ColumnStats(count, acc.nulls, f"{UNAVAILABLE}: {acc.unavailable}")
            elif kind == "float":
                out[name] = ColumnStats(count, acc.nulls, canonical_float(acc.floating), True)
            else:
                out[name] = ColumnStats(count, acc.nulls, canonical_decimal(acc.exact))
        return out


def table_stats(
    batches: Iterable[pa.RecordBatch | pa.Table], schema: pa.Schema
) -> dict[str, ColumnStats]:
    """Statistics of a whole stream."""
    acc = StatsAccumulator(schema)
    for batch in batches:
        acc.add(batch)
    return acc.result()


def add_stats(a: Mapping[str, ColumnStats], b: Mapping[str, ColumnStats]) -> dict[str, ColumnStats]:
    """Statistics of the union of two disjoint sets of rows."""
    out = dict(a)
    for name, right in b.items():
        left = out.get(name)
        if left is None:
            out[name] = right
            continue
        if is_unavailable(left) or is_unavailable(right):
            total = left.checksum if is_unavailable(left) else right.checksum
        elif left.approximate or right.approximate:
            total = canonical_float(float(left.checksum) + float(right.checksum))
        else:
            total = canonical_decimal(EXACT.add(Decimal(left.checksum), Decimal(right.checksum)))
        out[name] = ColumnStats(
            left.count + right.count,
            left.nulls + right.nulls,
            total,
            left.approximate or right.approximate,
        )
    return out


@dataclass(frozen=True)
class Mismatch:
    """One disagreement between expected and actual statistics."""

    partition: str
    column: str
    what: str
    expected: str
    actual: str


def compare(
    partition: str,
    expected_rows: int,
    expected: Mapping[str, ColumnStats],
    actual_rows: int,
    actual: Mapping[str, ColumnStats],
) -> list[Mismatch]:
    """Every difference between two sets of statistics of the same rows."""
    out = []
    if expected_rows != actual_rows:
        out.append(Mismatch(partition, "*", "rows", str(expected_rows), str(actual_rows)))
    for name, want in expected.items():
        got = actual.get(name)
        if got is None:
            out.append(Mismatch(partition, name, "column", "present", "missing"))
            continue
        if is_unavailable(want) or is_unavailable(got):
            continue  # named by unchecked(), never a mismatch
        if want.nulls != got.nulls:
            out.append(Mismatch(partition, name, "nulls", str(want.nulls), str(got.nulls)))
        if not _same_sum(want, got):
            out.append(Mismatch(partition, name, "checksum", want.checksum, got.checksum))
    return out


def is_unavailable(stats: ColumnStats) -> bool:
    """True when the column's checksum could not be computed (see the module doc)."""
    return stats.checksum.startswith(UNAVAILABLE)


def unchecked(*sides: Mapping[str, ColumnStats]) -> dict[str, str]:
    """Columns whose checksum could not be computed on some side, with the reason."""
    out: dict[str, str] = {}
    for stats in sides:
        for name, value in stats.items():
            if is_unavailable(value) and name not in out:
                out[name] = value.checksum.split(":", 1)[-1].strip() or "unknown reason"
    return out


def _same_sum(a: ColumnStats, b: ColumnStats) -> bool:
    if a.approximate or b.approximate:
        x, y = float(a.checksum), float(b.checksum)
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return math.isclose(x, y, rel_tol=FLOAT_RELATIVE_TOLERANCE, abs_tol=1e-9)
    return Decimal(a.checksum) == Decimal(b.checksum)


def stats_to_json(stats: Mapping[str, ColumnStats]) -> str:
    """Serialise statistics for the ledger."""
    return json.dumps(
        {k: [v.count, v.nulls, v.checksum, v.approximate] for k, v in stats.items()},
        sort_keys=True,
    )


def stats_from_json(text: str | None) -> dict[str, ColumnStats]:
    """Read statistics written by :func:`stats_to_json`."""
    if not text:
        return {}
    return {
        k: ColumnStats(int(v[0]), int(v[1]), str(v[2]), bool(v[3]))
        for k, v in json.loads(text).items()
    }
