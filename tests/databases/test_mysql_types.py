"""Issue 9 on MariaDB, from the command line: times and nanosecond timestamps into a table
colmig creates, DECIMAL(38,x) read back without a connectorx panic, -validate on TIME(6), and
the project's own migrations followed by a load of data/sample (the target's schema wins)."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.hostile.test_sql_mysql_sqlite import mysql_rows

pytestmark = pytest.mark.mariadb

REPO = Path(__file__).resolve().parents[2]
SAMPLE_ROWS = 51_760


def _load(run_cli, tmp_path: Path, url: str, table: pa.Table, *extra: str):
    pq.write_table(table, tmp_path / "in.parquet")
    return run_cli(
        "-mode", "data", "-source", "file://in.parquet", "-target", url, "-table", "t", *extra,
    )  # fmt: skip


def _back(run_cli, tmp_path: Path, url: str, table: str = "t") -> pa.Table:
    result = run_cli(
        "-mode", "data", "-source", url, "-table", table, "-target", f"file://back_{table}/",
        "-format", "parquet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "panicked" not in result.stderr
    return pq.read_table(tmp_path / f"back_{table}")


def test_times_and_whole_microsecond_nanoseconds_load_and_validate(
    run_cli, mariadb_url: str, tmp_path: Path
):
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "t32": pa.array([3600, 86399, None], pa.time32("s")),
            "t64": pa.array([3_723_123_456, 1, None], pa.time64("us")),
            "ns": pa.array([1_700_000_000_123_456_000, 0, None], pa.timestamp("ns")),
        }
    )
    loaded = _load(run_cli, tmp_path, mariadb_url, table, "-validate")
    assert loaded.returncode == 0, loaded.stderr
    back = _back(run_cli, tmp_path, mariadb_url).sort_by("id")
    assert back.column("t32").to_pylist() == [dt.time(1), dt.time(23, 59, 59), None]
    assert back.column("t64").to_pylist() == table.column("t64").to_pylist()
    assert back.column("ns").cast(pa.int64()).to_pylist() == [1_700_000_000_123_456, 0, None]


def test_sub_microsecond_timestamp_is_refused_naming_column_and_value(
    run_cli, mariadb_url: str, tmp_path: Path
):
    table = pa.table({"ns": pa.array([1_000, 1_700_000_000_123_456_789], pa.timestamp("ns"))})
    result = _load(run_cli, tmp_path, mariadb_url, table)
    assert result.returncode == 5, result.stderr
    assert "column ns" in result.stderr and "2023-11-14 22:13:20.123456789" in result.stderr
    assert "row 2" in result.stderr and "Traceback" not in result.stderr
    assert mysql_rows(mariadb_url, "SELECT COUNT(*) FROM t") == [(0,)]


def test_decimals_up_to_65_digits_read_back_exactly(run_cli, mariadb_url: str, tmp_path: Path):
    mysql_rows(
        mariadb_url,
        "CREATE TABLE d (id INT PRIMARY KEY, a DECIMAL(38,10), b DECIMAL(20,0) UNSIGNED,"
        " c DECIMAL(11,3), e DECIMAL(65,30))",
    )
    values = [
        (
            1,
            "1234567890123456789012345678.0123456789",
            "18446744073709551615",
            "-12345678.901",
            "12345678901234567890123456789012345.123456789012345678901234567890",
        ),
        (2, "-0.0000000001", "0", "0.001", "-1E-30"),
        (3, None, None, None, None),
    ]
    for row in values:
        mysql_rows(mariadb_url, "INSERT INTO d VALUES (%s, %s, %s, %s, %s)", row)
    back = _back(run_cli, tmp_path, mariadb_url, "d").sort_by("id")
    assert back.schema.field("a").type == pa.decimal128(38, 10)
    assert back.schema.field("e").type == pa.decimal256(65, 30)
    for index, name in enumerate("abce", start=1):
        want = [None if r[index] is None else Decimal(r[index]) for r in values]
        assert back.column(name).to_pylist() == want, name
    query = run_cli(
        "-mode", "data", "-source", mariadb_url, "-query", "SELECT id, a FROM d WHERE id < 3",
        "-target", "file://q/", "-format", "parquet",
    )  # fmt: skip
    assert query.returncode == 0, query.stderr
    assert pq.read_table(tmp_path / "q").sort_by("id").column("a").to_pylist() == [
        Decimal(values[0][1]),
        Decimal(values[1][1]),
    ]


def test_migrations_then_sample_into_sensor_data(run_cli, mariadb_url: str, tmp_path: Path):
    shutil.copytree(REPO / "migrations", tmp_path / "migrations")
    shutil.copytree(REPO / "data" / "sample", tmp_path / "data")
    up = run_cli("-source", mariadb_url, "-direction", "up")
    assert up.returncode == 0, up.stderr
    load = run_cli(
        "-mode", "data", "-source", "file://./data", "-target", mariadb_url,
        "-target-table", "sensor_data", "-validate",
    )  # fmt: skip
    assert load.returncode == 0, load.stderr
    assert mysql_rows(mariadb_url, "SELECT COUNT(*) FROM sensor_data") == [(SAMPLE_ROWS,)]
    first = mysql_rows(
        mariadb_url,
        "SELECT `timestamp`, CAST(quality AS CHAR) FROM sensor_data WHERE sensor_id = 'pa-t01'"
        " ORDER BY 1 LIMIT 1",
    )
    assert first == [(dt.datetime(2024, 3, 1), "0.983")]


def test_existing_narrow_columns_take_values_that_fit_and_name_one_that_does_not(
    run_cli, mariadb_url: str, tmp_path: Path
):
    mysql_rows(mariadb_url, "CREATE TABLE small (id INT, v SMALLINT, q FLOAT)")
    (tmp_path / "ok.csv").write_text("id,v,q\n1,-32768,0.5\n2,32767,96.6\n")
    args = ["-mode", "data", "-target", mariadb_url, "-table", "small"]
    ok = run_cli(*args, "-source", "file://ok.csv")
    assert ok.returncode == 0, ok.stderr
    rows = mysql_rows(mariadb_url, "SELECT id, v, CAST(q AS CHAR) FROM small ORDER BY id")
    assert rows == [(1, -32768, "0.5"), (2, 32767, "96.6")]
    (tmp_path / "big.csv").write_text("id,v,q\n3,1,0.25\n4,70000,0.5\n")
    big = run_cli(*args, "-source", "file://big.csv")
    assert big.returncode == 5, big.stderr
    assert "column v" in big.stderr and "70000" in big.stderr and "row 2" in big.stderr
    (tmp_path / "fine.csv").write_text("id,v,q\n5,1,0.1234567891\n")
    fine = run_cli(*args, "-source", "file://fine.csv")
    assert fine.returncode == 5, fine.stderr
    assert "column q" in fine.stderr and "0.1234567891" in fine.stderr
    assert mysql_rows(mariadb_url, "SELECT COUNT(*) FROM small") == [(2,)]


def test_nan_and_negative_zero_are_refused_naming_column(run_cli, mariadb_url: str, tmp_path: Path):
    for values, word in (([1.0, -0.0], "negative zero"), ([float("nan"), 1.0], "NaN")):
        result = _load(run_cli, tmp_path, mariadb_url, pa.table({"f": values}), "-fresh")
        assert result.returncode == 5, result.stderr
        assert "column f" in result.stderr and word in result.stderr, result.stderr
        assert "string" in result.stderr  # the exact alternative
        assert mysql_rows(mariadb_url, "SELECT COUNT(*) FROM t") == [(0,)]


def test_on_error_skip_drops_only_the_rows_that_do_not_fit(
    run_cli, mariadb_url: str, tmp_path: Path
):
    mysql_rows(mariadb_url, "CREATE TABLE small (id INT, v SMALLINT)")
    (tmp_path / "in.csv").write_text("id,v\n1,5\n2,70000\n3,-7\n")
    result = run_cli(
        "-mode", "data", "-source", "file://in.csv", "-target", mariadb_url, "-table", "small",
        "-on-error", "skip",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "70000" in result.stderr  # logged, not silent
    assert mysql_rows(mariadb_url, "SELECT id, v FROM small ORDER BY id") == [(1, 5), (3, -7)]


def test_zero_date_is_bad_source_data_with_a_hint_not_a_panic(
    run_cli, mariadb_url: str, tmp_path: Path
):
    mysql_rows(mariadb_url, "CREATE TABLE zd (id INT PRIMARY KEY, d DATE)")
    mysql_rows(mariadb_url, "INSERT INTO zd VALUES (1, '0000-00-00'), (2, '2024-01-01')")
    result = run_cli(
        "-mode", "data", "-source", mariadb_url, "-table", "zd", "-target", "file://out/",
        env={"RUST_BACKTRACE": "0"},
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert "NULLIF" in result.stderr and "Traceback" not in result.stderr
