"""``-- colmig:no-transaction`` files through the real command line on SQLite: statements that
cannot run inside a transaction (VACUUM) run, and a failure part-way leaves the version dirty."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.schema.helpers import Db, write_set

BASE = "20240101_000000_base"
TUNE = "20240102_000000_vacuum"


@pytest.fixture
def db(tmp_path: Path) -> Db:
    return Db("sqlite", "sqlite://db.sqlite", tmp_path / "db.sqlite")  # cwd = tmp_path


def run(run_cli: RunCli, db: Db, *args: str) -> subprocess.CompletedProcess:
    return run_cli("-source", db.url, "-path", "migrations", *args)


def last_error(result: subprocess.CompletedProcess, code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def dirty_rows(db: Db) -> list[tuple[str, int]]:
    return db.query("SELECT version, dirty FROM colmig_schema_migrations ORDER BY version")


def test_vacuum_needs_and_gets_a_no_transaction_file(
    db: Db, tmp_path: Path, run_cli: RunCli
) -> None:
    migrations = write_set(
        tmp_path / "migrations",
        {BASE: ("CREATE TABLE t (n INTEGER);\nINSERT INTO t VALUES (1);\n", None)},
    )
    assert run(run_cli, db, "up").returncode == 0
    (migrations / f"{TUNE}.up.sql").write_text("DELETE FROM t;\nVACUUM;\n")
    line = last_error(run(run_cli, db, "up"), 5)
    assert f"{TUNE}.up.sql:2:" in line and "rolled back" in line
    assert db.query("SELECT count(*) FROM t") == [(1,)]

    (migrations / f"{TUNE}.up.sql").write_text(
        "-- colmig:no-transaction\nDELETE FROM t;\nVACUUM;\n"
    )
    result = run(run_cli, db, "up")
    assert result.returncode == 0, result.stderr
    assert f"applied {TUNE}" in result.stdout
    assert db.query("SELECT count(*) FROM t") == [(0,)]
    assert dirty_rows(db) == [(BASE, 0), (TUNE, 0)]


def test_failure_in_a_no_transaction_file_leaves_it_dirty(
    db: Db, tmp_path: Path, run_cli: RunCli
) -> None:
    write_set(
        tmp_path / "migrations",
        {
            BASE: ("CREATE TABLE t (n INTEGER);\n", None),
            TUNE: ("-- colmig:no-transaction\nINSERT INTO t VALUES (7);\nVACUUM nowhere;\n", None),
        },
    )
    line = last_error(run(run_cli, db, "up"), 5)
    assert f"{TUNE}.up.sql:3:" in line and f"{TUNE} is now marked dirty" in line
    assert f"colmig force {BASE}" in line
    assert dirty_rows(db) == [(BASE, 0), (TUNE, 1)]
    assert db.query("SELECT n FROM t") == [(7,)]  # the statement before the failure stays
    line = last_error(run(run_cli, db, "up"), 7)
    assert f"database is dirty at version {TUNE}" in line


def test_rollback_on_error_says_a_failed_no_transaction_file_stays_dirty(
    db: Db, tmp_path: Path, run_cli: RunCli
) -> None:
    write_set(
        tmp_path / "migrations",
        {
            BASE: ("CREATE TABLE t (n INTEGER);\n", "DROP TABLE t;\n"),
            TUNE: (
                "-- colmig:no-transaction\nCREATE TABLE kept (n INTEGER);\nVACUUM nowhere;\n",
                "DROP TABLE kept;\n",
            ),
        },
    )
    result = run(run_cli, db, "up", "-rollback-on-error")
    line = last_error(result, 5)
    assert f"rolled back {BASE}" in result.stdout
    assert f"-rollback-on-error undid {BASE}, but {TUNE} stays dirty" in line
    assert "the schema is back where this run started" not in line
    assert dirty_rows(db) == [(TUNE, 1)]
    assert "kept" in db.tables() and "t" not in db.tables()
