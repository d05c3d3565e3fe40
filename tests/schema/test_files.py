"""Migration file discovery, per-dialect variants, version names and create."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from colmig.errors import ConfigError
from colmig.schema.files import checksum_of, create_pair, discover, resolve_version


def write(directory: Path, name: str, text: str = "SELECT 1;\n") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_discover_sorted_pairs_and_checksum(tmp_path: Path) -> None:
    write(tmp_path, "20240116_090000_b.up.sql", "CREATE INDEX i ON t(x);\n")
    write(tmp_path, "20240116_090000_b.down.sql")
    write(tmp_path, "20240115_143022_create_timeseries_table.up.sql")
    write(tmp_path, "20240115_143022_create_timeseries_table.down.sql")
    write(tmp_path, "README.md", "not a migration")
    found = discover(tmp_path, "sqlite")
    assert [m.version for m in found] == [
        "20240115_143022_create_timeseries_table",
        "20240116_090000_b",
    ]
    first = found[0]
    assert first.timestamp == "20240115_143022"
    assert first.description == "create_timeseries_table"
    assert first.down_path == tmp_path / "20240115_143022_create_timeseries_table.down.sql"
    assert found[1].read_up() == "CREATE INDEX i ON t(x);\n"
    import hashlib

    assert found[1].checksum == hashlib.sha256(b"CREATE INDEX i ON t(x);\n").hexdigest()


def test_checksum_ignores_crlf_line_endings(tmp_path: Path) -> None:
    assert checksum_of(b"a;\r\nb;\r\n") == checksum_of(b"a;\nb;\n")
    assert checksum_of(b"a;\nb;\n") != checksum_of(b"a;\nc;\n")


def test_dialect_variant_overrides_generic(tmp_path: Path) -> None:
    write(tmp_path, "20240115_103000_x.up.sql", "generic")
    write(tmp_path, "20240115_103000_x.up.postgres.sql", "pg")
    write(tmp_path, "20240115_103000_x.down.sql", "generic down")
    write(tmp_path, "20240115_103000_x.down.mysql.sql", "my down")
    # a version that exists only as a PostgreSQL variant
    write(tmp_path, "20240116_000000_hypertable.up.postgres.sql", "pg only")
    write(tmp_path, "20240116_000000_hypertable.down.postgres.sql", "pg only down")
    pg = discover(tmp_path, "postgresql")
    assert [m.version for m in pg] == ["20240115_103000_x", "20240116_000000_hypertable"]
    assert pg[0].read_up() == "pg" and pg[0].read_down() == "generic down"
    my = discover(tmp_path, "mariadb")
    assert [m.version for m in my] == ["20240115_103000_x"]
    assert my[0].read_up() == "generic" and my[0].read_down() == "my down"
    lite = discover(tmp_path, "sqlite")
    assert lite[0].checksum != pg[0].checksum


@pytest.mark.parametrize(
    "name",
    [
        "2024-01-15_add.up.sql",
        "20240115_add_indexes.up.sql",
        "20240115_103000_add.sql",
        "20240115_103000_add.upp.sql",
        "20241315_103000_bad_month.up.sql",
    ],
)
def test_bad_file_name_names_file_and_pattern(tmp_path: Path, name: str) -> None:
    write(tmp_path, name)
    with pytest.raises(ConfigError) as err:
        discover(tmp_path, "sqlite")
    assert name in str(err.value)
    assert "YYYYMMDD_HHMMSS" in str(err.value)


def test_unknown_dialect_suffix(tmp_path: Path) -> None:
    write(tmp_path, "20240115_103000_x.up.oracle.sql")
    with pytest.raises(ConfigError, match=r"unknown dialect 'oracle'.*postgres, mysql"):
        discover(tmp_path, "sqlite")


def test_duplicate_versions_name_both_files(tmp_path: Path) -> None:
    write(tmp_path, "20240115_103000_one.up.sql")
    write(tmp_path, "20240115_103000_two.up.sql")
    with pytest.raises(ConfigError) as err:
        discover(tmp_path, "sqlite")
    assert "20240115_103000_one.up.sql" in str(err.value)
    assert "20240115_103000_two.up.sql" in str(err.value)
    assert "duplicate" in str(err.value)


def test_down_without_up(tmp_path: Path) -> None:
    write(tmp_path, "20240115_103000_x.down.sql")
    with pytest.raises(ConfigError, match=r"20240115_103000_x.down.sql: down file without an up"):
        discover(tmp_path, "sqlite")


def test_up_without_down_is_found_but_cannot_be_read(tmp_path: Path) -> None:
    write(tmp_path, "20240115_103000_x.up.sql")
    (m,) = discover(tmp_path, "duckdb")
    assert m.down_path is None
    with pytest.raises(ConfigError, match=r"20240115_103000_x.down.sql does not exist"):
        m.read_down()


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope does not exist.*-path"):
        discover(tmp_path / "nope", "sqlite")


CANDIDATES = [
    "20240115_103000_create_timeseries_table",
    "20240115_143022_add_indexes",
    "20240116_090000_add_privacy_fields",
    "20240116_090001_add_privacy_fields_index",
]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("20240115_143022_add_indexes", "20240115_143022_add_indexes"),
        ("20240115_143022", "20240115_143022_add_indexes"),
        ("20240115_14", "20240115_143022_add_indexes"),
        ("20240115_add_indexes", "20240115_143022_add_indexes"),
        ("20240115_create", "20240115_103000_create_timeseries_table"),
        ("20240116_add_privacy_fields", "20240116_090000_add_privacy_fields"),
        ("20240116_090000", "20240116_090000_add_privacy_fields"),
        ("20240115_143022_add_indexes.up.sql", "20240115_143022_add_indexes"),
    ],
)
def test_resolve_version(name: str, expected: str) -> None:
    assert resolve_version(CANDIDATES, name) == expected


@pytest.mark.parametrize("name", ["20240115", "20240116_add", "2024"])
def test_resolve_ambiguous_lists_matches(name: str) -> None:
    with pytest.raises(ConfigError, match="ambiguous") as err:
        resolve_version(CANDIDATES, name)
    assert "2024011" in str(err.value)


def test_resolve_unknown_lists_candidates() -> None:
    with pytest.raises(ConfigError) as err:
        resolve_version(CANDIDATES, "20250101_nothing")
    assert "unknown version '20250101_nothing'" in str(err.value)
    for c in CANDIDATES:
        assert c in str(err.value)


def test_create_pair(tmp_path: Path) -> None:
    now = datetime(2024, 1, 15, 14, 30, 22, tzinfo=UTC)
    up, down = create_pair(tmp_path / "migrations", "Add privacy fields!", now)
    assert up.name == "20240115_143022_add_privacy_fields.up.sql"
    assert down.name == "20240115_143022_add_privacy_fields.down.sql"
    assert up.read_text() == "" and down.read_text() == ""
    # same second again: moves on instead of creating a duplicate version
    up2, _ = create_pair(tmp_path / "migrations", "other", now)
    assert up2.name == "20240115_143023_other.up.sql"
    assert [m.version for m in discover(tmp_path / "migrations", "sqlite")] == [
        "20240115_143022_add_privacy_fields",
        "20240115_143023_other",
    ]


def test_create_rejects_empty_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no letters or digits"):
        create_pair(tmp_path, "!!!")
