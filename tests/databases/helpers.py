"""Shared data and a tiny in-test driver standing in for the engine (plan -> write -> finalize)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from colmig.backends.base import JobInfo, Reader, Writer
from colmig.backends.sql_common import canonical_decimal, stats_kind

UTC = dt.UTC


def sample_table(rows: int = 3) -> pa.Table:
    """Every mapped type with NULLs, extremes, unicode, time zones, decimal scale, JSON, UUID."""
    base = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "i16": pa.array([-32768, None, 32767], pa.int16()),
            "i32": pa.array([-(2**31), None, 2**31 - 1], pa.int32()),
            "i64": pa.array([-(2**63), None, 2**63 - 1], pa.int64()),
            "f64": pa.array([1.5, None, -1e300], pa.float64()),
            "dec": pa.array(
                [Decimal("12345678.901"), None, Decimal("-0.001")], pa.decimal128(11, 3)
            ),
            "flag": pa.array([True, None, False]),
            "txt": pa.array(["héllo ✓ 日本", None, "tab\tnew\nline \\N 'q' \"dq\""]),
            "empty": pa.array(["", None, " "]),
            "bin": pa.array([b"\x00\x01\xff", None, b""], pa.binary()),
            "day": pa.array([dt.date(1970, 1, 1), None, dt.date(2999, 12, 31)], pa.date32()),
            "ts": pa.array(
                [dt.datetime(2024, 2, 29, 23, 59, 59, 999999), None, dt.datetime(1901, 1, 1)],
                pa.timestamp("us"),
            ),
            "tstz": pa.array(
                [
                    dt.datetime(2024, 3, 31, 1, 30, tzinfo=UTC),
                    None,
                    dt.datetime(2100, 1, 1, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "doc": pa.ExtensionArray.from_storage(
                pa.json_(), pa.array(['{"a": [1, 2], "b": "é"}', None, "[]"])
            ),
            "uid": pa.ExtensionArray.from_storage(
                pa.uuid(),
                pa.array(
                    [
                        uuid.UUID(int=1).bytes,
                        None,
                        uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").bytes,
                    ],
                    pa.binary(16),
                ),
            ),
        }
    )
    return base.slice(0, rows)


def series_table(rows: int, start: int = 0) -> pa.Table:
    """A time series: id, ts (UTC), device, value."""
    ids = pa.array(range(start, start + rows), pa.int64())
    epoch = pc.multiply(ids, 60_000_000)
    ts = pc.add(epoch, 1_704_067_200_000_000).cast(pa.timestamp("us", tz="UTC"))
    device = pc.binary_join_element_wise("dev-", pc.cast(pc.bit_wise_and(ids, 7), pa.string()), "")
    value = pc.multiply(pc.cast(ids, pa.float64()), 0.5)
    return pa.table({"id": ids, "ts": ts, "device": device, "value": value})


def run_job(
    reader: Reader, writer: Writer, job: JobInfo, *, batch_rows: int = 1000, fresh: bool = False
) -> int:
    """What the engine does: plan, skip committed, write each partition, finalize."""
    schema = reader.schema()
    writer.prepare(schema, job, fresh)
    done = writer.committed_partitions(job) or set()
    rows = 0
    for partition in reader.plan(64):
        if partition.id in done:
            continue
        rows += writer.write_partition(
            partition, reader.read(partition, batch_rows), schema, job
        ).rows
    writer.finalize(job)
    return rows


def read_all(reader: Reader, batch_rows: int = 1000) -> pa.Table:
    batches = [b for p in reader.plan(8) for b in reader.read(p, batch_rows)]
    return pa.Table.from_batches(batches, schema=reader.schema())


def arrow_stats(table: pa.Table) -> dict[str, tuple[int, int, str]]:
    """Reference canonical stats computed on the Arrow side (count, nulls, checksum)."""
    out: dict[str, tuple[int, int, str]] = {}
    for field in table.schema:
        column = table.column(field.name).combine_chunks()
        kind = stats_kind(field.type)
        values = [v for v in column.to_pylist() if v is not None]
        total: Any
        if kind in ("exact", "bool"):
            total = canonical_decimal(sum(int(v) if isinstance(v, bool) else v for v in values))
        elif kind == "float":
            total = repr(float(sum(values)))
        elif kind in ("timestamp", "date"):
            micro = column.cast(pa.timestamp("us", tz=None) if kind == "date" else pa.int64())
            ints = [v for v in micro.cast(pa.int64()).to_pylist() if v is not None]
            total = canonical_decimal(sum(ints))
        elif kind in ("hash", "hash_bytes"):

            def digest(v: Any) -> int:
                raw = v if isinstance(v, bytes) else str(v).encode()
                return int(hashlib.md5(raw).hexdigest()[:15], 16)

            total = canonical_decimal(sum(digest(v) for v in values))
        else:
            continue
        out[field.name] = (len(column), column.null_count, total)
    return out
