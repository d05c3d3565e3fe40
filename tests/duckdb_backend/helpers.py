"""DuckDB backend test helpers: a wide table of every mapped type, writing and reading."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pyarrow as pa

from colmig.backends.base import JobInfo, Partition
from colmig.config import Settings
from colmig.registry import open_writer
from tests.databases.helpers import sample_table

UTC = dt.UTC
PARIS = dt.timezone(dt.timedelta(hours=1))


def job(name: str = "job", source: str = "file://./data/sample") -> JobInfo:
    return JobInfo(job_id=name, run_id="run-1", source_redacted=source)


def wide_table() -> pa.Table:
    """sample_table() plus DuckDB's extra widths and precisions, each column with a NULL."""
    base = sample_table()
    extra = {
        "i8": pa.array([-128, None, 127], pa.int8()),
        "u8": pa.array([0, None, 255], pa.uint8()),
        "u16": pa.array([0, None, 65535], pa.uint16()),
        "u32": pa.array([0, None, 2**32 - 1], pa.uint32()),
        "u64": pa.array([0, None, 2**64 - 1], pa.uint64()),
        "f32": pa.array([0.25, None, -3.5], pa.float32()),
        "wide_dec": pa.array(
            [Decimal("1234567890123456789012345678.0123456789"), None, Decimal("-0.0000000001")],
            pa.decimal128(38, 10),
        ),
        "ts_s": pa.array(
            [dt.datetime(1970, 1, 1), None, dt.datetime(2038, 1, 19, 3, 14, 8)], pa.timestamp("s")
        ),
        "ts_ms": pa.array(
            [dt.datetime(2024, 1, 1, 0, 0, 0, 123000), None, dt.datetime(1960, 6, 1)],
            pa.timestamp("ms"),
        ),
        "ts_ns": pa.array([1_700_000_000_123_456_789, None, -1_000_000_001], pa.timestamp("ns")),
        "tz_ns": pa.array([1_700_000_000_123_456_789, None, 0], pa.timestamp("ns", tz="UTC")),
        "clock": pa.array([dt.time(0, 0), None, dt.time(23, 59, 59, 999999)], pa.time64("us")),
        "big_text": pa.array(["ß" * 10_000, None, "😀 emoji"], pa.large_string()),
        "tags": pa.array([["a", "b"], None, []], pa.list_(pa.string())),
        "point": pa.array(
            [{"x": 1, "y": 2.5}, None, {"x": None, "y": -1.0}],
            pa.struct([("x", pa.int32()), ("y", pa.float64())]),
        ),
    }
    for name, array in extra.items():
        base = base.append_column(name, array)
    return base


def write_table(
    url: str, table: pa.Table, settings: Settings, j: JobInfo, parts: int = 2
) -> list[Partition]:
    """Write ``table`` in ``parts`` partitions p0, p1, ... and finalize."""
    writer = open_writer(url, settings)
    out = []
    try:
        writer.prepare(table.schema, j, False)
        size = max(1, -(-table.num_rows // parts))
        for index, offset in enumerate(range(0, table.num_rows, size)):
            part = Partition(f"p{index}", f"rows {offset}+")
            writer.write_partition(part, table.slice(offset, size).to_batches(), table.schema, j)
            out.append(part)
        writer.finalize(j)
    finally:
        writer.close()
    return out


def uuid_text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)
