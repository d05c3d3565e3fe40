"""Sample archives, emulator-side listings and comparisons for the gs:// and az:// tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

BASE_TS = 1_709_251_200  # 2024-03-01T00:00:00Z
COLUMNS = ["id", "timestamp", "sensor_id", "value"]


@dataclass(frozen=True)
class Cloud:
    """One emulated object store as a test sees it: the user's URL prefix and env, and a
    client filesystem of its own to check what colmig wrote."""

    name: str
    prefix: str  # gs://bucket or az://container
    env: dict[str, str]
    fs: Any
    secrets: tuple[str, ...] = ()

    @property
    def bucket(self) -> str:
        return self.prefix.split("://", 1)[1]

    def path(self, sub: str) -> str:
        return f"{self.bucket}/{sub}"


def sample_table(first_id: int, rows: int, seed: int = 0) -> pa.Table:
    """IoT-like rows: unique ``id``, a 20-second cadence over two days, 3 sensors, a value."""
    rng = np.random.default_rng(seed + first_id)
    ids = np.arange(first_id, first_id + rows, dtype=np.int64)
    sensors = np.array(["pa-t01", "pa-t02", "fb-h01"])
    return pa.table(
        {
            "id": ids,
            "timestamp": pa.array((BASE_TS + ids * 20) * 1_000_000, pa.timestamp("us", "UTC")),
            "sensor_id": pa.array(sensors[ids % 3]),
            "value": pa.array(np.round(rng.normal(20, 5, rows), 3)),
        }
    )


def write_csv_archive(directory: Path, files: int, rows_per_file: int) -> pa.Table:
    """``files`` CSV files of consecutive ids in ``directory``; the whole archive as a table."""
    directory.mkdir(parents=True, exist_ok=True)
    tables = []
    for index in range(files):
        table = sample_table(index * rows_per_file, rows_per_file, seed=index)
        pacsv.write_csv(table, directory / f"readings-{index:03d}.csv")
        tables.append(table)
    return pa.concat_tables(tables)


def objects(cloud: Cloud, sub: str = "") -> list[str]:
    """Every object under ``sub`` of the bucket, relative to the bucket, sorted."""
    base = cloud.path(sub).rstrip("/")
    if not cloud.fs.exists(base):
        return []
    cloud.fs.invalidate_cache()
    return sorted(p.split("/", 1)[1] for p in cloud.fs.find(base))


def versions(cloud: Cloud, sub: str) -> dict[str, str]:
    """Object -> its generation (GCS) or ETag (Azure): changes whenever it is rewritten."""
    cloud.fs.invalidate_cache()
    found = cloud.fs.find(cloud.path(sub), detail=True)
    return {
        path: str(info.get("generation") or info.get("etag") or info.get("last_modified"))
        for path, info in found.items()
    }


def read_back(cloud: Cloud, sub: str, hive: bool = False) -> pa.Table:
    """All rows of the Parquet dataset under ``sub``, read through the emulator."""
    cloud.fs.invalidate_cache()
    dataset = ds.dataset(
        cloud.path(sub),
        filesystem=cloud.fs,
        format="parquet",
        partitioning="hive" if hive else None,
    )
    return dataset.to_table()


def normalized(table: pa.Table) -> pa.Table:
    """``COLUMNS`` only, sorted by id, timestamps as µs UTC and strings as plain strings."""
    table = table.select(COLUMNS)
    table = table.set_column(
        1, "timestamp", table.column("timestamp").cast(pa.timestamp("us", "UTC"))
    )
    table = table.set_column(2, "sensor_id", table.column("sensor_id").cast(pa.string()))
    return table.take(pc.sort_indices(table, [("id", "ascending")])).combine_chunks()


def assert_same_rows(actual: pa.Table, expected: pa.Table) -> None:
    """Exactly the same rows, whatever their order and file split."""
    assert actual.num_rows == expected.num_rows
    assert normalized(actual).equals(normalized(expected))
