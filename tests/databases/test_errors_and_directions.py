"""Errors (refused connections, TimescaleDB missing) and database-to-database directions."""

from __future__ import annotations

import socket

import pyarrow as pa
import pytest

from colmig.backends.base import JobInfo
from colmig.config import Settings
from colmig.errors import ConnectionFailedError, TargetError, TransientError
from colmig.registry import open_reader, open_writer
from tests.databases.helpers import arrow_stats, read_all, run_job, sample_table, series_table
from tests.databases.test_roundtrip import write_table


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("scheme", ["postgres", "mysql"])
def test_connection_refused_is_a_clear_redacted_error(scheme: str) -> None:
    url = f"{scheme}://user:Sup3rSecret@127.0.0.1:{_free_port()}/db"
    settings = Settings(table="t")
    with pytest.raises((ConnectionFailedError, TransientError)) as info:
        open_writer(url, settings).prepare(
            series_table(1).schema, JobInfo("j", "r", "file://x"), False
        )
    assert "Sup3rSecret" not in str(info.value) and "127.0.0.1" in str(info.value)
    with pytest.raises((ConnectionFailedError, TransientError)) as info:
        open_reader(url, settings).schema()
    assert "Sup3rSecret" not in str(info.value)


@pytest.mark.postgres
def test_hypertable_without_timescaledb_fails_before_creating_anything(pg_url: str) -> None:
    writer = open_writer(pg_url, Settings(table="ts", hypertable="ts"))
    with pytest.raises(TargetError, match="timescaledb extension"):
        writer.prepare(series_table(1).schema, JobInfo("j", "r", "file://x"), False)
    with pytest.raises(TargetError, match="no such column"):
        open_writer(pg_url, Settings(table="ts", hypertable="nope")).prepare(
            series_table(1).schema, JobInfo("j", "r", "file://x"), False
        )
    assert open_reader(pg_url, Settings(query="SELECT to_regclass('ts') IS NULL AS gone")).schema()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "source",
    [
        pytest.param("pg_url"),
        pytest.param("mariadb_url", marks=pytest.mark.mariadb),
        pytest.param("sqlite_url"),
    ],
)
def test_each_database_to_postgres_keeps_types_and_checksums(
    source: str, pg_url: str, request: pytest.FixtureRequest
) -> None:
    src = str(request.getfixturevalue(source)) if source != "pg_url" else pg_url
    data = sample_table()
    write_table(src, data, Settings(table="src"), JobInfo("seed", "r", "x"))
    settings = Settings(source_table="src", target_table="dst", partition_on="id", partitions=3)
    reader, writer = open_reader(src, settings), open_writer(pg_url, settings)
    job = JobInfo("copy", "run", reader.describe())
    assert run_job(reader, writer, job) == 3
    assert run_job(reader, writer, job) == 0  # resumed: everything is in the ledger
    back = read_all(open_reader(pg_url, Settings(table="dst"))).sort_by("id")
    for name in data.column_names:
        assert back.column(name).to_pylist() == data.column(name).to_pylist(), name
    plain = data.drop_columns(["f64"])
    total = {n: (0, 0) for n in plain.column_names}
    for partition in reader.plan(64):
        stats = writer.partition_stats(partition, plain.schema, job)
        assert stats is not None
        for name, s in stats.items():
            total[name] = (total[name][0] + s.count, total[name][1] + s.nulls)
    assert total == {n: v[:2] for n, v in arrow_stats(plain).items()}


@pytest.mark.postgres
def test_postgres_to_parquet_streams_arrow(pg_url: str, tmp_path: object) -> None:
    import pyarrow.parquet as pq

    write_table(pg_url, series_table(3000), Settings(table="s"), JobInfo("seed", "r", "x"))
    reader = open_reader(pg_url, Settings(table="s", partition_on="id", partitions=4))
    path = f"{tmp_path}/s.parquet"
    with pq.ParquetWriter(path, reader.schema()) as out:
        for partition in reader.plan(4):
            for batch in reader.read(partition, 500):
                assert batch.num_rows <= 500
                out.write_batch(batch)
    table = pq.read_table(path)
    assert table.num_rows == 3000 and table.schema.field("ts").type == pa.timestamp("us", "UTC")


@pytest.mark.postgres
def test_connection_killed_mid_load_leaves_no_partial_partition(pg_url: str) -> None:
    import adbc_driver_postgresql.dbapi as pg

    from colmig.backends.base import Partition
    from colmig.backends.postgres.connect import libpq_uri as adbc_uri
    from colmig.urls import parse

    settings = Settings(table="cut")
    data = series_table(4000)
    writer = open_writer(pg_url, settings)
    job = JobInfo("cut", "r", "x")
    writer.prepare(data.schema, job, False)

    def batches_then_kill():  # type: ignore[no-untyped-def]
        yield from data.slice(0, 1000).to_batches()
        admin = pg.connect(adbc_uri(parse(pg_url)), autocommit=True)
        with admin, admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname ="
                " current_database() AND pid <> pg_backend_pid()"
            )
            cur.fetchall()
        yield from data.slice(1000).to_batches()

    with pytest.raises((TransientError, TargetError)) as info:
        writer.write_partition(Partition("p0", "all"), batches_then_kill(), data.schema, job)
    assert "colmig-s3cret" not in str(info.value)
    assert writer.committed_partitions(job) == set()
    assert read_all(open_reader(pg_url, settings)).num_rows == 0
    # The engine retries the partition: a new connection, the whole partition, once.
    writer.write_partition(Partition("p0", "all"), data.to_batches(), data.schema, job)
    assert read_all(open_reader(pg_url, settings)).num_rows == 4000
