"""Direction and plan rules through the real ``colmig`` command on PostgreSQL and MariaDB: an
explicit direction is never overridden by -version, and a plan that cannot run to its end is
refused before its first step."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, RunCli
from tests.schema_targets.helpers import PASSWORD, TABLE, rows, table_names

V = [
    "20240101_000000_one",
    "20240102_000000_two",
    "20240103_000000_three",
    "20240104_000000_four",
]


@pytest.fixture(
    params=[
        pytest.param("pg_url", id="postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb_url", id="mariadb", marks=pytest.mark.mariadb),
    ]
)
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    directory = tmp_path / "migrations"
    directory.mkdir()
    for i, version in enumerate(V, 1):
        (directory / f"{version}.up.sql").write_text(f"CREATE TABLE t{i} (n integer);\n")
        (directory / f"{version}.down.sql").write_text(f"DROP TABLE t{i};\n")
    return directory


def applied(url: str) -> list[str]:
    return [str(r[0]) for r in rows(url, f"SELECT version FROM {TABLE} ORDER BY version")]


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return str(result.stdout)


def error(result: subprocess.CompletedProcess, code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_explicit_direction_is_never_overridden(url: str, path: Path, run_cli: RunCli) -> None:
    ok(run_cli("-source", url, "-path", path, "-direction", "up", "-steps", "3"))
    line = error(run_cli("-source", url, "-path", path, "-direction", "up", "-version", V[0]), 2)
    assert "reaching it means going down" in line and f"colmig down -version {V[0]}" in line
    assert applied(url) == V[:3] and {"t2", "t3"} <= table_names(url)
    line = error(run_cli("-source", url, "-path", path, "-direction", "down", "-version", V[3]), 2)
    assert "reaching it means going up" in line and f"colmig up -version {V[3]}" in line
    assert applied(url) == V[:3] and "t4" not in table_names(url)
    ok(run_cli("-source", url, "-path", path, "-version", V[0]))  # no direction: either way
    assert applied(url) == V[:1]


def test_plan_that_cannot_finish_is_refused_before_its_first_step(
    url: str, path: Path, run_cli: RunCli
) -> None:
    ok(run_cli("-source", url, "-path", path, "-direction", "up"))
    (path / f"{V[1]}.down.sql").unlink()
    result = run_cli("-source", url, "-path", path, "-direction", "down", "-steps", "4")
    line = error(result, 2)
    assert f"{V[1]}.down.sql does not exist" in line and "nothing was run" in line
    assert "reverted" not in result.stdout
    line = error(run_cli("-source", url, "-path", path, "-direction", "down", "-steps", "99"), 2)
    assert "only 4 migrations are applied; nothing was reverted" in line
    assert applied(url) == V
    assert {"t1", "t2", "t3", "t4"} <= table_names(url)


@pytest.mark.mariadb
def test_connection_lost_mid_migration_exits_3_on_mariadb(mariadb_url: str, tmp_path: Path) -> None:
    version = "20240101_000000_slow"
    path = tmp_path / "migrations"
    path.mkdir()
    (path / f"{version}.up.sql").write_text("CREATE TABLE slow (n integer);\n\nSELECT SLEEP(60);\n")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "colmig", "-source", mariadb_url, "-path", str(path), "up"]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ids = rows(
                mariadb_url,
                "SELECT id FROM information_schema.processlist WHERE info = 'SELECT SLEEP(60)'",
            )
            if ids:
                rows(mariadb_url, f"KILL {int(ids[0][0])}")
                break
            time.sleep(0.2)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    line = error(subprocess.CompletedProcess(cmd, proc.returncode, out, err), 3)
    assert f"{version}.up.sql:3:" in line and f"{version} is now marked dirty" in line
    assert "slow" in table_names(mariadb_url)  # MySQL committed the DDL before the loss
    assert rows(mariadb_url, f"SELECT version, dirty FROM {TABLE}") == [(version, 1)]
