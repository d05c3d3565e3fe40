"""Issue 9 on SQLite, from the command line: exact decimals, NaN/-0.0/uint64 refused up front
with the alternative, TIME read back, -validate from files, and the project's own migrations
followed by a load of data/sample into the table they created (the target's schema wins)."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
SAMPLE_ROWS = 51_760


def _load(run_cli, tmp_path: Path, table: pa.Table, *extra: str):
    pq.write_table(table, tmp_path / "in.parquet")
    return run_cli(
        "-mode", "data", "-source", "file://in.parquet", "-target", "sqlite://t.db",
        "-table", "t", *extra,
    )  # fmt: skip


def _back(run_cli, tmp_path: Path) -> pa.Table:
    result = run_cli(
        "-mode", "data", "-source", "sqlite://t.db", "-table", "t", "-target", "file://back/",
        "-format", "parquet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return pq.read_table(tmp_path / "back")


def test_decimal_38_10_time_and_uint64_round_trip_exactly(run_cli, tmp_path: Path):
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "d": pa.array(
                [Decimal("1234567890123456789012345678.0123456789"), Decimal("-1E-10"), None],
                pa.decimal128(38, 10),
            ),
            "tm": pa.array([dt.time(23, 59, 59, 999999), dt.time(0, 0), None], pa.time64("us")),
            "u": pa.array([2**63 - 1, 0, None], pa.uint64()),
            # Arrow's text parser overflows next to the ends of the nanosecond range.
            "ns": pa.array([-(2**63) + 2, 2**63 - 1, None], pa.timestamp("ns", tz="UTC")),
            # JSON text that looks like a number must stay text (not 1.5 or 1.500000e+00).
            "doc": pa.ExtensionArray.from_storage(pa.json_(), pa.array(["1.50", "[]", None])),
        }
    )
    loaded = _load(run_cli, tmp_path, table, "-validate")
    assert loaded.returncode == 0, loaded.stderr
    conn = sqlite3.connect(tmp_path / "t.db")
    stored = conn.execute("SELECT d, typeof(d) FROM t WHERE id = 1").fetchone()
    assert stored == ("1234567890123456789012345678.0123456789", "text")
    back = _back(run_cli, tmp_path).sort_by("id")
    for name in table.column_names:
        assert back.column(name).equals(table.column(name)), name


def test_nan_negative_zero_and_uint64_max_are_refused_naming_column_and_alternative(
    run_cli, tmp_path: Path
):
    cases = {
        "f": (pa.array([1.5, float("nan")]), ["NaN", "string"]),
        "g": (pa.array([-0.0, 2.0]), ["negative zero", "string"]),
        "u": (pa.array([1, 2**64 - 1], pa.uint64()), ["18446744073709551615", "decimal(20,0)"]),
    }
    for name, (values, words) in cases.items():
        result = _load(run_cli, tmp_path, pa.table({name: values}), "-fresh")
        assert result.returncode == 5, result.stderr
        assert f"column {name}" in result.stderr
        for word in words:
            assert word in result.stderr, (name, word, result.stderr)
        assert "Traceback" not in result.stderr
        rows = sqlite3.connect(tmp_path / "t.db").execute("SELECT COUNT(*) FROM t").fetchone()
        assert rows == (0,)
        (tmp_path / "t.db").unlink()


def test_files_to_sqlite_validate_passes(run_cli, tmp_path: Path):
    shutil.copytree(REPO / "data" / "sample", tmp_path / "data")
    result = run_cli(
        "-mode", "data", "-source", "file://./data", "-target", "sqlite://t.db", "-validate",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_migrations_then_sample_into_sensor_data(run_cli, tmp_path: Path):
    shutil.copytree(REPO / "migrations", tmp_path / "migrations")
    shutil.copytree(REPO / "data" / "sample", tmp_path / "data")
    up = run_cli("-source", "sqlite://t.db", "-direction", "up")
    assert up.returncode == 0, up.stderr
    load = run_cli(
        "-mode", "data", "-source", "file://./data", "-target", "sqlite://t.db",
        "-target-table", "sensor_data", "-validate",
    )  # fmt: skip
    assert load.returncode == 0, load.stderr
    conn = sqlite3.connect(tmp_path / "t.db")
    assert conn.execute("SELECT COUNT(*) FROM sensor_data").fetchone() == (SAMPLE_ROWS,)
    # The UTC instants are stored as UTC wall time in the plain TIMESTAMP column.
    first = conn.execute(
        "SELECT timestamp, quality FROM sensor_data WHERE sensor_id = 'pa-t01' ORDER BY 1 LIMIT 1"
    ).fetchone()
    assert first == ("2024-03-01T00:00:00.000000", 0.983)


def test_existing_real_column_refuses_an_integer_a_double_cannot_hold(run_cli, tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "t.db")
    conn.execute("CREATE TABLE m (id INTEGER, r REAL)")
    conn.commit()
    (tmp_path / "m.csv").write_text("id,r\n1,5\n2,9007199254740993\n")
    result = run_cli(
        "-mode", "data", "-source", "file://m.csv", "-target", "sqlite://t.db", "-table", "m",
    )  # fmt: skip
    assert result.returncode == 5, result.stderr
    assert "column r" in result.stderr and "9007199254740993" in result.stderr
    assert "row 2" in result.stderr
    assert conn.execute("SELECT COUNT(*) FROM m").fetchone() == (0,)


def test_existing_numeric_decimal_column_keeps_15_digits_and_refuses_more(run_cli, tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "t.db")
    conn.execute("CREATE TABLE t (id INTEGER, d DECIMAL(38,20))")  # NUMERIC affinity
    conn.commit()
    fits = pa.table(
        {
            "id": pa.array([1, 2]),
            "d": pa.array([Decimal("0.1"), Decimal("-123456.789012345")], pa.decimal128(38, 20)),
        }
    )
    assert _load(run_cli, tmp_path, fits).returncode == 0
    back = _back(run_cli, tmp_path).sort_by("id")
    assert back.column("d").to_pylist() == fits.column("d").to_pylist()  # not 0.1000...0555
    digits = Decimal("1234567890.1234567")
    long = pa.table({"id": pa.array([3]), "d": pa.array([digits], pa.decimal128(38, 20))})
    refused = _load(run_cli, tmp_path, long, "-fresh")
    assert refused.returncode == 5, refused.stderr
    assert "column d" in refused.stderr and "15 significant digits" in refused.stderr
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (2,)


def test_columns_holding_only_nulls_read_back(run_cli, tmp_path: Path):
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "b": pa.array([None, None], pa.binary()),
            "d": pa.array([None, None], pa.decimal128(38, 10)),
        }
    )
    assert _load(run_cli, tmp_path, table).returncode == 0
    back = _back(run_cli, tmp_path).sort_by("id")
    assert back.schema.field("b").type == pa.binary()
    assert back.column("b").to_pylist() == [None, None]


def test_columns_mixing_storage_classes_or_starting_with_nulls_are_read(run_cli, tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "t.db")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n DECIMAL(10,2), b BLOB, f DOUBLE)")
    rows = [
        (i, 1 if i < 1500 else 2.5, None if i < 1500 else b"x", None if i < 1500 else 0.5)
        for i in range(3000)
    ]  # ADBC types a column from its first rows: INT64 for n, nothing useful for b and f
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
    conn.commit()
    back = _back(run_cli, tmp_path).sort_by("id")
    assert back.num_rows == 3000
    assert back.column("n").to_pylist()[1499:1501] == [Decimal("1.00"), Decimal("2.50")]
    assert back.column("b").to_pylist()[1499:1501] == [None, b"x"]
    assert back.column("f").to_pylist()[1499:1501] == [None, 0.5]
