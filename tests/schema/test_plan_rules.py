"""Direction and plan rules through the real command line on SQLite: an explicit direction is
never overridden, a plan is checked whole before its first step, oversized -steps are refused,
and what ``down -steps 1`` reverts after an out-of-order migration."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.schema.helpers import BASE_SET, Db, write_set

V1, V2, V3 = BASE_SET
V4 = "20240120_000000_add_zones"
FOUR = {**BASE_SET, V4: ("CREATE TABLE zones (id INTEGER);\n", "DROP TABLE zones;\n")}


@pytest.fixture
def db(tmp_path: Path) -> Db:
    return Db("sqlite", "sqlite://db.sqlite", tmp_path / "db.sqlite")  # cwd = tmp_path


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    return write_set(tmp_path / "migrations", FOUR)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return str(result.stdout)


def error(result: subprocess.CompletedProcess, code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("colmig: error: "), result.stderr
    return lines[-1]


def test_explicit_up_never_runs_a_down_file(db: Db, migrations: Path, run_cli: RunCli) -> None:
    ok(run_cli("-source", db.url, "-direction", "up", "-steps", "3"))
    assert db.applied() == [V1, V2, V3]
    for args in (("-direction", "up"), ("up",)):
        line = error(run_cli("-source", db.url, *args, "-version", V1), 2)
        assert f"{V1} is older than the current version {V3}" in line
        assert f"colmig down -version {V1}" in line, line
    # the same request through the environment and the config file is explicit too
    error(run_cli("-source", db.url, "-version", V1, env={"COLMIG_DIRECTION": "up"}), 2)
    config = db.path.parent / "colmig.yaml"
    config.write_text("direction: up\n")
    error(run_cli("-source", db.url, "-version", V1, "-config", str(config)), 2)
    assert db.applied() == [V1, V2, V3]
    assert {"readings", "privacy"} <= db.tables()
    # -version without a direction may move either way (the spec's example)
    out = ok(run_cli("-source", db.url, "-version", V1))
    assert f"reverted {V3}" in out and f"reverted {V2}" in out
    assert db.applied() == [V1]


def test_explicit_down_never_runs_an_up_file(db: Db, migrations: Path, run_cli: RunCli) -> None:
    ok(run_cli("-source", db.url, "-direction", "up", "-steps", "1"))
    for args in (("-direction", "down"), ("down",)):
        line = error(run_cli("-source", db.url, *args, "-version", V4), 2)
        assert f"cannot go down to {V4}: it is newer than the current version {V1}" in line
        assert f"colmig up -version {V4}" in line
    line = error(run_cli("down", "1", "-source", db.url, "-direction", "up"), 2)
    assert "colmig down contradicts -direction up" in line
    line = error(run_cli("goto", V4, "-source", db.url, "-direction", "down"), 2)
    assert "colmig down -version VERSION" in line
    assert db.applied() == [V1]
    ok(run_cli("-source", db.url, "-version", V4))
    assert db.applied() == [V1, V2, V3, V4]


def test_plan_with_a_missing_down_file_is_refused_before_the_first_step(
    db: Db, migrations: Path, run_cli: RunCli
) -> None:
    ok(run_cli("-source", db.url, "-direction", "up"))
    (migrations / f"{V2}.down.sql").unlink()
    (migrations / f"{V1}.down.sql").unlink()
    result = run_cli("-source", db.url, "-direction", "down", "-steps", "4")
    line = error(result, 2)
    assert f"{V2}.down.sql does not exist" in line and f"{V1}.down.sql does not exist" in line
    assert "nothing was run" in line
    assert "reverted" not in result.stdout
    assert db.applied() == [V1, V2, V3, V4]
    assert "zones" in db.tables()
    audit = [json.loads(x) for x in (db.path.parent / ".colmig/audit.jsonl").open()]
    assert audit[-1]["outcome"] == "failed" and audit[-1]["versions"] == []
    # the steps that can run still run when asked for alone
    ok(run_cli("-source", db.url, "-direction", "down", "-steps", "2"))
    assert db.applied() == [V1, V2]


def test_down_steps_beyond_the_applied_count_is_refused(
    db: Db, migrations: Path, run_cli: RunCli
) -> None:
    ok(run_cli("-source", db.url, "-direction", "up"))
    line = error(run_cli("-source", db.url, "-direction", "down", "-steps", "99"), 2)
    assert "down -steps 99: only 4 migrations are applied; nothing was reverted" in line
    assert "-version 0" in line
    assert db.applied() == [V1, V2, V3, V4]
    ok(run_cli("down", "4", "-source", db.url))  # exactly the applied count is fine
    assert db.applied() == []
    # up -steps beyond the pending count applies what there is
    out = ok(run_cli("-source", db.url, "-direction", "up", "-steps", "99"))
    assert "4 migrations applied" in out


def test_unreadable_pending_file_is_refused_before_the_first_step(
    db: Db, migrations: Path, run_cli: RunCli
) -> None:
    (migrations / f"{V3}.up.sql").write_bytes(b"CREATE TABLE x (n TEXT DEFAULT '\xff');\n")
    result = run_cli("-source", db.url, "-direction", "up")
    line = error(result, 2)
    assert f"{V3}.up.sql: not UTF-8 text" in line and "nothing was run" in line
    assert "applied" not in result.stdout
    assert db.applied() == []


def test_down_steps_1_after_an_out_of_order_migration_reverts_the_highest_version(
    db: Db, tmp_path: Path, run_cli: RunCli
) -> None:
    migrations = write_set(tmp_path / "migrations", {k: v for k, v in FOUR.items() if k != V2})
    ok(run_cli("-source", db.url, "-direction", "up"))
    write_set(migrations, {V2: FOUR[V2]})  # a merged branch brings an older migration
    result = run_cli("-source", db.url, "-direction", "up")
    assert f"applying {V2} out of order" in ok(result) + result.stderr
    out = ok(run_cli("-source", db.url, "-direction", "down", "-steps", "1"))
    # the highest version goes, not the one applied most recently
    assert f"reverted {V4}" in out
    assert db.applied() == [V1, V2, V3]


def test_rollback_on_error_checks_the_files_that_would_undo_the_run(
    db: Db, migrations: Path, run_cli: RunCli
) -> None:
    (migrations / f"{V2}.down.sql").write_bytes(b"DROP INDEX \xff;\n")
    result = run_cli("-source", db.url, "-direction", "up", "-rollback-on-error")
    line = error(result, 2)
    assert f"{V2}.down.sql: not UTF-8 text" in line and "nothing was run" in line
    assert db.applied() == []
    ok(run_cli("-source", db.url, "-direction", "up"))  # without it, the down file is not needed
    assert db.applied() == [V1, V2, V3, V4]
