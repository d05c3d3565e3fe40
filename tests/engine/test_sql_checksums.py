"""The hand-run checksum SQL in sql/ gives the numbers colmig's -validate computes."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from colmig.backends.base import JobInfo
from colmig.config import Settings
from colmig.engine.checksums import table_stats
from tests.databases.test_roundtrip import write_table

REPO = Path(__file__).resolve().parents[2]
COLUMNS = ["timestamp", "sensor_id", "value", "quality"]


def _expected(run_cli, tmp_path: Path):  # type: ignore[no-untyped-def]
    shutil.copytree(REPO / "data" / "sample", tmp_path / "data" / "sample")
    result = run_cli(
        "-mode", "data", "-source", "file://./data/sample",
        "-target", "file://./out/sample_parquet", "-progress", "none", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = ds.dataset(tmp_path / "out" / "sample_parquet", format="parquet").to_table()
    return table, table_stats([table.select(COLUMNS)], table.select(COLUMNS).schema)


def _check(row: tuple, names: list[str], table, stats) -> None:  # type: ignore[no-untyped-def]
    got = dict(zip(names, row, strict=True))
    assert got["row_count"] == table.num_rows
    for column in COLUMNS:
        want = stats[column]
        assert got[f"{column}_nulls"] == want.nulls, column
        if want.approximate:
            assert float(got[f"{column}_sum"]) == pytest.approx(float(want.checksum), rel=1e-9)
        else:
            assert str(got[f"{column}_sum"]) == want.checksum, column


def test_duckdb_sql_matches_colmig(run_cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    table, stats = _expected(run_cli, tmp_path)
    monkeypatch.chdir(tmp_path)
    cursor = duckdb.connect().execute((REPO / "sql" / "checksums_duckdb.sql").read_text())
    names = [d[0] for d in cursor.description]
    _check(cursor.fetchone(), names, table, stats)


@pytest.mark.postgres
def test_postgres_sql_matches_colmig(run_cli, pg_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import adbc_driver_postgresql.dbapi as pg

    table, stats = _expected(run_cli, tmp_path)
    write_table(pg_url, table, Settings(table="sensor_data"), JobInfo("seed", "r", "x"))
    with pg.connect(pg_url.replace("postgres://", "postgresql://", 1)) as conn:
        cur = conn.cursor()
        # ADBC wraps a query in COPY (...): no trailing semicolon inside it.
        cur.execute((REPO / "sql" / "checksums_postgres.sql").read_text().strip().rstrip(";"))
        names = [d[0] for d in cur.description]
        _check(cur.fetchone(), names, table, stats)
