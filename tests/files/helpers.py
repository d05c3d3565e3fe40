"""Shared helpers of the files-backend tests: small tables, writers for every input format
and compression, and readers of what colmig wrote."""

from __future__ import annotations

import decimal
import io
import json
import lzma
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.feather as feather
import pyarrow.parquet as pq

from colmig.config import Settings
from colmig.registry import open_reader

BASE_US = 1_709_251_200_000_000  # 2024-03-01T00:00:00Z in microseconds
FORMATS = ("csv", "tsv", "jsonl", "json", "parquet", "arrow")
COMPRESSIONS = ("", "gz", "zst", "bz2", "xz")


def readings(rows: int = 6, first_id: int = 0, minutes: int = 1) -> pa.Table:
    """IoT-like rows: id, a zoned timestamp every ``minutes``, 3 sensors, a value with nulls."""
    ids = np.arange(first_id, first_id + rows, dtype=np.int64)
    sensors = np.array(["pa-t01", "pa-t02", "pb-h01"])
    values = pa.array(ids * 0.25, mask=(ids % 5 == 4))
    return pa.table(
        {
            "id": ids,
            "timestamp": pa.array(BASE_US + ids * minutes * 60_000_000, pa.timestamp("us", "UTC")),
            "sensor_id": pa.array(sensors[ids % 3]),
            "value": values,
        }
    )


def tricky() -> pa.Table:
    """Types that must survive a round trip: zones, decimals, int64 extremes, unicode, nulls."""
    return pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "big": pa.array([2**63 - 1, -(2**63), 0, None], pa.int64()),
            "amount": pa.array(
                [
                    decimal.Decimal("12345.6789"),
                    decimal.Decimal("-0.0001"),
                    None,
                    decimal.Decimal("99999999.9999"),
                ],
                pa.decimal128(12, 4),
            ),
            "at": pa.array(
                [BASE_US, BASE_US + 1, None, BASE_US + 3_600_000_000 * 23],
                pa.timestamp("us", "Europe/Berlin"),
            ),
            "local": pa.array([BASE_US, None, BASE_US + 7, 0], pa.timestamp("us")),
            "text": pa.array(["plain", "ünïcødé ✓", "😀 emoji", None]),
            "flag": pa.array([True, False, None, True]),
            "ratio": pa.array([0.1, float("inf"), None, -1e300]),
        }
    )


def encode(table: pa.Table, fmt: str) -> bytes:
    """``table`` in one of the input formats."""
    if fmt in ("csv", "tsv"):
        sink = io.BytesIO()
        options = pacsv.WriteOptions(delimiter="\t" if fmt == "tsv" else ",")
        pacsv.write_csv(table, sink, options)
        return sink.getvalue()
    if fmt == "jsonl":
        return "".join(json.dumps(row, default=str) + "\n" for row in table.to_pylist()).encode()
    if fmt == "json":
        return json.dumps(table.to_pylist(), default=str).encode()
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, sink)
    else:
        feather.write_feather(table, sink)
    return sink.getvalue()


def compress(data: bytes, compression: str) -> bytes:
    """``data`` compressed as .gz, .zst, .bz2 or .xz (pyarrow's codecs, lzma for xz)."""
    if not compression:
        return data
    if compression == "xz":
        return lzma.compress(data)
    sink = pa.BufferOutputStream()
    codec = {"gz": "gzip", "zst": "zstd", "bz2": "bz2"}[compression]
    stream = pa.CompressedOutputStream(sink, codec)
    stream.write(data)
    stream.close()
    return bytes(sink.getvalue().to_pybytes())


def write_input(path: Path, table: pa.Table, fmt: str, compression: str = "") -> Path:
    """Write ``table`` to ``path`` in ``fmt`` (compressed by ``compression``); return path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(compress(encode(table, fmt), compression))
    return path


def read_source(url: str, **settings: Any) -> pa.Table:
    """Everything the files reader yields for ``url``, partition by partition."""
    reader = open_reader(url, Settings(**settings))
    batches = [b for p in reader.plan(4) for b in reader.read(p, 1000)]
    return pa.Table.from_batches(batches, schema=reader.schema())


def output_files(root: Path) -> list[Path]:
    """Every file under ``root`` (sorted), hidden ones included."""
    return sorted(p for p in root.rglob("*") if p.is_file())


def read_output(root: Path, fmt: str = "parquet", hive: bool = False) -> pa.Table:
    """Every row colmig wrote under ``root`` (pyarrow.dataset; hive partitioning optional)."""
    dataset = ds.dataset(
        str(root),
        format="ipc" if fmt == "arrow" else fmt,
        partitioning="hive" if hive else None,
    )
    return dataset.to_table()


def sort_by_id(table: pa.Table) -> pa.Table:
    return table.sort_by("id")


def data_args(source: str, target: str | None, *extra: str) -> list[str]:
    """The arguments of a ``-mode data`` run without a progress display."""
    target_args = ["-target", target] if target else []
    return ["-mode", "data", "-source", source, *target_args, "-progress", "none", *extra]


def run_parallel(run_cli: Any, *runs: list[str]) -> list[Any]:
    """Run several independent colmig commands at once (each is mostly interpreter start-up)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        return list(pool.map(lambda args: run_cli(*args), runs))


def cli_ok(result: Any) -> str:
    """Assert a CompletedProcess succeeded; return its stdout."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return str(result.stdout)
