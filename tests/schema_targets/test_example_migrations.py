"""The repository's migrations/ example set runs up and back down on every dialect."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from colmig.schema.files import discover
from colmig.schema.splitter import split_statements
from tests.schema_targets.helpers import TABLE, column_names, open_target, rows, table_names

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
EXPECTED = [
    "20240115_090000_create_sensor_data",
    "20240115_103000_add_indexes",
    "20240201_120000_add_privacy_fields",
    "20240301_080000_add_retention",
]
COLUMNS = ["timestamp", "sensor_id", "site", "metric", "value", "unit", "quality", "battery"]


def statements(sql: str, dialect: str) -> list[str]:
    return [s.text for s in split_statements(sql, dialect)]


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite", "duckdb"])
def test_every_dialect_sees_every_version(dialect: str) -> None:
    found = discover(MIGRATIONS, dialect)
    assert [m.version for m in found] == EXPECTED
    assert all(m.down_path is not None for m in found)


def test_dialect_variants_are_chosen() -> None:
    pg = {m.version: m for m in discover(MIGRATIONS, "postgres")}
    my = {m.version: m for m in discover(MIGRATIONS, "mysql")}
    duck = {m.version: m for m in discover(MIGRATIONS, "duckdb")}
    lite = {m.version: m for m in discover(MIGRATIONS, "sqlite")}
    create = "20240115_090000_create_sensor_data"
    assert pg[create].up_path.name.endswith(".up.postgres.sql")
    assert my[create].up_path.name.endswith(".up.mysql.sql")
    assert lite[create].up_path.name.endswith(f"{create}.up.sql")
    assert len({pg[create].checksum, my[create].checksum, lite[create].checksum}) == 3
    assert my["20240115_103000_add_indexes"].down_path.name.endswith(".down.mysql.sql")  # type: ignore[union-attr]
    privacy = "20240201_120000_add_privacy_fields"
    assert duck[privacy].down_path.name.endswith(".down.duckdb.sql")  # type: ignore[union-attr]
    assert lite[privacy].down_path.name.endswith(f"{privacy}.down.sql")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "fixture",
    [
        pytest.param("pg_url", id="postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb_url", id="mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_example_set_up_and_down_on_servers(fixture: str, request: pytest.FixtureRequest) -> None:
    url = str(request.getfixturevalue(fixture))
    target = open_target(url)
    try:
        dialect = target.dialect
        found = discover(MIGRATIONS, dialect)
        target.ensure_tables(TABLE)
        for m in found:
            record = {
                "version": m.version,
                "description": m.description,
                "checksum": m.checksum,
                "applied_at": None,
                "duration_ms": 0,
                "applied_by": "test",
                "dirty": False,
            }
            target.apply(statements(m.read_up(), dialect), record, None, TABLE)
        assert [(a.version, a.checksum, a.dirty) for a in target.applied(TABLE)] == [
            (m.version, m.checksum, False) for m in found
        ]
        assert column_names(url, "sensor_data") == [*COLUMNS, "owner_email", "device_location"]
        ts = "'2024-01-15 10:30:00+00'" if dialect == "postgres" else "'2024-01-15 10:30:00'"
        rows(
            url,
            "INSERT INTO sensor_data VALUES"
            f" ({ts}, 's-1', 'plant-a', 'temp', 21.5, 'C', 0.9, 88, 'alice@example.com', '1,2')",
        )
        assert rows(url, "SELECT sensor_id, value FROM sensor_data_public") == [("s-1", 21.5)]
        assert column_names(url, "sensor_data_public") == COLUMNS
        if dialect == "postgres":
            assert rows(url, "SELECT mask_email(owner_email) FROM sensor_data") == [
                ("a***@example.com",)
            ]
            assert rows(url, "SELECT sensor_data_purge(interval '1 day')") == [(1,)]
        else:
            assert rows(url, "CALL sensor_data_purge(1)") == [(1,)]
        assert rows(url, "SELECT COUNT(*) FROM sensor_data") == [(0,)]

        for m in reversed(found):
            target.apply(statements(m.read_down(), dialect), None, m.version, TABLE)
        assert target.applied(TABLE) == []
        assert table_names(url) == {TABLE, "colmig_audit"}
    finally:
        target.close()


def _run_embedded(conn: object, dialect: str) -> None:
    """Apply the set up, check it, then down, in one transaction per file as the runner does."""
    found = discover(MIGRATIONS, dialect)
    for m in found:
        for sql in statements(m.read_up(), dialect):
            conn.execute(sql)  # type: ignore[attr-defined]
    conn.execute(  # type: ignore[attr-defined]
        "INSERT INTO sensor_data VALUES ('2024-01-15 10:30:00', 's-1', 'plant-a', 'temp', 21.5,"
        " 'C', 0.9, 88, 'alice@example.com', '1,2')"
    )
    got = conn.execute("SELECT sensor_id, value FROM sensor_data_public").fetchall()  # type: ignore[attr-defined]
    assert [tuple(r) for r in got] == [("s-1", 21.5)]
    conn.execute("DELETE FROM sensor_data")  # type: ignore[attr-defined]
    for m in reversed(found):
        for sql in statements(m.read_down(), dialect):
            conn.execute(sql)  # type: ignore[attr-defined]


def test_example_set_on_sqlite(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "tsiot.db")
    try:
        _run_embedded(conn, "sqlite")
        names = conn.execute("SELECT name FROM sqlite_master").fetchall()
        assert names == []
    finally:
        conn.close()


def test_example_set_on_duckdb(tmp_path: Path) -> None:
    import duckdb

    conn = duckdb.connect(str(tmp_path / "tsiot.duckdb"))
    try:
        _run_embedded(conn, "duckdb")
        assert conn.execute("SELECT table_name FROM information_schema.tables").fetchall() == []
    finally:
        conn.close()
