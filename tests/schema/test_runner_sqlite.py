"""Schema runner on SQLite (stdlib sqlite3): the shared cases plus SQLite specifics."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.schema.helpers import Db, make_db, run, write_set
from tests.schema.runner_cases import *  # noqa: F403


@pytest.fixture
def db(tmp_path: Path) -> Db:
    return make_db("sqlite", tmp_path)


def test_sqlite_trigger_with_semicolons(db: Db, tmp_path: Path) -> None:
    migrations = write_set(
        tmp_path / "m",
        {
            "20240101_000000_trigger": (
                "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, changed INTEGER DEFAULT 0);\n"
                "CREATE TRIGGER t_upd AFTER UPDATE OF n ON t\nBEGIN\n"
                "  UPDATE t SET changed = CASE WHEN new.n > 0 THEN 1 ELSE 0 END"
                " WHERE id = new.id;\nEND;\n"
                "INSERT INTO t (id, n) VALUES (1, 0);\nUPDATE t SET n = 5 WHERE id = 1;\n",
                "DROP TABLE t;\n",
            )
        },
    )
    run(db, migrations, "up")
    assert db.query("SELECT changed FROM t") == [(1,)]


def test_sqlite_relative_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    migrations = write_set(
        tmp_path / "migrations", {"20240101_000000_a": ("CREATE TABLE a (x INTEGER);", None)}
    )
    db = Db("sqlite", "sqlite://sub/rel.db", tmp_path / "sub" / "rel.db")
    run(db, migrations, "up")
    assert db.applied() == ["20240101_000000_a"]
