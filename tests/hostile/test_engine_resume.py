"""Resume checks the target: partitions the run ledger calls committed but the target lost
are written again and said so, with truthful summary counts; never a silent no-op."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.conftest import RunCli
from tests.engine.helpers import read_dataset, write_csv_archive
from tests.servers import PostgresServer

SUMMARY = re.compile(r"partitions (\d+) done, (\d+) skipped by resume, (\d+) failed")


def _data(target: str, *extra: str) -> tuple[str, ...]:
    return ("-mode", "data", "-source", "file://./archive", "-target", target,
            "-progress", "none", *extra)  # fmt: skip


def test_dropped_postgres_table_is_written_again(
    run_cli: RunCli, tmp_path: Path, pg_server: PostgresServer, pg_url: str
) -> None:
    write_csv_archive(tmp_path / "archive", files=3, rows_per_file=200)
    first = run_cli(*_data(pg_url, "-target-table", "readings"))
    assert first.returncode == 0, first.stderr
    database = pg_url.rsplit("/", 1)[1]
    pg_server.admin_sql("DROP TABLE readings", database=database)

    again = run_cli(*_data(pg_url, "-target-table", "readings"))
    assert again.returncode == 0, again.stderr
    match = SUMMARY.search(again.stdout)
    assert match and match.groups() == ("3", "0", "0"), again.stdout
    assert "writing them again" in again.stderr
    assert "600 rows written" in again.stdout
    assert pg_server.admin_sql("SELECT count(*) FROM readings", database=database).strip() == "600"


def test_deleted_output_files_are_written_again_and_counted(
    run_cli: RunCli, tmp_path: Path
) -> None:
    source = write_csv_archive(tmp_path / "archive", files=3, rows_per_file=200)
    assert run_cli(*_data("file://./out")).returncode == 0
    victim = sorted((tmp_path / "out").glob("*.parquet"))[0]
    victim.unlink()
    again = run_cli(*_data("file://./out"))
    assert again.returncode == 0, again.stderr
    match = SUMMARY.search(again.stdout)
    assert match and match.groups() == ("1", "2", "0"), again.stdout
    assert "1 partition(s) committed by an earlier run lost their output files" in again.stderr
    assert read_dataset(tmp_path / "out").num_rows == source.num_rows
    shutil.rmtree(tmp_path / "out")
    whole = run_cli(*_data("file://./out"))
    assert whole.returncode == 0, whole.stderr
    assert SUMMARY.search(whole.stdout).groups() == ("3", "0", "0")  # type: ignore[union-attr]
    assert read_dataset(tmp_path / "out").num_rows == source.num_rows
