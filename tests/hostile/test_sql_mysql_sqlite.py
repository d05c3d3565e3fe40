"""Issue 8 on MySQL/MariaDB and SQLite, from the user's side: hostile catalog names, errors by
errno (wrong password exits 3 like PostgreSQL), resume that checks the target, and upsert into
a table without a unique key."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pymysql
import pytest

from colmig.urls import parse

#: Each name tries to end the identifier or a string literal around it and run more SQL; a
#: dot must stay part of the name and a % must not reach pymysql's %-formatting.
HOSTILE_TABLES = [
    "h1`; DROP TABLE canary; --",
    "h2'); DROP TABLE canary; --",
    'h3"; DROP TABLE canary; --\\',
    "h4.dot ünï ✓",
    "h5%s%%",
]
HOSTILE_COLUMNS = ["id", "v'`\"; --", "w.x%s"]
ROWS = [(1, "a'b", "c\\d"), (2, "ünï ✓", "%s"), (3, None, "`")]


def mysql_conn(url: str) -> Any:
    u = parse(url)
    return pymysql.connect(
        host=u.host,
        port=u.port,
        user=u.username,
        password=u.password,
        database=u.database,
        autocommit=True,
        charset="utf8mb4",
    )


def mysql_rows(url: str, sql: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
    conn = mysql_conn(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def bq(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def dq(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _seed_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE canary (x INTEGER)")
    conn.execute("INSERT INTO canary VALUES (1)")
    for table in HOSTILE_TABLES:
        cols = ", ".join(
            f"{dq(c)} {'INTEGER PRIMARY KEY' if c == 'id' else 'TEXT'}" for c in HOSTILE_COLUMNS
        )
        conn.execute(f"CREATE TABLE {dq(table)} ({cols})")
        conn.executemany(f"INSERT INTO {dq(table)} VALUES (?, ?, ?)", ROWS)
    conn.commit()
    conn.close()


@pytest.mark.slow
def test_hostile_names_move_sqlite_to_mariadb_and_back(run_cli, mariadb_url: str, tmp_path: Path):
    source = tmp_path / "src.db"
    _seed_sqlite(source)
    mysql_rows(mariadb_url, "CREATE TABLE canary (x INT)")
    there = run_cli(
        "-mode", "data", "-source", f"sqlite://{source}", "-target", mariadb_url, "-table", "h*",
        "-validate",
    )  # fmt: skip
    assert there.returncode == 0, there.stderr
    for table in HOSTILE_TABLES:
        got = mysql_rows(mariadb_url, f"SELECT * FROM {bq(table)} ORDER BY 1")
        assert got == ROWS, table
        names = mysql_rows(
            mariadb_url,
            "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE()"
            " AND table_name = %s ORDER BY 1",
            (table,),
        )
        assert sorted(n[0] for n in names) == sorted(HOSTILE_COLUMNS), table
    assert mysql_rows(mariadb_url, "SELECT x FROM canary") == []  # still there, untouched

    back = tmp_path / "back.db"
    again = run_cli(
        "-mode", "data", "-source", mariadb_url, "-target", f"sqlite://{back}", "-table", "h*",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    conn = sqlite3.connect(back)
    for table in HOSTILE_TABLES:
        assert conn.execute(f"SELECT * FROM {dq(table)} ORDER BY 1").fetchall() == ROWS, table
    conn.close()
    assert sqlite3.connect(source).execute("SELECT x FROM canary").fetchall() == [(1,)]


def _wrong_password(url: str) -> str:
    u = parse(url)
    return f"mysql://{u.username}:not-the-Pa55word@{u.host}:{u.port}/{u.database}"


@pytest.mark.mariadb
def test_mysql_wrong_password_exits_3_and_refused_rows_exit_5(
    run_cli, mariadb_url: str, tmp_path: Path
):
    bad = _wrong_password(mariadb_url)
    (tmp_path / "a.csv").write_text("id\n1\n")
    as_source = run_cli("-mode", "data", "-source", bad, "-table", "t", "-target", "file://out")
    as_target = run_cli("-mode", "data", "-source", "file://a.csv", "-target", bad, "-table", "t")
    for result in (as_source, as_target):
        assert result.returncode == 3, result.stderr
        assert "not-the-Pa55word" not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    mysql_rows(mariadb_url, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(3) NOT NULL)")
    mysql_rows(mariadb_url, "INSERT INTO t VALUES (1, 'x')")
    (tmp_path / "b.csv").write_text("id,v\n1,y\n")
    refused = run_cli(
        "-mode", "data", "-source", "file://b.csv", "-target", mariadb_url, "-table", "t"
    )
    assert refused.returncode == 5, refused.stderr
    assert mysql_rows(mariadb_url, "SELECT * FROM t") == [(1, "x")]


def test_mysql_errors_are_classified_by_errno_not_text():
    from colmig.backends.mysql.errors import error_class
    from colmig.errors import ConnectionFailedError, TargetError, TransientError

    err = pymysql.err
    # Messages say the opposite of the errno: only the errno may decide.
    assert error_class(err.OperationalError(1045, "Lost connection to server")) is (
        ConnectionFailedError
    )
    for code in (2003, 2006, 2013):
        assert error_class(err.OperationalError(code, "Access denied")) is TransientError
    for code in (1062, 1264, 1366):
        assert error_class(err.IntegrityError(code, "server has gone away")) is TargetError
    assert error_class(err.DataError(1264, "connection refused")) is TargetError


# --- resume checks the target -------------------------------------------------------------


def _csv(tmp_path: Path, rows: int = 10) -> str:
    (tmp_path / "in").mkdir(exist_ok=True)
    (tmp_path / "in" / "a.csv").write_text(
        "id,v\n" + "".join(f"{i},{i * 10}\n" for i in range(rows))
    )
    return "file://./in"


def test_sqlite_resume_after_the_table_was_dropped_rewrites(run_cli, tmp_path: Path):
    db = tmp_path / "t.db"
    args = ["-mode", "data", "-source", _csv(tmp_path), "-target", f"sqlite://{db}", "-table", "t"]
    assert run_cli(*args).returncode == 0
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE t")
    conn.commit()
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "writing its partitions again" in again.stderr
    assert conn.execute("SELECT COUNT(*), SUM(v) FROM t").fetchall() == [(10, 450)]
    conn.execute("DELETE FROM t WHERE id < 3")
    conn.commit()
    third = run_cli(*args)
    assert third.returncode == 5, third.stderr
    assert "holds 7 rows" in third.stderr and "records 10 rows" in third.stderr
    assert "-fresh" in third.stderr


@pytest.mark.mariadb
def test_mariadb_resume_after_the_table_was_dropped_rewrites(
    run_cli, mariadb_url: str, tmp_path: Path
):
    args = ["-mode", "data", "-source", _csv(tmp_path), "-target", mariadb_url, "-table", "t"]
    assert run_cli(*args).returncode == 0
    mysql_rows(mariadb_url, "DROP TABLE t")
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "skipped by resume" not in again.stdout or "0 skipped" in again.stdout
    assert mysql_rows(mariadb_url, "SELECT COUNT(*), SUM(v) FROM t") == [(10, 450)]


# --- upsert without a unique key ----------------------------------------------------------


def _upsert_input(tmp_path: Path) -> str:
    (tmp_path / "up.csv").write_text("id,v\n1,new\n3,new\n")
    return "file://up.csv"


def test_sqlite_upsert_into_a_table_without_unique_key(run_cli, tmp_path: Path):
    db = tmp_path / "t.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE ev (id INTEGER, v TEXT)")
    conn.executemany("INSERT INTO ev VALUES (?, ?)", [(1, "old"), (2, "old")])
    conn.commit()
    args = ["-mode", "data", "-source", _upsert_input(tmp_path), "-target", f"sqlite://{db}"]
    for _ in range(2):  # a second, fresh run upserts the same rows again: still no duplicates
        result = run_cli(*args, "-table", "ev", "-write-mode", "upsert", "-key", "id", "-fresh")
        assert result.returncode == 0, result.stderr
    got = conn.execute("SELECT id, v FROM ev ORDER BY id").fetchall()
    assert got == [(1, "new"), (2, "old"), (3, "new")]
    created = run_cli(*args, "-table", "fresh", "-write-mode", "upsert", "-key", "id")
    assert created.returncode == 0, created.stderr
    pk = conn.execute("SELECT name FROM pragma_table_info('fresh') WHERE pk > 0").fetchall()
    assert pk == [("id",)]


@pytest.mark.mariadb
def test_mariadb_upsert_into_a_table_without_unique_key(run_cli, mariadb_url: str, tmp_path: Path):
    mysql_rows(mariadb_url, "CREATE TABLE ev (id BIGINT, v VARCHAR(10))")
    mysql_rows(mariadb_url, "INSERT INTO ev VALUES (1, 'old'), (2, 'old')")
    args = ["-mode", "data", "-source", _upsert_input(tmp_path), "-target", mariadb_url]
    for _ in range(2):
        result = run_cli(*args, "-table", "ev", "-write-mode", "upsert", "-key", "id", "-fresh")
        assert result.returncode == 0, result.stderr
    got = mysql_rows(mariadb_url, "SELECT id, v FROM ev ORDER BY id")
    assert got == [(1, "new"), (2, "old"), (3, "new")]
    created = run_cli(*args, "-table", "fresh", "-write-mode", "upsert", "-key", "id")
    assert created.returncode == 0, created.stderr
    keys = mysql_rows(
        mariadb_url,
        "SELECT column_name FROM information_schema.statistics WHERE table_schema = DATABASE()"
        " AND table_name = 'fresh' AND index_name = 'PRIMARY'",
    )
    assert keys == [("id",)]


def test_mysql_refused_connect_is_retryable_and_wrong_login_is_not(mariadb_url: str):
    import socket

    from colmig.backends.base import JobInfo
    from colmig.config import Settings
    from colmig.errors import ConnectionFailedError, TransientError
    from colmig.registry import open_writer
    from tests.databases.helpers import series_table

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    job = JobInfo("j", "r", "file://x")
    schema = series_table(1).schema
    down = f"mysql://u:Secr3tPw@127.0.0.1:{port}/db"
    with pytest.raises(TransientError) as info:  # a restarting server: the engine retries
        open_writer(down, Settings(table="t")).prepare(schema, job, False)
    assert "Secr3tPw" not in str(info.value)
    with pytest.raises(ConnectionFailedError) as refused:
        open_writer(_wrong_password(mariadb_url), Settings(table="t")).prepare(schema, job, False)
    assert not isinstance(refused.value, TransientError)
