"""Transform mode end to end against the real throwaway PostgreSQL: the spec's example 3
(PostgreSQL -> PostgreSQL with schema_v2.yaml and -rollback-on-error), an in-place transform
(no -target), and files -> PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from colmig.backends.base import JobInfo
from colmig.config import Settings
from colmig.registry import open_reader
from tests.databases.helpers import read_all
from tests.databases.test_roundtrip import write_table

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "transforms" / "schema_v2.yaml"


def v1_table(rows: int, *, bad_row: int | None = None) -> pa.Table:
    """sensor_data_v1 rows; ``bad_row`` gets a timestamp far outside any calendar (and a good
    quality, so the filter keeps it), which unix_to_timestamp:s cannot convert."""
    rng = np.random.default_rng(7)
    ts = 1_709_251_200 + np.arange(rows, dtype=np.int64) * 10
    if bad_row is not None:
        ts[bad_row] = 10**15  # seconds: year ~31 million, unix_to_timestamp rejects it
    quality = np.round(rng.uniform(0.5, 1.0, rows), 4)
    if bad_row is not None:
        quality[bad_row] = 0.99
    return pa.table(
        {
            "id": pa.array(np.arange(rows, dtype=np.int64)),
            "timestamp": pa.array(ts),
            "sensor_id": pa.array([f" PA-T{i % 7:02d} " for i in range(rows)]),
            "site": pa.array(["Plant-A"] * rows),
            "metric": pa.array(["Temperature"] * rows),
            "value": pa.array(np.round(rng.normal(21, 2, rows), 4)),
            "unit": pa.array(["degC"] * rows),
            "quality": pa.array(quality),
            "battery": pa.array(np.round(rng.uniform(10, 100, rows), 2)),
        }
    )


def expected_rows(table: pa.Table) -> int:
    quality = np.asarray(table.column("quality"))
    return int((quality >= 0.8).sum())


def seed(url: str, table: pa.Table) -> None:
    write_table(url, table, Settings(table="sensor_data_v1"), JobInfo("seed", "r", "x"), parts=4)


def test_spec_example_3_postgres_to_postgres(run_cli, pg_url: str, pg_server) -> None:
    source = pg_url
    target = pg_server.create_database(f"new_tsiot_{abs(hash(pg_url)) % 10**8}")
    data = v1_table(20_000)
    seed(source, data)
    result = run_cli(
        "-mode", "transform",
        "-source", source,
        "-target", target,
        "-transform-config", CONFIG,
        "-rollback-on-error",
        "-partition-on", "id", "-partitions", "4", "-workers", "2",
        "-validate", "-progress", "none",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = read_all(open_reader(target, Settings(table="sensor_data_v2")))
    assert out.num_rows == expected_rows(data)
    assert out.column_names == [
        "recorded_at", "sensor_id", "site", "metric", "measurement", "unit", "quality",
        "battery_pct",
    ]  # fmt: skip
    assert str(out.schema.field("recorded_at").type).startswith("timestamp[us, tz=")
    assert set(out.column("sensor_id").to_pylist()) <= {f"pa-t{i:02d}" for i in range(7)}
    assert set(out.column("unit").to_pylist()) == {"°C"}
    assert "colmig-s3cret" not in result.stdout + result.stderr


def test_rollback_on_error_leaves_the_target_as_it_was(run_cli, pg_url: str, pg_server) -> None:
    target = pg_server.create_database(f"new_tsiot_rb_{abs(hash(pg_url)) % 10**8}")
    # The bad row sits in the last of 4 id ranges, so earlier ranges commit first.
    data = v1_table(20_000, bad_row=19_990)
    seed(pg_url, data)
    result = run_cli(
        "-mode", "transform",
        "-source", pg_url,
        "-target", target,
        "-transform-config", CONFIG,
        "-rollback-on-error",
        "-partition-on", "id", "-partitions", "4", "-workers", "1",
        "-progress", "none",
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert "rolled back" in result.stdout
    assert "timestamp" in result.stderr
    reader = open_reader(target, Settings(table="sensor_data_v2"))
    try:
        rows = read_all(reader).num_rows
    except Exception:
        rows = 0  # the table itself may not exist: also "as it was"
    assert rows == 0


def test_in_place_transform_without_target(run_cli, pg_url: str) -> None:
    data = v1_table(3_000)
    seed(pg_url, data)
    result = run_cli(
        "-mode", "transform", "-source", pg_url, "-transform-config", CONFIG,
        "-progress", "none", "-validate",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = read_all(open_reader(pg_url, Settings(table="sensor_data_v2")))
    assert out.num_rows == expected_rows(data)
    # Re-running resumes: nothing is written twice.
    again = run_cli(
        "-mode", "transform", "-source", pg_url, "-transform-config", CONFIG,
        "-progress", "none",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert read_all(open_reader(pg_url, Settings(table="sensor_data_v2"))).num_rows == out.num_rows


def test_files_to_postgres_transform(run_cli, pg_url: str, tmp_path: Path) -> None:
    data = v1_table(4_000)
    src = tmp_path / "archive"
    src.mkdir()
    pq.write_table(data.slice(0, 2_000), src / "part1.parquet")
    pq.write_table(data.slice(2_000), src / "part2.parquet")
    result = run_cli(
        "-mode", "transform", "-source", f"file://{src}", "-target", pg_url,
        "-transform-config", CONFIG, "-progress", "none", "-validate",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = read_all(open_reader(pg_url, Settings(table="sensor_data_v2")))
    assert out.num_rows == expected_rows(data)
