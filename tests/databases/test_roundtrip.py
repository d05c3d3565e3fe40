"""Writers and readers against real databases: type round trips, write modes, partitions, stats."""

from __future__ import annotations

import pyarrow as pa
import pytest

from colmig.backends.base import JobInfo, Partition
from colmig.config import Settings
from colmig.errors import ConfigError, TargetError
from colmig.registry import open_reader, open_writer
from tests.databases.helpers import arrow_stats, read_all, sample_table, series_table

DATABASES = [
    pytest.param("sqlite_url", id="sqlite"),
    pytest.param("pg_url", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb_url", id="mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


def job(name: str = "job", source: str = "file://./data/sample") -> JobInfo:
    return JobInfo(job_id=name, run_id="run-1", source_redacted=source)


def write_table(url: str, table: pa.Table, settings: Settings, j: JobInfo, parts: int = 2) -> None:
    writer = open_writer(url, settings)
    try:
        writer.prepare(table.schema, j, False)
        size = max(1, -(-table.num_rows // parts))
        for index, offset in enumerate(range(0, table.num_rows, size)):
            part = Partition(f"p{index}", f"rows {offset}+")
            writer.write_partition(part, table.slice(offset, size).to_batches(), table.schema, j)
        writer.finalize(j)
    finally:
        writer.close()


def test_every_mapped_type_round_trips(db_url: str) -> None:
    table = sample_table()
    write_table(db_url, table, Settings(table="types"), job())
    back = read_all(open_reader(db_url, Settings(table="types"))).sort_by("id")
    assert back.schema.names == table.schema.names
    for name in table.column_names:
        assert back.column(name).to_pylist() == table.column(name).to_pylist(), name


def test_append_twice_and_ledger_makes_rewrites_idempotent(db_url: str) -> None:
    data = series_table(500)
    settings = Settings(table="series")
    write_table(db_url, data, settings, job("a"))
    write_table(db_url, data, settings, job("a"))  # same job, same partitions: no duplicates
    assert read_all(open_reader(db_url, settings)).num_rows == 500
    write_table(db_url, data, settings, job("b"))  # another job appends
    assert read_all(open_reader(db_url, settings)).num_rows == 1000
    writer = open_writer(db_url, settings)
    assert writer.committed_partitions(job("a")) == {"p0", "p1"}


def test_upsert_on_key(db_url: str) -> None:
    settings = Settings(table="up", write_mode="upsert", key="id")
    write_table(db_url, series_table(100), settings, job("u1"))
    changed = series_table(100, start=50).set_column(3, "value", pa.array([9.0] * 100))
    write_table(db_url, changed, settings, job("u2"))
    back = read_all(open_reader(db_url, Settings(table="up"))).sort_by("id")
    assert back.num_rows == 150
    assert back.column("value").to_pylist()[:50] == [i * 0.5 for i in range(50)]
    assert set(back.column("value").to_pylist()[50:]) == {9.0}


def test_replace_swaps_in_at_finalize(db_url: str) -> None:
    settings = Settings(table="rep", write_mode="replace")
    write_table(db_url, series_table(30), settings, job("r1"))
    writer = open_writer(db_url, settings)
    new = series_table(10, start=1000)
    j = job("r2")
    writer.prepare(new.schema, j, False)
    writer.write_partition(Partition("p0", "all"), new.to_batches(), new.schema, j)
    # Before finalize, readers still see the old, complete table.
    assert read_all(open_reader(db_url, Settings(table="rep"))).num_rows == 30
    writer.finalize(j)
    back = read_all(open_reader(db_url, Settings(table="rep")))
    assert sorted(back.column("id").to_pylist()) == list(range(1000, 1010))


def test_rollback_on_error_leaves_target_untouched(db_url: str) -> None:
    write_table(db_url, series_table(20), Settings(table="rb"), job("base"))
    settings = Settings(table="rb", rollback_on_error=True)
    writer = open_writer(db_url, settings)
    data = series_table(20, start=100)
    j = job("failing")
    writer.prepare(data.schema, j, False)
    writer.write_partition(
        Partition("p0", "first half"), data.slice(0, 10).to_batches(), data.schema, j
    )
    assert read_all(open_reader(db_url, Settings(table="rb"))).num_rows == 20
    writer.rollback(j, ["p0"])  # type: ignore[attr-defined]
    writer.finalize(j)
    assert read_all(open_reader(db_url, Settings(table="rb"))).num_rows == 20
    assert writer.committed_partitions(j) == set()


def test_incompatible_existing_table_is_reported_column_by_column(db_url: str) -> None:
    write_table(db_url, series_table(5), Settings(table="cmp"), job())
    other = pa.table({"id": pa.array(["x"]), "ts": pa.array([1.5]), "extra": pa.array([1])})
    writer = open_writer(db_url, Settings(table="cmp"))
    with pytest.raises(TargetError) as info:
        writer.prepare(other.schema, job("other"), False)
    message = str(info.value)
    assert "id" in message and "ts" in message and "extra: missing" in message
    assert "***" in message or "password" not in message


def test_partitioned_parallel_reads_cover_every_row_once(db_url: str) -> None:
    write_table(db_url, series_table(1000), Settings(table="part"), job())
    reader = open_reader(db_url, Settings(table="part", partition_on="id", partitions=7))
    parts = reader.plan(100)
    assert len(parts) == 7 and len({p.id for p in parts}) == 7
    assert [p.id for p in parts] == [p.id for p in reader.plan(100)]
    ids = [i for p in parts for b in reader.read(p, 64) for i in b.column("id").to_pylist()]
    assert sorted(ids) == list(range(1000))
    windows = open_reader(db_url, Settings(table="part", partition_on="ts", partition_window="1h"))
    wparts = windows.plan(100)
    assert len(wparts) == 17  # 1000 minutes from midnight span 17 hours
    assert sum(b.num_rows for p in wparts for b in windows.read(p, 500)) == 1000


def test_query_replaces_table(db_url: str) -> None:
    write_table(db_url, series_table(100), Settings(table="q"), job())
    reader = open_reader(db_url, Settings(query="SELECT id, value FROM q WHERE id < 10"))
    assert read_all(reader).num_rows == 10
    with pytest.raises(ConfigError):
        open_reader(db_url, Settings()).schema()


@pytest.mark.parametrize(
    "db",
    [
        pytest.param("pg_url", marks=pytest.mark.postgres),
        pytest.param("mariadb_url", marks=pytest.mark.mariadb),
    ],
)
def test_database_side_stats_equal_arrow_side_stats(
    db: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(db))
    table = sample_table().drop_columns(["f64"])
    settings = Settings(table="stats")
    write_table(url, table, settings, job(), parts=1)
    reader = open_reader(url, Settings(table="stats", partition_on="id", partitions=1))
    partition = reader.plan(1)[0]
    stats = open_writer(url, settings).partition_stats(partition, table.schema, job())
    assert stats is not None
    expected = arrow_stats(table)
    got = {name: (s.count, s.nulls, s.checksum) for name, s in stats.items()}
    assert got == expected
