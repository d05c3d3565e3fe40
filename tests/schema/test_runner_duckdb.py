"""Schema runner on DuckDB: the shared cases plus DuckDB specifics."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.schema.helpers import Db, make_db, run, write_set
from tests.schema.runner_cases import *  # noqa: F403


@pytest.fixture
def db(tmp_path: Path) -> Db:
    return make_db("duckdb", tmp_path)


def test_duckdb_dollar_quoted_macro_body(db: Db, tmp_path: Path) -> None:
    migrations = write_set(
        tmp_path / "m",
        {
            "20240101_000000_macro": (
                "CREATE TABLE t (s TEXT);\n"
                "INSERT INTO t VALUES ($$semi;colon$$), ($tag$it's; fine$tag$);\n",
                "DROP TABLE t;\n",
            )
        },
    )
    run(db, migrations, "up")
    assert sorted(db.query("SELECT s FROM t")) == [("it's; fine",), ("semi;colon",)]


def test_status_does_not_create_duckdb_file(db: Db, tmp_path: Path) -> None:
    migrations = write_set(
        tmp_path / "m", {"20240101_000000_a": ("CREATE TABLE a (x INTEGER);", None)}
    )
    run(db, migrations, "status")
    assert not db.path.exists()
