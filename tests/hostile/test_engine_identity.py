"""Job identity from canonical URLs: the same job spelled differently resumes (nothing is
written twice), different data never shares a job."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import RunCli
from tests.engine.helpers import read_dataset, write_csv_archive
from tests.servers import PostgresServer

SUMMARY = re.compile(r"partitions (\d+) done, (\d+) skipped by resume, (\d+) failed")


def _counts(stdout: str) -> tuple[int, int, int]:
    match = SUMMARY.search(stdout)
    assert match, stdout
    done, skipped, failed = (int(g) for g in match.groups())
    return done, skipped, failed


def _data(source: str, target: str, *extra: str) -> tuple[str, ...]:
    return ("-mode", "data", "-source", source, "-target", target, "-progress", "none", *extra)


def test_equivalent_file_spellings_resume_the_same_job(run_cli: RunCli, tmp_path: Path) -> None:
    source = write_csv_archive(tmp_path / "archive", files=3, rows_per_file=200)
    first = run_cli(*_data("file://./archive", "file://./out"))
    assert first.returncode == 0, first.stderr
    assert _counts(first.stdout) == (3, 0, 0)
    spellings = [
        (f"file://{tmp_path}/archive", f"{tmp_path}/out/"),
        (f"{tmp_path}/archive/", "./out/"),
        ("./sub/../archive", f"file://{tmp_path}/sub/../out"),
    ]
    (tmp_path / "sub").mkdir()
    for src, dst in spellings:
        again = run_cli(*_data(src, dst))
        assert again.returncode == 0, again.stderr
        assert _counts(again.stdout) == (0, 3, 0), f"{src} -> {dst}"
    assert read_dataset(tmp_path / "out").num_rows == source.num_rows

    # From another directory (sharing the state directory) it is still the same job; the
    # files reader names partitions by their paths as shown from the working directory, so
    # the plan differs: refused, never written twice.
    elsewhere = run_cli(
        *_data("../archive", "file://../out", "-state-dir", str(tmp_path / ".colmig")),
        cwd=tmp_path / "sub",
    )
    assert elsewhere.returncode == 2, elsewhere.stderr
    assert "plan changed" in elsewhere.stderr
    assert read_dataset(tmp_path / "out").num_rows == source.num_rows


def test_different_data_is_a_different_job(run_cli: RunCli, tmp_path: Path) -> None:
    write_csv_archive(tmp_path / "a", files=2, rows_per_file=100)
    write_csv_archive(tmp_path / "b", files=2, rows_per_file=100)
    assert run_cli(*_data("file://./a", "file://./out")).returncode == 0
    other_source = run_cli(*_data("file://./b", "file://./out"))
    assert other_source.returncode == 0, other_source.stderr
    assert _counts(other_source.stdout) == (2, 0, 0)
    other_format = run_cli(*_data("file://./a", "file://./out_csv", "-target-format", "csv"))
    assert _counts(other_format.stdout) == (2, 0, 0)
    assert len(list((tmp_path / "out").glob("*.parquet"))) == 4


def test_equivalent_postgres_spellings_resume(
    run_cli: RunCli, tmp_path: Path, pg_server: PostgresServer, pg_url: str
) -> None:
    write_csv_archive(tmp_path / "archive", files=3, rows_per_file=200)
    first = run_cli(*_data("file://./archive", pg_url, "-target-table", "readings"))
    assert first.returncode == 0, first.stderr
    # Same server, database and user: another scheme alias, the default port made explicit
    # or not, connection-only parameters, another password spelling is never part of it.
    user_and_rest = pg_url.split("://", 1)[1]
    respelled = (
        f"postgresql://{user_and_rest}?sslmode=disable&connect_timeout=7"
        "&application_name=nightly-etl"
    )
    again = run_cli(*_data(f"file://{tmp_path}/archive/", respelled, "-target-table", "readings"))
    assert again.returncode == 0, again.stderr
    assert _counts(again.stdout) == (0, 3, 0)
    database = pg_url.rsplit("/", 1)[1]
    assert pg_server.admin_sql("SELECT count(*) FROM readings", database=database).strip() == "600"
