"""-validate after a successful load never turns committed rows into a failure: a float16
column and decimal sums past 38 digits are checked (or named as not checked), the summary
states what is committed, and files -> SQLite validates instead of exiting 6."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

NINES = "9" * 38


def _targets(tmp_path: Path) -> dict[str, str]:
    return {
        "parquet": "file://./out",
        "duckdb": f"duckdb://{tmp_path / 't.duckdb'}",
        "sqlite": f"sqlite://{tmp_path / 't.db'}",
    }


def _rows_in(kind: str, tmp_path: Path, table: str) -> int:
    if kind == "parquet":
        return ds.dataset(tmp_path / "out", format="parquet").count_rows()
    if kind == "duckdb":
        with duckdb.connect(str(tmp_path / "t.duckdb")) as con:
            return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
    with sqlite3.connect(tmp_path / "t.db") as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[no-any-return]


def _load(run_cli, tmp_path: Path, name: str, target: str):  # type: ignore[no-untyped-def]
    return run_cli(
        "-mode", "data", "-source", f"file://./{name}.parquet", "-target", target,
        "-validate", "-progress", "none", cwd=tmp_path,
    )  # fmt: skip


@pytest.mark.parametrize("target", ["parquet", "duckdb", "sqlite"])
def test_float16_column_validates(run_cli, tmp_path: Path, target: str) -> None:  # type: ignore[no-untyped-def]
    values = np.array([1.5, -2.0, 0.0009765625, 65504.0], np.float16)
    pq.write_table(pa.table({"h": pa.array(values), "id": [1, 2, 3, 4]}), tmp_path / "half.parquet")
    result = _load(run_cli, tmp_path, "half", _targets(tmp_path)[target])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 rows written" in result.stdout and "1 done" in result.stdout
    assert ": OK" in result.stdout
    assert _rows_in(target, tmp_path, "half") == 4


@pytest.mark.parametrize("target", ["parquet", "duckdb", "sqlite"])
def test_decimal_sum_beyond_38_digits_validates(run_cli, tmp_path: Path, target: str) -> None:  # type: ignore[no-untyped-def]
    column = pa.array([NINES, NINES, NINES, None]).cast(pa.decimal128(38, 0))
    pq.write_table(pa.table({"d": column}), tmp_path / "big.parquet")
    result = _load(run_cli, tmp_path, "big", _targets(tmp_path)[target])
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "4 rows written" in result.stdout and "0 failed" in result.stdout
    assert "Traceback" not in out and "unexpected" not in out
    assert ": OK" in result.stdout
    assert _rows_in(target, tmp_path, "big") == 4
    if "not checked" in result.stdout:
        # A target that cannot sum the column says so, naming it.
        assert "not checked: d (" in result.stdout


def test_a_changed_decimal_digit_past_28_digits_is_caught() -> None:
    from colmig.engine.checksums import compare, table_stats

    base = pa.table({"d": pa.array([NINES, NINES, "1"]).cast(pa.decimal128(38, 0))})
    changed = pa.table({"d": pa.array([NINES, NINES, "2"]).cast(pa.decimal128(38, 0))})
    a, b = table_stats([base], base.schema), table_stats([changed], changed.schema)
    assert a["d"].checksum == str(2 * int(NINES) + 1)
    assert [m.column for m in compare("p", 3, a, 3, b)] == ["d"]


def test_files_to_sqlite_validates(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "r.csv").write_text("id,name\n1,a\n2,b\n3,\n")
    result = run_cli(
        "-mode", "data", "-source", "file://./r.csv", "-target", f"sqlite://{tmp_path / 't.db'}",
        "-validate", "-progress", "none", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 rows written" in result.stdout
    assert "DuckDB read_csv (3 rows)" in result.stdout and ": OK" in result.stdout


def test_a_column_without_a_checksum_is_named_as_not_checked(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = pa.table({"id": [1, 2], "took": pa.array([5, None], pa.duration("us"))})
    pq.write_table(table, tmp_path / "dur.parquet")
    result = _load(run_cli, tmp_path, "dur", "file://./out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not checked: took (no checksum for duration[us])" in result.stdout
    assert "column took not checked" in result.stderr
