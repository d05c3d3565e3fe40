"""The spec's schema examples through the real command line (``colmig`` for ``./migrate``) on
SQLite and DuckDB, including every failure path a user meets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, RunCli
from tests.schema.helpers import BASE_SET, Db, write_set

V1, V2, V3 = BASE_SET
SECRET = "hunter2-s3cret"


@pytest.fixture(params=["sqlite", "duckdb"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Db:
    kind = request.param
    name = "db.sqlite" if kind == "sqlite" else "db.duckdb"
    return Db(kind, f"{kind}://{name}", tmp_path / name)  # relative URL, cwd = tmp_path


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    return write_set(tmp_path / "migrations", BASE_SET)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return str(result.stdout)


def one_line_error(result: subprocess.CompletedProcess, code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("colmig: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_spec_examples(db: Db, tmp_path: Path, run_cli: RunCli) -> None:
    out = ok(run_cli("create", "add_privacy_fields"))  # needs no -source
    created = [Path(line.removeprefix("created ")) for line in out.splitlines()]
    assert [p.name[16:] for p in created] == [
        "add_privacy_fields.up.sql",
        "add_privacy_fields.down.sql",
    ]
    assert all((tmp_path / p).is_file() and (tmp_path / p).read_text() == "" for p in created)
    for p in created:
        (tmp_path / p).unlink()
    write_set(tmp_path / "migrations", BASE_SET)

    out = ok(run_cli("-source", db.url, "-direction", "up", "-dry-run"))
    assert "dry run: nothing was changed" in out and not db.path.exists()

    out = ok(run_cli("-source", db.url, "-path", "migrations", "-direction", "up"))
    assert f"applied {V1} (" in out and "3 migrations applied" in out
    assert db.applied() == [V1, V2, V3]

    out = ok(run_cli("-source", db.url, "-direction", "down", "-steps", "1"))
    assert f"reverted {V3} (" in out
    out = ok(run_cli("-source", db.url, "-direction", "down", "-steps", "1"))
    assert db.applied() == [V1]

    out = ok(run_cli("-source", db.url, "-version", "20240115_add_indexes"))
    assert f"applied {V2} (" in out and db.applied() == [V1, V2]

    out = ok(run_cli("status", "-source", db.url))
    assert "2 applied, 1 pending" in out and f"current version: {V2}" in out
    assert ok(run_cli("version", "--source", db.url)).strip() == V2
    ok(run_cli("up", "--source", db.url))
    ok(run_cli("goto", V1[:15], "-source", db.url))
    assert db.applied() == [V1]


def test_down_needs_steps_or_version(db: Db, migrations: Path, run_cli: RunCli) -> None:
    ok(run_cli("-source", db.url, "-direction", "up"))
    line = one_line_error(run_cli("-source", db.url, "-direction", "down"), 2)
    assert "needs -steps N" in line
    one_line_error(run_cli("down", "-source", db.url), 2)
    assert db.applied() == [V1, V2, V3]
    ok(run_cli("down", "-version", "0", "-source", db.url))
    assert db.applied() == []


def test_missing_source_and_unknown_version(db: Db, migrations: Path, run_cli: RunCli) -> None:
    assert "-source is required" in one_line_error(run_cli("status"), 2)
    line = one_line_error(run_cli("-source", db.url, "-version", "20990101_nothing"), 2)
    assert "unknown version '20990101_nothing'" in line and V1 in line
    line = one_line_error(run_cli("goto", "20240115", "-source", db.url), 2)
    assert "ambiguous" in line


def test_dry_run_creates_nothing(db: Db, migrations: Path, run_cli: RunCli) -> None:
    out = ok(run_cli("-source", db.url, "-direction", "up", "-dry-run"))
    for version in BASE_SET:
        assert version in out
    assert "INSERT INTO privacy VALUES ('s1', TRUE);" in out
    assert not db.path.exists()
    assert not Path(f"{db.path}.colmig-lock").exists()
    assert db.applied() == []


def test_syntax_error_mid_file_names_file_and_line(
    db: Db, migrations: Path, run_cli: RunCli
) -> None:
    (migrations / "20240117_000000_broken.up.sql").write_text(
        "CREATE TABLE half_done (id INTEGER);\n\nINSERT INTO half_done VALUES (1);\n"
        "CREATE TABLEX oops (id INTEGER);\nCREATE TABLE never (id INTEGER);\n"
    )
    (migrations / "20240117_000000_broken.down.sql").write_text("DROP TABLE half_done;\n")
    result = run_cli("-source", db.url, "-direction", "up")
    line = one_line_error(result, 5)
    assert "migrations/20240117_000000_broken.up.sql:4:" in line
    assert "TABLEX" in line or "syntax error" in line.lower()
    assert db.applied() == [V1, V2, V3]
    assert "half_done" not in db.tables()
    assert f"applied {V3}" in result.stdout


def test_bad_names_duplicates_and_missing_down(db: Db, migrations: Path, run_cli: RunCli) -> None:
    bad = migrations / "2024-01-18_oops.up.sql"
    bad.write_text("SELECT 1;")
    line = one_line_error(run_cli("-source", db.url, "-direction", "up"), 2)
    assert "2024-01-18_oops.up.sql" in line and "YYYYMMDD_HHMMSS_description" in line
    bad.unlink()
    dup = migrations / "20240115_143022_other_name.up.sql"
    dup.write_text("SELECT 1;")
    line = one_line_error(run_cli("-source", db.url, "-direction", "up"), 2)
    assert "duplicate migration version 20240115_143022" in line
    dup.unlink()
    assert not db.path.exists()  # file errors come before touching the database

    (migrations / f"{V3}.down.sql").unlink()
    ok(run_cli("-source", db.url, "-direction", "up"))
    line = one_line_error(run_cli("-source", db.url, "-direction", "down", "-steps", "1"), 2)
    assert f"{V3}.down.sql does not exist" in line
    assert db.applied() == [V1, V2, V3]


def test_dirty_recovery_with_force(db: Db, migrations: Path, run_cli: RunCli) -> None:
    ok(run_cli("-source", db.url, "-direction", "up", "-steps", "2"))
    # What a crash on a database without transactional DDL leaves behind.
    db.execute(f"UPDATE colmig_schema_migrations SET dirty = TRUE WHERE version = '{V2}'")
    line = one_line_error(run_cli("-source", db.url, "-direction", "up"), 7)
    assert f"dirty at version {V2}" in line and f"colmig force {V2}" in line
    assert f"{V2}.up.sql" in line
    assert "dirty" in ok(run_cli("status", "-source", db.url))
    out = ok(run_cli("force", "20240115_add_indexes", "-source", db.url))
    assert f"forced version {V2}" in out
    ok(run_cli("-source", db.url, "-direction", "up"))
    assert db.applied() == [V1, V2, V3]


def test_changed_checksum_blocks_until_allow_changed(
    db: Db, migrations: Path, run_cli: RunCli
) -> None:
    ok(run_cli("-source", db.url, "-steps", "1"))
    edited = migrations / f"{V1}.up.sql"
    edited.write_text(edited.read_text().replace("DOUBLE", "REAL"))
    line = one_line_error(run_cli("-source", db.url, "-direction", "up"), 7)
    assert f"migrations/{V1}.up.sql was edited after" in line and "--allow-changed" in line
    assert db.applied() == [V1]
    status = ok(run_cli("status", "-source", db.url))
    assert "changed" in status and "1 changed" in status
    result = run_cli("-source", db.url, "-direction", "up", "--allow-changed")
    ok(result)
    assert "edited since they were applied" in result.stderr
    assert db.applied() == [V1, V2, V3]


def test_rollback_on_error(db: Db, migrations: Path, run_cli: RunCli) -> None:
    ok(run_cli("-source", db.url, "-steps", "1"))
    (migrations / "20240117_000000_broken.up.sql").write_text("INSERT INTO nowhere VALUES (1);")
    (migrations / "20240117_000000_broken.down.sql").write_text("SELECT 1;")
    result = run_cli("-source", db.url, "-direction", "up", "-rollback-on-error")
    line = one_line_error(result, 5)
    assert "20240117_000000_broken.up.sql:1:" in line
    assert f"-rollback-on-error undid {V3}, {V2}" in line
    assert f"rolled back {V3}" in result.stdout and f"rolled back {V2}" in result.stdout
    assert db.applied() == [V1]
    assert "privacy" not in db.tables()


def test_two_processes_apply_each_migration_once(db: Db, tmp_path: Path, run_cli: RunCli) -> None:
    count_to = 200_000 if db.kind == "sqlite" else 20_000  # DuckDB recursion is slow
    slow = (
        f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {count_to}) "
        "INSERT INTO filler SELECT x FROM c;\n"
    )
    migrations: dict[str, tuple[str, str | None]] = {
        "20240101_000000_counter": (
            "CREATE TABLE runs (version TEXT);\nCREATE TABLE filler (x BIGINT);\n"
            "INSERT INTO runs VALUES ('1');\n" + slow,
            None,
        )
    }
    for n in range(2, 5):
        migrations[f"20240101_00000{n}_step{n}"] = (
            f"INSERT INTO runs VALUES ('{n}');\n" + slow,
            None,
        )
    write_set(tmp_path / "migrations", migrations)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "colmig", "-source", db.url, "-direction", "up"]
    procs = [
        subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    applied_lines = [
        line for out, _ in outputs for line in out.splitlines() if line.startswith("applied ")
    ]
    assert len(applied_lines) == 4, outputs
    assert sorted(db.query("SELECT version, count(*) FROM runs GROUP BY version")) == [
        (str(n), 1) for n in range(1, 5)
    ]
    assert db.query("SELECT count(*) FROM filler") == [(4 * count_to,)]
    assert any("no change" in out for out, _ in outputs)


def test_lock_timeout_exit_code(db: Db, migrations: Path, run_cli: RunCli) -> None:
    from colmig.schema.filelock import FileLock

    other = FileLock(Path(f"{db.path}.colmig-lock"), "migration")
    other.acquire(1)
    try:
        line = one_line_error(run_cli("-source", db.url, "up", "-lock-timeout", "0.5"), 7)
    finally:
        other.release()
    assert "another colmig run holds the migration lock" in line


def test_audit_log_lines_without_password(
    db: Db, tmp_path: Path, migrations: Path, run_cli: RunCli
) -> None:
    url = f"{db.url}?password={SECRET}"
    results = [
        run_cli("-source", url, "-direction", "up", "-steps", "2"),
        run_cli("-source", url, "-direction", "up", "-dry-run"),
        run_cli("-source", url, "-version", "nope"),
        run_cli("status", "-source", url),
        run_cli("force", V2, "-source", url, "-audit-log", "logs/custom.jsonl"),
    ]
    assert [r.returncode for r in results] == [0, 0, 2, 0, 0]
    for r in results:
        assert SECRET not in r.stdout + r.stderr
    text = (tmp_path / ".colmig" / "audit.jsonl").read_text()
    assert SECRET not in text
    entries = [json.loads(line) for line in text.splitlines()]
    assert [(e["operation"], e["outcome"]) for e in entries] == [
        ("up", "success"),
        ("up", "dry-run"),
        ("goto", "failed"),
        ("status", "success"),
    ]
    assert entries[0]["source"] == f"{db.url}?password=***"
    assert entries[0]["versions"] == [V1, V2] and entries[0]["to_version"] == V2
    assert entries[2]["error"].startswith("unknown version 'nope'")
    custom = [json.loads(x) for x in (tmp_path / "logs/custom.jsonl").read_text().splitlines()]
    assert custom[0]["operation"] == "force" and custom[0]["to_version"] == V2
    rows = db.query('SELECT operation, outcome, source FROM colmig_audit ORDER BY "at"')
    assert [r[:2] for r in rows] == [("up", "success"), ("goto", "failed"), ("force", "success")]
    assert all(SECRET not in str(r) for r in rows)
