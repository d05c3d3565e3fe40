"""The spec's schema examples through the real ``colmig`` command against PostgreSQL and MariaDB.

``./migrate`` in the spec is ``colmig`` here; ``-path`` points at a copy of the repository's
TSIoT example set (or at a small set written by the test).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, RunCli
from tests.schema_targets.helpers import (
    PASSWORD,
    TABLE,
    column_names,
    rows,
    start_lock_holder,
    table_names,
)
from tests.schema_targets.test_targets import closed_port

EXAMPLES = REPO_ROOT / "migrations"
ALL = [
    "20240115_090000_create_sensor_data",
    "20240115_103000_add_indexes",
    "20240201_120000_add_privacy_fields",
    "20240301_080000_add_retention",
]
DATABASES = [
    pytest.param("pg_url", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb_url", id="mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(params=DATABASES)
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


def is_pg(url: str) -> bool:
    return url.startswith("postgres")


def versions(url: str) -> list[tuple[str, bool]]:
    return [
        (str(v), bool(d))
        for v, d in rows(url, f"SELECT version, dirty FROM {TABLE} ORDER BY version")
    ]


def clean(url: str) -> list[str]:
    got = versions(url)
    assert all(not dirty for _, dirty in got), got
    return [v for v, _ in got]


def examples(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(EXAMPLES, target)
    return target


def write_set(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


def no_password(result: subprocess.CompletedProcess) -> None:
    assert PASSWORD not in result.stdout and PASSWORD not in result.stderr


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    no_password(result)
    return result


# --- the spec's examples ------------------------------------------------------------------


def test_spec_schema_examples(url: str, run_cli: RunCli, tmp_path: Path) -> None:
    path = examples(tmp_path)
    # Run all pending migrations
    out = ok(run_cli("-source", url, "-path", path, "-direction", "up")).stdout
    assert clean(url) == ALL
    assert all(v in out for v in ALL)
    assert "sensor_data_public" in table_names(url)

    # Rollback last migration
    ok(run_cli("-source", url, "-path", path, "-direction", "down", "-steps", "1"))
    assert clean(url) == ALL[:3]
    routine = "sensor_data_purge"
    if is_pg(url):
        assert rows(url, f"SELECT COUNT(*) FROM pg_proc WHERE proname = '{routine}'") == [(0,)]
    else:
        assert rows(
            url,
            "SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = DATABASE()"
            f" AND routine_name = '{routine}'",
        ) == [(0,)]

    # Migrate to specific version (the spec's date_description form of the name)
    ok(run_cli("-source", url, "-path", path, "-version", "20240115_add_indexes"))
    assert clean(url) == ALL[:2]
    assert "owner_email" not in column_names(url, "sensor_data")
    assert "sensor_data_public" not in table_names(url)

    # Dry run: the plan and each file's SQL, nothing changed
    dry = ok(run_cli("-source", url, "-path", path, "-direction", "up", "-dry-run")).stdout
    assert ALL[2] in dry and ALL[3] in dry
    assert "ADD COLUMN owner_email" in dry
    assert clean(url) == ALL[:2]

    status = ok(run_cli("-source", url, "-path", path, "status")).stdout
    assert "pending" in status and "applied" in status and ALL[3] in status

    # -version goes forward as well, then everything back down with -version 0
    ok(run_cli("-source", url, "-path", path, "-version", ALL[3]))
    assert clean(url) == ALL
    assert column_names(url, "sensor_data")[-2:] == ["owner_email", "device_location"]
    ok(run_cli("-source", url, "-path", path, "-direction", "down", "-version", "0"))
    assert clean(url) == []
    assert table_names(url) == {TABLE, "colmig_audit"}


def test_down_without_steps_or_version_is_refused(
    url: str, run_cli: RunCli, tmp_path: Path
) -> None:
    path = examples(tmp_path)
    ok(run_cli("-source", url, "-path", path, "-direction", "up"))
    result = run_cli("-source", url, "-path", path, "-direction", "down")
    assert result.returncode == 2
    assert "-steps" in result.stderr
    assert clean(url) == ALL


def test_dry_run_on_a_fresh_database_creates_nothing(
    url: str, run_cli: RunCli, tmp_path: Path
) -> None:
    path = examples(tmp_path)
    out = ok(run_cli("-source", url, "-path", path, "-direction", "up", "-dry-run")).stdout
    assert all(v in out for v in ALL)
    assert "CREATE TABLE sensor_data" in out
    assert "nothing was changed" in out
    assert table_names(url) == set()


def test_audit_table_and_file(url: str, run_cli: RunCli, tmp_path: Path) -> None:
    path = examples(tmp_path)
    ok(run_cli("-source", url, "-path", path, "-direction", "up"))
    ok(run_cli("-source", url, "-path", path, "down", "1"))
    audit = rows(
        url,
        "SELECT operation, source, direction, from_version, to_version, versions, outcome,"
        " error FROM colmig_audit ORDER BY id",
    )
    assert len(audit) == 2
    up, down = audit
    assert up[0] == "up" and up[2] == "up" and up[4] == ALL[-1] and up[6] == "success"
    assert json.loads(up[5]) == ALL
    assert down[0] == "down" and down[3] == ALL[-1] and down[4] == ALL[-2]
    assert json.loads(down[5]) == [ALL[-1]]
    assert up[1] == url.replace(PASSWORD, "***")
    assert PASSWORD not in repr(rows(url, "SELECT * FROM colmig_audit"))
    lines = (tmp_path / ".colmig" / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert PASSWORD not in "".join(lines)


# --- failures -----------------------------------------------------------------------------


def failing_set(tmp_path: Path) -> Path:
    return write_set(
        tmp_path / "failing",
        {
            "20240101_000000_one.up.sql": "CREATE TABLE one_t (x INT);\n",
            "20240101_000000_one.down.sql": "DROP TABLE one_t;\n",
            "20240102_000000_two.up.sql": (
                "CREATE TABLE two_t (x INT);\n-- the next statement is broken\n"
                "CREATE TABLE broken (x INT;\n"
            ),
            "20240102_000000_two.down.sql": "DROP TABLE two_t;\n",
        },
    )


def test_failure_then_fix_then_force(url: str, run_cli: RunCli, tmp_path: Path) -> None:
    path = failing_set(tmp_path)
    result = run_cli("-source", url, "-path", path, "-direction", "up")
    assert result.returncode == 5, result.stderr
    no_password(result)
    assert "20240102_000000_two.up.sql:3" in result.stderr
    assert "Traceback" not in result.stderr
    if is_pg(url):
        # Transactional DDL: the failing file left nothing, the earlier one stays applied.
        assert clean(url) == ["20240101_000000_one"]
        assert "two_t" not in table_names(url)
        (path / "20240102_000000_two.up.sql").write_text("CREATE TABLE two_t (x INT);\n")
        ok(run_cli("-source", url, "-path", path, "-direction", "up"))
        assert clean(url) == ["20240101_000000_one", "20240102_000000_two"]
        return
    # MariaDB: DDL committed statement by statement; the version is dirty and blocks runs.
    assert versions(url) == [("20240101_000000_one", False), ("20240102_000000_two", True)]
    assert "two_t" in table_names(url)
    status = ok(run_cli("-source", url, "-path", path, "status")).stdout
    assert "dirty" in status
    again = run_cli("-source", url, "-path", path, "-direction", "up")
    assert again.returncode == 7
    assert "colmig force 20240102_000000_two" in again.stderr
    # The user finishes the migration by hand, fixes the file, and forces the version.
    (path / "20240102_000000_two.up.sql").write_text("CREATE TABLE two_t (x INT);\n")
    ok(run_cli("-source", url, "-path", path, "force", "20240102_000000_two"))
    assert clean(url) == ["20240101_000000_one", "20240102_000000_two"]
    ok(run_cli("-source", url, "-path", path, "down", "1"))
    assert clean(url) == ["20240101_000000_one"]
    assert "two_t" not in table_names(url)


def test_rollback_on_error(url: str, run_cli: RunCli, tmp_path: Path) -> None:
    path = write_set(
        tmp_path / "rollback",
        {
            "20240101_000000_one.up.sql": "CREATE TABLE one_t (x INT);\n",
            "20240101_000000_one.down.sql": "DROP TABLE one_t;\n",
            "20240102_000000_two.up.sql": "CREATE TABLE two_t (x INT);\n",
            "20240102_000000_two.down.sql": "DROP TABLE two_t;\n",
            # Fails on its first statement, so even MariaDB has nothing half-applied.
            "20240103_000000_three.up.sql": "CREATE TABLE broken (x INT;\n",
            "20240103_000000_three.down.sql": "SELECT 1;\n",
        },
    )
    result = run_cli("-source", url, "-path", path, "-direction", "up", "-rollback-on-error")
    assert result.returncode == 5, result.stdout + result.stderr
    no_password(result)
    combined = result.stdout + result.stderr
    assert "20240102_000000_two" in combined and "20240101_000000_one" in combined
    assert "rolled back" in combined or "undid" in combined
    assert not {"one_t", "two_t", "broken"} & table_names(url)
    if is_pg(url):
        assert versions(url) == []
    else:
        # The failing version cannot be rolled back on MariaDB: it stays recorded dirty,
        # and the message says so instead of claiming the schema is back where it started.
        assert versions(url) == [("20240103_000000_three", True)]
        assert "stays dirty" in result.stderr and "force" in result.stderr
        assert "back where this run started" not in combined


def test_changed_file_blocks_up_until_allowed(url: str, run_cli: RunCli, tmp_path: Path) -> None:
    path = examples(tmp_path)
    ok(run_cli("-source", url, "-path", path, "-version", ALL[1]))
    changed = path / f"{ALL[1]}.up.sql"
    changed.write_text(changed.read_text() + "\n-- edited after it was applied\n")
    result = run_cli("-source", url, "-path", path, "-direction", "up")
    assert result.returncode == 7
    assert ALL[1] in result.stderr
    assert clean(url) == ALL[:2]
    ok(run_cli("-source", url, "-path", path, "-direction", "up", "-allow-changed"))
    assert clean(url) == ALL


def test_unreachable_host_fails_fast(run_cli: RunCli, tmp_path: Path) -> None:
    path = examples(tmp_path)
    for scheme in ("postgres", "mysql"):
        url = f"{scheme}://colmig:{PASSWORD}@127.0.0.1:{closed_port()}/tsiot"
        started = time.monotonic()
        result = run_cli("-source", url, "-path", path, "-direction", "up")
        assert time.monotonic() - started < 15
        assert result.returncode == 3, result.stderr
        no_password(result)
        assert f"{scheme}://colmig:***@127.0.0.1" in result.stderr
        assert "Traceback" not in result.stderr


# --- concurrency --------------------------------------------------------------------------


def test_lock_timeout_through_the_cli(url: str, run_cli: RunCli, tmp_path: Path) -> None:
    path = examples(tmp_path)
    proc, release = start_lock_holder(url)
    try:
        result = run_cli("-source", url, "-path", path, "up", "-lock-timeout", "1")
    finally:
        release.set()
        proc.join(30)
    assert result.returncode == 7, result.stderr
    assert "another colmig run holds the migration lock" in result.stderr
    no_password(result)
    assert TABLE not in table_names(url) or versions(url) == []


def popen_cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", "colmig", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_runs_started_at_once_apply_each_migration_once(url: str, tmp_path: Path) -> None:
    sleep = "SELECT pg_sleep(0.5)" if is_pg(url) else "SELECT SLEEP(0.5)"
    files = {
        "20240101_000000_runs.up.sql": "CREATE TABLE runs (version VARCHAR(64));\n",
        "20240101_000000_runs.down.sql": "DROP TABLE runs;\n",
    }
    for n in range(2, 5):
        files[f"2024010{n}_000000_step{n}.up.sql"] = (
            f"{sleep};\nINSERT INTO runs VALUES ('step{n}');\n"
        )
        down = f"DELETE FROM runs WHERE version = 'step{n}';\n"
        files[f"2024010{n}_000000_step{n}.down.sql"] = down
    path = write_set(tmp_path / "concurrent", files)
    procs = [popen_cli("-source", url, "-path", str(path), "up", cwd=tmp_path) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out + err
        assert PASSWORD not in out + err
    assert sorted(r[0] for r in rows(url, "SELECT version FROM runs")) == [
        "step2",
        "step3",
        "step4",
    ]
    assert len(clean(url)) == 4
    applied_lines = [
        line for out, _ in outputs for line in out.splitlines() if line.startswith("applied ")
    ]
    assert len(applied_lines) == 4
