"""Bad paths and missing tables: one clear line naming the file, typed errors, no traceback."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from colmig.backends.base import Partition
from colmig.config import Settings
from colmig.errors import ConfigError, ConnectionFailedError, SourceDataError, TargetError
from colmig.registry import open_reader, open_writer
from colmig.urls import parse
from tests.databases.helpers import read_all, series_table
from tests.duckdb_backend.helpers import job, write_table


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_missing_database_file(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path}/nope.duckdb"
    with pytest.raises(ConnectionFailedError) as info:
        open_reader(url, Settings(table="t"))
    assert f"{tmp_path}/nope.duckdb" in one_line(info.value)


def test_relative_and_absolute_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse("duckdb://data/rel.duckdb").path == "data/rel.duckdb"
    write_table("duckdb://data/rel.duckdb", series_table(3), Settings(table="t"), job(), parts=1)
    assert (tmp_path / "data" / "rel.duckdb").is_file()
    absolute = f"duckdb://{tmp_path}/data/rel.duckdb"
    assert read_all(open_reader(absolute, Settings(table="t"))).num_rows == 3
    with pytest.raises(ConnectionFailedError) as info:
        open_reader("duckdb://data/other.duckdb", Settings(table="t"))
    assert "duckdb://data/other.duckdb" in one_line(info.value)
    assert str(tmp_path / "data" / "other.duckdb") in str(info.value)


def test_missing_table_names_the_file_and_table(duckdb_url: str) -> None:
    write_table(duckdb_url, series_table(3), Settings(table="present"), job(), parts=1)
    with pytest.raises(SourceDataError) as info:
        open_reader(duckdb_url, Settings(table="absent")).schema()
    message = one_line(info.value)
    assert duckdb_url in message and "absent" in message
    with pytest.raises(ConfigError, match="matches no table"):
        open_reader(duckdb_url, Settings(table="abs*")).schema()
    with pytest.raises(SourceDataError) as info:
        open_reader(duckdb_url, Settings(query="SELECT nope FROM present")).schema()
    assert duckdb_url in one_line(info.value)


def test_not_a_database_file(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("just some text, not a database\n" * 100)
    url = f"duckdb://{bogus}"
    with pytest.raises(ConnectionFailedError) as info:
        open_reader(url, Settings(table="t")).schema()
    assert str(bogus) in one_line(info.value)
    with pytest.raises(ConnectionFailedError) as info:
        open_writer(url, Settings(table="t")).prepare(series_table(1).schema, job(), False)
    assert str(bogus) in one_line(info.value)


def test_unwritable_target_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    url = f"duckdb://{blocker}/sub/db.duckdb"
    writer = open_writer(url, Settings(table="t"))
    with pytest.raises(ConnectionFailedError) as info:
        writer.prepare(series_table(1).schema, job(), False)
    assert str(blocker) in one_line(info.value)


def test_url_without_a_path() -> None:
    with pytest.raises(ConfigError, match="needs a database file"):
        open_writer("duckdb://", Settings(table="t"))
    with pytest.raises(ConfigError, match="needs a database file"):
        open_reader("duckdb://", Settings(table="t"))


def test_rows_the_target_refuses_name_the_partition_and_file(duckdb_url: str) -> None:
    settings = Settings(table="strict")
    data = series_table(4)
    writer = open_writer(duckdb_url, settings)
    writer.prepare(data.schema.set(0, data.schema.field(0).with_nullable(False)), job(), False)
    nulls = data.set_column(0, "id", pa.array([None, 1, 2, 3], pa.int64()))
    with pytest.raises(TargetError) as info:
        writer.write_partition(Partition("p9", "rows 0+"), nulls.to_batches(), nulls.schema, job())
    message = one_line(info.value)
    assert "rows 0+" in message and duckdb_url in message and "NOT NULL" in message
    assert writer.committed_partitions(job()) == set()
