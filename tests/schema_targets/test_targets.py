"""PostgreSQL and MariaDB schema targets, driven directly (no runner) against real servers."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from colmig.backends.base import SchemaTarget
from colmig.errors import (
    EXIT_CONNECTION,
    ConnectionFailedError,
    LockTimeoutError,
    MigrationFailedError,
)
from tests.schema_targets.helpers import (
    PASSWORD,
    TABLE,
    column_names,
    open_target,
    record,
    rows,
    start_lock_holder,
    table_names,
)

DATABASES = [
    pytest.param("pg_url", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb_url", id="mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(params=DATABASES)
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


@pytest.fixture
def target(url: str) -> Iterator[SchemaTarget]:
    t = open_target(url)
    yield t
    t.close()


def is_pg(url: str) -> bool:
    return url.startswith("postgres")


def test_dialect_and_transactional_flag(url: str, target: SchemaTarget) -> None:
    assert target.dialect == ("postgres" if is_pg(url) else "mysql")
    assert target.transactional_ddl is is_pg(url)


def test_applied_on_fresh_database_creates_nothing(url: str, target: SchemaTarget) -> None:
    assert target.applied(TABLE) == []
    assert target.applied("custom_versions") == []
    assert table_names(url) == set()


def test_ensure_tables_is_idempotent(url: str, target: SchemaTarget) -> None:
    target.ensure_tables(TABLE)
    target.apply([], record("20240101_000000_first"), None, TABLE)
    target.ensure_tables(TABLE)
    other = open_target(url)
    try:
        other.ensure_tables(TABLE)
    finally:
        other.close()
    assert {TABLE, "colmig_audit"} <= table_names(url)
    assert [m.version for m in target.applied(TABLE)] == ["20240101_000000_first"]
    assert column_names(url, TABLE) == [
        "version",
        "description",
        "checksum",
        "applied_at",
        "duration_ms",
        "applied_by",
        "dirty",
    ]


def test_custom_tracking_table_name(url: str) -> None:
    target = open_target(url, migrations_table="app_versions")
    try:
        target.ensure_tables("app_versions")
        target.apply(
            ["CREATE TABLE t1 (a INT)"], record("20240101_000000_t1"), None, "app_versions"
        )
        assert [m.version for m in target.applied("app_versions")] == ["20240101_000000_t1"]
        assert target.applied(TABLE) == []
        assert {"app_versions", "t1"} <= table_names(url)
    finally:
        target.close()


def test_apply_up_then_down(url: str, target: SchemaTarget) -> None:
    target.ensure_tables(TABLE)
    up = [
        "CREATE TABLE readings (sensor_id VARCHAR(64) NOT NULL, value DOUBLE PRECISION)",
        "INSERT INTO readings VALUES ('s1', 1.5)",
        "CREATE INDEX idx_readings_sensor ON readings (sensor_id)",
    ]
    target.apply(up, record("20240115_143022_create_readings", "ab" * 32), None, TABLE)
    (applied,) = target.applied(TABLE)
    assert applied.version == "20240115_143022_create_readings"
    assert applied.description == "create_readings"
    assert applied.checksum == "ab" * 32
    assert applied.applied_at == "2024-01-15T10:30:00.000Z"
    assert applied.applied_by == "tester@host"
    assert applied.dirty is False
    assert applied.duration_ms >= 0
    assert rows(url, "SELECT sensor_id, value FROM readings") == [("s1", 1.5)]

    target.apply(["DROP TABLE readings"], None, "20240115_143022_create_readings", TABLE)
    assert target.applied(TABLE) == []
    assert "readings" not in table_names(url)


def test_duration_is_measured_by_the_target(url: str, target: SchemaTarget) -> None:
    target.ensure_tables(TABLE)
    sleep = "SELECT pg_sleep(0.3)" if is_pg(url) else "SELECT SLEEP(0.3)"
    target.apply([sleep], record("20240101_000000_slow", duration_ms=0), None, TABLE)
    assert target.applied(TABLE)[0].duration_ms >= 250


def test_failure_mid_migration(url: str, target: SchemaTarget) -> None:
    target.ensure_tables(TABLE)
    target.apply(["CREATE TABLE keep (a INT)"], record("20240101_000000_keep"), None, TABLE)
    statements = [
        "CREATE TABLE half (a INT)",
        "INSERT INTO keep VALUES (1)",
        "CREATE TABLE broken (a INT",  # syntax error
        "CREATE TABLE never (a INT)",
    ]
    with pytest.raises(MigrationFailedError) as info:
        target.apply(statements, record("20240102_000000_broken"), None, TABLE)
    message = str(info.value)
    assert "statement 3 of 4" in message
    assert "CREATE TABLE broken" in message
    assert PASSWORD not in message
    assert info.value.fields["statement_index"] == 2
    cause = info.value.fields["cause"]
    assert "syntax" in cause and "statement" not in cause and PASSWORD not in cause
    tables = table_names(url)
    assert "never" not in tables
    versions = {m.version: m.dirty for m in target.applied(TABLE)}
    if is_pg(url):
        # Transactional DDL: no table, no row, no inserted data.
        assert "half" not in tables
        assert versions == {"20240101_000000_keep": False}
        assert rows(url, "SELECT COUNT(*) FROM keep") == [(0,)]
        assert "rolled back" in message
    else:
        # DDL committed implicitly: the version stays dirty and the message says how to force.
        assert "half" in tables
        assert versions == {"20240101_000000_keep": False, "20240102_000000_broken": True}
        assert "colmig force 20240102_000000_broken" in message
        # The target still works: force clears the dirty row.
        target.set_version(TABLE, record("20240102_000000_broken"), [])
        assert {m.version: m.dirty for m in target.applied(TABLE)} == {
            "20240101_000000_keep": False,
            "20240102_000000_broken": False,
        }
    # A later migration still applies on the same target object.
    target.apply(
        ["CREATE TABLE after_failure (a INT)"], record("20240103_000000_after"), None, TABLE
    )
    assert "after_failure" in table_names(url)


def test_failing_down_leaves_dirty_on_mariadb_only(url: str, target: SchemaTarget) -> None:
    target.ensure_tables(TABLE)
    target.apply(["CREATE TABLE t (a INT)"], record("20240101_000000_t"), None, TABLE)
    with pytest.raises(MigrationFailedError):
        target.apply(["DROP TABLE t", "DROP TABLE no_such_table"], None, "20240101_000000_t", TABLE)
    (row,) = target.applied(TABLE)
    assert row.dirty is (not is_pg(url))
    assert ("t" in table_names(url)) is is_pg(url)


def test_set_version_forces_bookkeeping(url: str, target: SchemaTarget) -> None:
    target.ensure_tables(TABLE)
    for version in ("20240101_000000_a", "20240102_000000_b", "20240103_000000_c"):
        target.apply([], record(version), None, TABLE)
    target.set_version(
        TABLE,
        record("20240102_000000_b", checksum="d" * 64),
        ["20240103_000000_c"],
    )
    applied = target.applied(TABLE)
    assert [(m.version, m.checksum, m.dirty) for m in applied] == [
        ("20240101_000000_a", "c" * 64, False),
        ("20240102_000000_b", "d" * 64, False),
    ]
    target.set_version(TABLE, None, ["20240101_000000_a", "20240102_000000_b"])
    assert target.applied(TABLE) == []


def test_function_bodies_and_semicolons_in_strings(url: str, target: SchemaTarget) -> None:
    from colmig.schema.splitter import split_statements

    if is_pg(url):
        sql = """
        -- a comment; with a semicolon
        CREATE TABLE notes (id INT PRIMARY KEY, body TEXT);
        INSERT INTO notes VALUES (1, 'a;b; c'' ;d');
        /* block; comment */
        CREATE FUNCTION note_count() RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE n bigint;
        BEGIN
            SELECT count(*) INTO n FROM notes WHERE body <> ';';
            RETURN n;
        END;
        $$;
        CREATE FUNCTION shout(t text) RETURNS text LANGUAGE sql AS $fn$ SELECT t || ';!' $fn$;
        """
        check = "SELECT note_count(), shout('x')"
        expected = [(1, "x;!")]
    else:
        sql = """
        -- a comment; with a semicolon
        CREATE TABLE notes (id INT PRIMARY KEY, body TEXT);
        INSERT INTO notes VALUES (1, 'a;b; c'' ;d');
        # hash comment; too
        DELIMITER //
        CREATE FUNCTION note_count() RETURNS BIGINT READS SQL DATA
        BEGIN
            DECLARE n BIGINT;
            SELECT COUNT(*) INTO n FROM notes WHERE body <> ';';
            RETURN n;
        END //
        DELIMITER ;
        CREATE FUNCTION shout(t TEXT) RETURNS TEXT DETERMINISTIC RETURN CONCAT(t, ';!');
        """
        check = "SELECT note_count(), shout('x')"
        expected = [(1, "x;!")]
    statements = [s.text for s in split_statements(sql, target.dialect)]
    assert len(statements) == 4
    target.ensure_tables(TABLE)
    target.apply(statements, record("20240101_000000_bodies"), None, TABLE)
    assert rows(url, "SELECT body FROM notes") == [("a;b; c' ;d",)]
    assert rows(url, check) == expected


def test_procedure_body_passed_as_one_statement_on_mariadb(
    mariadb_url: str,
) -> None:
    target = open_target(mariadb_url)
    try:
        target.ensure_tables(TABLE)
        body = (
            "CREATE PROCEDURE fill(IN n INT)\nBEGIN\n  DECLARE i INT DEFAULT 0;\n"
            "  CREATE TABLE IF NOT EXISTS filled (i INT);\n"
            "  WHILE i < n DO\n    INSERT INTO filled VALUES (i);\n    SET i = i + 1;\n"
            "  END WHILE;\nEND"
        )
        target.apply([body, "CALL fill(3)"], record("20240101_000000_proc"), None, TABLE)
        assert rows(mariadb_url, "SELECT COUNT(*) FROM filled") == [(3,)]
    finally:
        target.close()


def test_statements_returning_rows_inside_a_migration(url: str, target: SchemaTarget) -> None:
    target.ensure_tables(TABLE)
    extra = ["SHOW search_path", "EXPLAIN SELECT 1"] if is_pg(url) else ["SHOW TABLES"]
    target.apply(
        ["CREATE TABLE r (a INT)", "SELECT 1", *extra, "INSERT INTO r VALUES (7)"],
        record("20240101_000000_rows"),
        None,
        TABLE,
    )
    assert rows(url, "SELECT a FROM r") == [(7,)]


def test_lock_held_by_another_process_times_out(url: str, target: SchemaTarget) -> None:
    proc, release = start_lock_holder(url)
    try:
        started = time.monotonic()
        with pytest.raises(LockTimeoutError) as info:
            target.lock(1.0)
        waited = time.monotonic() - started
        assert 0.9 <= waited < 5
        message = str(info.value)
        assert "another colmig run holds the migration lock" in message
        assert PASSWORD not in message
        assert info.value.exit_code == 7
    finally:
        release.set()
        proc.join(30)
    # Released by the other process: now it is ours at once.
    started = time.monotonic()
    target.lock(10.0)
    assert time.monotonic() - started < 5
    target.unlock()
    target.unlock()  # safe when not held


def test_lock_waits_for_release(url: str, target: SchemaTarget) -> None:
    proc, release = start_lock_holder(url)
    try:
        import threading

        threading.Timer(1.0, release.set).start()
        started = time.monotonic()
        target.lock(30.0)
        assert 0.8 <= time.monotonic() - started < 20
    finally:
        release.set()
        proc.join(30)
    target.unlock()


def test_lock_is_per_database(
    url: str, target: SchemaTarget, request: pytest.FixtureRequest
) -> None:
    """Two databases on one server do not block each other (GET_LOCK is server-wide)."""
    server = request.getfixturevalue("pg_server" if is_pg(url) else "mariadb_server")
    other_name = "colmig_lock_other"
    other_url = server.create_database(other_name)
    try:
        proc, release = start_lock_holder(other_url)
        try:
            target.lock(2.0)
            target.unlock()
        finally:
            release.set()
            proc.join(30)
    finally:
        server.drop_database(other_name)


def test_audit_rows_hold_the_entry_without_password(url: str, target: SchemaTarget) -> None:
    redacted = url.replace(PASSWORD, "***")
    entry = {
        "at": "2024-01-15T10:30:00.250000+00:00",
        "user": "alice",
        "host": socket.gethostname(),
        "operation": "up",
        "source": redacted,
        "direction": "up",
        "from_version": None,
        "to_version": "20240115_103000_add_indexes",
        "versions": ["20240115_090000_create_sensor_data", "20240115_103000_add_indexes"],
        "duration_ms": 42,
        "outcome": "failed",
        # An error text that (wrongly) carries the raw URL is redacted again on the way in.
        "error": f"could not reach {url}",
    }
    target.write_audit(entry)  # creates colmig_audit when missing
    target.write_audit({**entry, "outcome": "ok", "error": None})
    got = rows(
        url,
        "SELECT operation, username, host, source, direction, from_version, to_version,"
        " versions, duration_ms, outcome, error, entry FROM colmig_audit ORDER BY id",
    )
    assert len(got) == 2
    first = got[0]
    assert first[:7] == (
        "up",
        "alice",
        socket.gethostname(),
        redacted,
        "up",
        None,
        "20240115_103000_add_indexes",
    )
    assert json.loads(first[7]) == entry["versions"]
    assert first[8] == 42
    assert first[9] == "failed"
    assert first[10] == f"could not reach {redacted}"
    stored = json.loads(first[11])
    assert set(stored) == set(entry)
    assert stored["source"] == redacted
    assert stored["versions"] == entry["versions"]
    assert got[1][9] == "ok" and got[1][10] is None
    everything = repr(rows(url, "SELECT * FROM colmig_audit"))
    assert PASSWORD not in everything
    at = rows(
        url,
        "SELECT CAST(at AS TEXT) FROM colmig_audit ORDER BY id LIMIT 1"
        if is_pg(url)
        else "SELECT CAST(`at` AS CHAR) FROM colmig_audit ORDER BY id LIMIT 1",
    )[0][0]
    assert at.startswith("2024-01-15") and "10:30:00.25" in at


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("scheme", ["postgres", "mysql"])
def test_unreachable_host_fails_fast_without_password(scheme: str) -> None:
    url = f"{scheme}://colmig:{PASSWORD}@127.0.0.1:{closed_port()}/tsiot"
    started = time.monotonic()
    with pytest.raises(ConnectionFailedError) as info:
        open_target(url)
    assert time.monotonic() - started < 6
    message = str(info.value)
    assert PASSWORD not in message and PASSWORD not in repr(info.value.fields)
    assert f"{scheme}://colmig:***@127.0.0.1" in message
    assert info.value.exit_code == EXIT_CONNECTION == 3


@pytest.mark.postgres
def test_postgres_search_path(pg_url: str) -> None:
    url = pg_url + "?search_path=iot"
    target = open_target(url)
    try:
        assert target.applied(TABLE) == []
        target.ensure_tables(TABLE)
        target.apply(["CREATE TABLE readings (a INT)"], record("20240101_000000_r"), None, TABLE)
        found = rows(
            pg_url,
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema"
            " IN ('iot', 'public') ORDER BY 1, 2",
        )
        assert found == [("iot", "colmig_audit"), ("iot", TABLE), ("iot", "readings")]
        assert [m.version for m in target.applied(TABLE)] == ["20240101_000000_r"]
    finally:
        target.close()


@pytest.mark.mariadb
def test_mariadb_url_without_database_is_a_config_error(mariadb_server: object) -> None:
    from colmig.errors import ConfigError

    with pytest.raises(ConfigError, match="names no database"):
        open_target(f"mysql://colmig:{PASSWORD}@127.0.0.1:1/")


@pytest.mark.parametrize("scheme", ["postgres", "mysql"])
def test_silent_server_times_out_within_seconds(scheme: str) -> None:
    """A host that accepts TCP but never answers (a hung server, a black-holing proxy)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # never accept(): the handshake completes, no greeting ever comes
        port = listener.getsockname()[1]
        url = f"{scheme}://colmig:{PASSWORD}@127.0.0.1:{port}/tsiot"
        started = time.monotonic()
        with pytest.raises(ConnectionFailedError) as info:
            open_target(url)
        elapsed = time.monotonic() - started
    assert 3 <= elapsed < 12
    assert PASSWORD not in str(info.value)
    assert "***" in str(info.value)


@pytest.mark.mariadb
def test_mariadb_statement_longer_than_the_connect_timeout(mariadb_url: str) -> None:
    """The handshake read timeout must not cut off a long migration statement."""
    target = open_target(mariadb_url)
    try:
        target.ensure_tables(TABLE)
        target.apply(["SELECT SLEEP(6)"], record("20240101_000000_long"), None, TABLE)
        assert target.applied(TABLE)[0].duration_ms >= 6000
    finally:
        target.close()
