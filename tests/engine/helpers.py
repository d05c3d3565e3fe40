"""Shared helpers of the engine and S3 tests: sample archives and comparisons of outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from colmig.backends.base import ColumnStats
from colmig.engine.checksums import compare, table_stats

BASE_TS = 1_709_251_200_000_000  # 2024-03-01T00:00:00Z in microseconds


def sample_table(first_id: int, rows: int, seed: int = 0, tz: str | None = "UTC") -> pa.Table:
    """IoT-like rows: a unique ``id``, a 30-second-cadence timestamp, 3 sensors, a float value."""
    rng = np.random.default_rng(seed + first_id)
    ids = np.arange(first_id, first_id + rows, dtype=np.int64)
    sensors = np.array(["pa-t01", "pa-t02", "pb-h01"])
    return pa.table(
        {
            "id": ids,
            "ts": pa.array(BASE_TS + ids * 30_000_000, pa.timestamp("us", tz=tz)),
            "sensor_id": pa.array(sensors[ids % 3]),
            "value": pa.array(np.round(rng.normal(20, 5, rows), 3)),
            "ok": pa.array(ids % 7 != 0),
        }
    )


def write_csv_archive(
    directory: Path, files: int, rows_per_file: int, tz: str | None = "UTC"
) -> pa.Table:
    """Write ``files`` CSV files of consecutive ids; return the whole archive as one table.

    ``tz=None`` writes naive timestamps, which pyarrow formats ten times faster.
    """
    directory.mkdir(parents=True, exist_ok=True)
    tables = []
    for index in range(files):
        table = sample_table(index * rows_per_file, rows_per_file, seed=index, tz=tz)
        pacsv.write_csv(table, directory / f"readings-{index:03d}.csv")
        tables.append(table)
    return pa.concat_tables(tables)


def read_dataset(path: str | Path, filesystem: Any = None, hive: bool = False) -> pa.Table:
    """Every row of a Parquet output directory (hidden/temp files are skipped by pyarrow)."""
    dataset = ds.dataset(
        str(path),
        format="parquet",
        filesystem=filesystem,
        partitioning="hive" if hive else None,
    )
    return dataset.to_table()


def stats_of(table: pa.Table, columns: list[str]) -> dict[str, ColumnStats]:
    """Order-independent per-column checksums of ``columns``."""
    selected = table.select(columns)
    if "ts" in columns:
        # Compare instants in microseconds whatever unit the reader chose.
        index = columns.index("ts")
        selected = selected.set_column(
            index, "ts", selected.column("ts").cast(pa.timestamp("us", tz="UTC"))
        )
    return table_stats(selected.to_batches(), selected.schema)


def assert_same_rows(actual: pa.Table, expected: pa.Table, columns: list[str]) -> None:
    """Same row count, no duplicate ids, same per-column checksums (floats within 1e-9)."""
    assert actual.num_rows == expected.num_rows
    assert len(pc.unique(actual.column("id"))) == actual.num_rows, "duplicate rows"
    mismatches = compare(
        "all",
        expected.num_rows,
        stats_of(expected, columns),
        actual.num_rows,
        stats_of(actual, columns),
    )
    assert mismatches == []
