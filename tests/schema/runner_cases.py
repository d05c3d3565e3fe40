"""Schema-runner behaviour shared by SQLite and DuckDB; each test module supplies ``db``.

Imported with ``from tests.schema.runner_cases import *`` so pytest collects the tests once per
database module.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from colmig.audit import ENTRY_KEYS
from colmig.errors import (
    ChecksumMismatchError,
    ConfigError,
    DirtyDatabaseError,
    LockTimeoutError,
    MigrationFailedError,
)
from colmig.schema.filelock import FileLock
from tests.schema.helpers import BASE_SET, Db, audit_lines, run, write_set

V1, V2, V3 = BASE_SET


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    return write_set(tmp_path / "migrations", BASE_SET)


def test_up_applies_all_and_records_tracking_rows(
    db: Db, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(db, migrations, None) == 0
    out = capsys.readouterr().out
    assert f"applied {V1} (" in out and f"applied {V3} (" in out
    assert f"3 migrations applied; schema is now at version {V3}" in out
    assert db.applied() == [V1, V2, V3]
    assert db.query("SELECT count(*) FROM readings") == [(1,)]
    assert db.query("SELECT note FROM readings") == [("a;b",)]
    rows = db.query(
        "SELECT version, description, checksum, applied_at, duration_ms, applied_by, dirty "
        "FROM colmig_schema_migrations ORDER BY version"
    )
    import hashlib

    assert rows[0][1] == "create_timeseries_table"
    assert rows[0][2] == hashlib.sha256(BASE_SET[V1][0].encode()).hexdigest()
    assert rows[0][3].endswith("Z") and rows[0][3].startswith("20")
    assert all(r[4] >= 0 for r in rows)
    assert "@" in rows[0][5]
    assert not any(bool(r[6]) for r in rows)
    # running again changes nothing
    assert run(db, migrations, "up") == 0
    assert "no change: schema is at version " + V3 in capsys.readouterr().out


def test_steps_down_version_and_goto(
    db: Db, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(db, migrations, "up", steps=1)
    assert db.applied() == [V1]
    run(db, migrations, "up", "1")
    assert db.applied() == [V1, V2]
    with pytest.raises(ConfigError, match="needs -steps N"):
        run(db, migrations, "down")
    with pytest.raises(ConfigError, match="needs -steps N"):
        run(db, migrations, None, direction="down")
    run(db, migrations, None, direction="down", steps=1)
    assert db.applied() == [V1]
    assert "readings_sensor_time" not in str(db.tables())
    run(db, migrations, None, version="20240116_add_privacy_fields")  # spec style name
    assert db.applied() == [V1, V2, V3]
    run(db, migrations, "goto", "20240115_143022")
    assert db.applied() == [V1, V2]
    assert "privacy" not in db.tables()
    run(db, migrations, "down", version=V1[:15])
    assert db.applied() == [V1]
    run(db, migrations, "up", version="20240115_add")
    assert db.applied() == [V1, V2]
    with pytest.raises(ConfigError, match="is older than the current version"):
        run(db, migrations, "up", version=V1)
    run(db, migrations, "down", version="0")
    assert db.applied() == []
    assert "readings" not in db.tables()
    out = capsys.readouterr().out
    assert f"reverted {V2} (" in out and f"reverted {V1} (" in out


def test_unknown_and_ambiguous_versions(db: Db, migrations: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown version '20990101_x'.*20240115_103000"):
        run(db, migrations, "goto", "20990101_x")
    with pytest.raises(ConfigError, match=r"ambiguous.*20240115_103000.*20240115_143022"):
        run(db, migrations, "goto", "20240115")


def test_failure_mid_file_leaves_no_trace_and_names_file_and_line(db: Db, migrations: Path) -> None:
    bad = migrations / "20240117_000000_broken.up.sql"
    bad.write_text(
        "CREATE TABLE half_done (id INTEGER);\n"
        "INSERT INTO half_done VALUES (1);\n"
        "\n"
        "-- the next statement is wrong\n"
        "CREATE TABLEX oops (id INTEGER);\n"
    )
    (migrations / "20240117_000000_broken.down.sql").write_text("DROP TABLE half_done;\n")
    with pytest.raises(MigrationFailedError) as err:
        run(db, migrations, "up")
    message = str(err.value)
    assert f"{bad}:5:" in message
    assert "left no trace" in message
    assert db.applied() == [V1, V2, V3]
    assert "half_done" not in db.tables()


def test_rollback_on_error_reverts_this_runs_migrations(
    db: Db, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(db, migrations, "up", steps=1)
    capsys.readouterr()
    (migrations / "20240117_000000_broken.up.sql").write_text("SELECT * FROM no_such_table;\n")
    (migrations / "20240117_000000_broken.down.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationFailedError) as err:
        run(db, migrations, "up", rollback_on_error=True)
    assert f"undid {V3}, {V2}" in str(err.value)
    assert "back where this run started" in str(err.value)
    out = capsys.readouterr().out
    assert f"rolled back {V3}" in out and f"rolled back {V2}" in out
    assert db.applied() == [V1]
    assert "privacy" not in db.tables()


def test_rollback_on_error_needs_down_files_first(db: Db, migrations: Path) -> None:
    (migrations / f"{V3}.down.sql").unlink()
    with pytest.raises(ConfigError, match=rf"missing: {V3}.down.sql"):
        run(db, migrations, "up", rollback_on_error=True)
    assert db.applied() == []


def test_changed_file_blocks_up_until_allowed(
    db: Db, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(db, migrations, "up", steps=2)
    edited = migrations / f"{V2}.up.sql"
    edited.write_text(edited.read_text() + "-- edited later\n")
    with pytest.raises(ChecksumMismatchError) as err:
        run(db, migrations, "up")
    assert str(edited) in str(err.value) and "--allow-changed" in str(err.value)
    assert db.applied() == [V1, V2]
    capsys.readouterr()
    run(db, migrations, "status")
    status = capsys.readouterr().out
    assert f"{V2}" in status and "changed" in status and "1 pending" in status
    assert run(db, migrations, "up", allow_changed=True) == 0
    assert db.applied() == [V1, V2, V3]
    with pytest.raises(ChecksumMismatchError):  # drift is reported even with nothing pending
        run(db, migrations, "up")
    # CRLF line endings alone are not an edit
    first = migrations / f"{V1}.up.sql"
    first.write_bytes(first.read_bytes().replace(b"\n", b"\r\n"))
    edited.write_text(BASE_SET[V2][0])
    run(db, migrations, "status")
    assert "0 changed" in capsys.readouterr().out


def test_dirty_database_refuses_until_forced(
    db: Db, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(db, migrations, "up", steps=2)
    db.execute(f"UPDATE colmig_schema_migrations SET dirty = TRUE WHERE version = '{V2}'")
    with pytest.raises(DirtyDatabaseError) as err:
        run(db, migrations, "up")
    message = str(err.value)
    assert f"dirty at version {V2}" in message
    assert f"{V2}.up.sql" in message
    assert f"colmig force {V2}" in message and f"colmig force {V1}" in message
    with pytest.raises(DirtyDatabaseError):
        run(db, migrations, "down", "1")
    run(db, migrations, "status")
    assert "dirty" in capsys.readouterr().out
    assert run(db, migrations, "force", V2) == 0
    assert f"forced version {V2}" in capsys.readouterr().out
    run(db, migrations, "up")
    assert db.applied() == [V1, V2, V3]


def test_force_marks_earlier_applied_and_removes_later(
    db: Db, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(db, migrations, "force", "20240115_add_indexes")
    out = capsys.readouterr().out
    assert f"marked {V1} applied" in out and f"marked {V2} applied" in out
    assert db.applied() == [V1, V2]
    assert "readings" not in db.tables()  # force runs no SQL
    run(db, migrations, "force", V1)
    assert db.applied() == [V1]
    run(db, migrations, "force", "0")
    assert db.applied() == []


def test_dry_run_changes_nothing(
    db: Db, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(db, migrations, None, dry_run=True) == 0
    out = capsys.readouterr().out
    assert not db.path.exists()
    assert f"  1. up   {V1}" in out and f"  2. up   {V2}" in out and f"  3. up   {V3}" in out
    assert out.index(f"-- up {V1}") < out.index(f"-- up {V2}") < out.index(f"-- up {V3}")
    assert "CREATE TABLE readings (" in out and "dry run: nothing was changed" in out
    # an existing database without a tracking table does not get one
    db.execute("CREATE TABLE unrelated (x INTEGER)")
    run(db, migrations, "up", dry_run=True)
    run(db, migrations, "down", "1", dry_run=True)
    assert db.tables() == {"unrelated"}
    run(db, migrations, "up", steps=2)
    run(db, migrations, "down", "1", dry_run=True)
    assert "DROP INDEX readings_sensor_time" in capsys.readouterr().out
    assert db.applied() == [V1, V2]
    assert [e["outcome"] for e in audit_lines(migrations.parent / ".colmig")] == [
        "dry-run",
        "dry-run",
        "dry-run",
        "success",
        "dry-run",
    ]


def test_missing_down_file(db: Db, migrations: Path) -> None:
    (migrations / f"{V3}.down.sql").unlink()
    run(db, migrations, "up")
    with pytest.raises(ConfigError, match=rf"{V3}.down.sql does not exist"):
        run(db, migrations, "down", "1")
    assert db.applied() == [V1, V2, V3]


def test_status_shows_pending_and_missing_files(
    db: Db, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(db, migrations, "up", steps=1)
    (migrations / f"{V1}.up.sql").rename(migrations.parent / "moved.sql")
    (migrations / f"{V1}.down.sql").unlink()
    capsys.readouterr()
    run(db, migrations, "status")
    out = capsys.readouterr().out
    assert "missing" in out and "2 pending" in out and "1 missing" in out
    run(db, migrations, "version")
    assert capsys.readouterr().out.strip() == V1


def test_audit_file_and_table(db: Db, migrations: Path) -> None:
    run(db, migrations, "up", steps=2)
    with pytest.raises(ConfigError):
        run(db, migrations, "goto", "nope")
    entries = audit_lines(migrations.parent / ".colmig")
    assert tuple(entries[0]) == ENTRY_KEYS
    assert entries[0]["operation"] == "up" and entries[0]["direction"] == "up"
    assert entries[0]["from_version"] is None and entries[0]["to_version"] == V2
    assert entries[0]["versions"] == [V1, V2] and entries[0]["outcome"] == "success"
    assert entries[1]["outcome"] == "failed" and "unknown version" in entries[1]["error"]
    rows = db.query('SELECT operation, outcome, versions, "error" FROM colmig_audit ORDER BY "at"')
    assert rows[0][:3] == ("up", "success", f'["{V1}", "{V2}"]')
    assert rows[1][1] == "failed"


def test_lock_held_by_another_run_times_out(db: Db, migrations: Path) -> None:
    other = FileLock(Path(f"{db.path}.colmig-lock"), "migration")
    other.acquire(1)
    try:
        with pytest.raises(LockTimeoutError, match="another colmig run holds"):
            run(db, migrations, "up", lock_timeout=0.3)
    finally:
        other.release()
    run(db, migrations, "up")
    assert db.applied() == [V1, V2, V3]


def test_transaction_control_in_file_is_refused(db: Db, migrations: Path) -> None:
    (migrations / "20240117_000000_txn.up.sql").write_text("BEGIN;\nSELECT 1;\nCOMMIT;\n")
    with pytest.raises(ConfigError, match=r"20240117_000000_txn.up.sql:1: remove 'BEGIN'"):
        run(db, migrations, "up")


def test_empty_migration_warns(
    db: Db, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (migrations / "20240117_000000_todo.up.sql").write_text("-- nothing yet\n")
    run(db, migrations, "up")
    assert "20240117_000000_todo.up.sql has no SQL statements" in capsys.readouterr().err
    assert db.applied()[-1] == "20240117_000000_todo"


def test_out_of_order_file_and_mixed_goto(
    db: Db, migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v2_files = [migrations / f"{V2}.up.sql", migrations / f"{V2}.down.sql"]
    saved = [p.read_text() for p in v2_files]
    for p in v2_files:
        p.unlink()
    run(db, migrations, "up")
    assert db.applied() == [V1, V3]
    for p, text in zip(v2_files, saved, strict=True):
        p.write_text(text)  # a migration merged from another branch
    capsys.readouterr()
    run(db, migrations, "goto", V2)
    out = capsys.readouterr().out
    assert out.index(f"reverted {V3}") < out.index(f"applied {V2}")
    assert db.applied() == [V1, V2]
    entry = audit_lines(migrations.parent / ".colmig")[-1]
    assert entry["direction"] == "down+up" and entry["versions"] == [V3, V2]
    run(db, migrations, "down", "1")
    run(db, migrations, "up", steps=1, version=V3)
    assert db.applied() == [V1, V2]
    run(db, migrations, "up")
    run(db, migrations, "down", version=V1)
    assert db.applied() == [V1]
    assert "privacy" not in db.tables()
