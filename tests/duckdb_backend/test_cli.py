"""The DuckDB backend through the real CLI and engine: files -> DuckDB -> DuckDB, resume, errors."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.csv as pacsv

from tests.conftest import RunCli
from tests.databases.helpers import series_table


def make_csvs(root: Path, files: int = 4, rows: int = 2_000) -> None:
    (root / "data").mkdir()
    for index in range(files):
        pacsv.write_csv(series_table(rows, start=index * rows), root / "data" / f"p{index}.csv")


def count(path: Path, table: str) -> tuple[int, int]:
    with duckdb.connect(str(path), read_only=True) as conn:
        row = conn.execute(f"SELECT COUNT(*), COUNT(DISTINCT id) FROM {table}").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_files_to_duckdb_to_duckdb_with_validation_and_resume(
    run_cli: RunCli, tmp_path: Path
) -> None:
    make_csvs(tmp_path)
    args = ["-mode", "data", "-source", "file://./data", "-target", "duckdb://out/iot.duckdb"]
    first = run_cli(*args, "-table", "readings", "-workers", "2", "-validate")
    assert first.returncode == 0, first.stderr
    assert count(tmp_path / "out" / "iot.duckdb", "readings") == (8_000, 8_000)
    again = run_cli(*args, "-table", "readings", "-workers", "2", "-validate")
    assert again.returncode == 0, again.stderr
    assert count(tmp_path / "out" / "iot.duckdb", "readings") == (8_000, 8_000)
    copy = run_cli(
        "-mode", "data", "-source", "duckdb://out/iot.duckdb",
        "-target", f"duckdb://{tmp_path}/copy.duckdb", "-source-table", "readings",
        "-target-table", "copied", "-partition-on", "ts", "-partition-window", "1d",
        "-workers", "2", "-validate",
    )  # fmt: skip
    assert copy.returncode == 0, copy.stderr
    assert count(tmp_path / "copy.duckdb", "copied") == (8_000, 8_000)


def test_missing_table_is_one_line_naming_the_file(run_cli: RunCli, tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "src.duckdb")) as conn:
        conn.execute("CREATE TABLE present AS SELECT 1 AS id")
    result = run_cli(
        "-mode", "data", "-source", "duckdb://src.duckdb", "-target", "file://./out/",
        "-table", "absent",
    )  # fmt: skip
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "duckdb://src.duckdb" in errors[0] and "absent" in errors[0]
    assert "Traceback" not in result.stderr
