"""DuckDB reader/writer against real DuckDB files: types, write modes, ledger, partitions, stats."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from colmig.backends.base import Partition
from colmig.config import Settings
from colmig.errors import ConfigError, SourceDataError, TargetError
from colmig.registry import open_reader, open_writer
from tests.databases.helpers import read_all, run_job, series_table
from tests.duckdb_backend.helpers import PARIS, job, wide_table, write_table


def file_of(url: str) -> str:
    return url.removeprefix("duckdb://")


def query(url: str, sql: str) -> list[tuple]:
    with duckdb.connect(file_of(url), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_every_type_round_trips_with_faithful_column_types(duckdb_url: str) -> None:
    table = wide_table()
    write_table(duckdb_url, table, Settings(table="types"), job())
    back = read_all(open_reader(duckdb_url, Settings(table="types"))).sort_by("id")
    assert back.schema.names == table.schema.names
    for field in table.schema:
        got = back.column(field.name).combine_chunks()
        want = table.column(field.name).combine_chunks()
        expected_type = pa.string() if field.type == pa.large_string() else field.type
        assert got.type == expected_type, field.name
        assert got.equals(want.cast(expected_type)), field.name
    declared = dict(
        query(
            duckdb_url,
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'types'",
        )
    )
    assert declared["ts"] == "TIMESTAMP"
    assert declared["tstz"] == "TIMESTAMP WITH TIME ZONE"
    assert declared["ts_ms"] == "TIMESTAMP_MS" and declared["ts_s"] == "TIMESTAMP_S"
    assert declared["ts_ns"] == "TIMESTAMP_NS" and declared["tz_ns"].startswith("TIMESTAMP")
    assert declared["dec"] == "DECIMAL(11,3)" and declared["wide_dec"] == "DECIMAL(38,10)"
    assert declared["i8"] == "TINYINT" and declared["u64"] == "UBIGINT"
    assert declared["flag"] == "BOOLEAN" and declared["txt"] == "VARCHAR"
    assert declared["doc"] == "JSON" and declared["uid"] == "UUID" and declared["bin"] == "BLOB"
    assert declared["tags"] == "VARCHAR[]" and declared["point"].startswith("STRUCT")
    # JSON text is kept byte for byte (validation hashes it).
    assert query(duckdb_url, "SELECT doc::VARCHAR FROM types WHERE id = 1") == [
        ('{"a": [1, 2], "b": "é"}',)
    ]


def test_zoned_timestamps_keep_their_instant(duckdb_url: str) -> None:
    moments = [dt.datetime(2024, 3, 31, 2, 30, tzinfo=PARIS), None]
    table = pa.table({"id": [1, 2], "at": pa.array(moments, pa.timestamp("ms", tz="+01:00"))})
    write_table(duckdb_url, table, Settings(table="zones"), job(), parts=1)
    back = read_all(open_reader(duckdb_url, Settings(table="zones"))).sort_by("id")
    assert back.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert back.column("at").to_pylist() == moments  # aware datetimes compare as instants


def test_hugeint_columns_copy_between_duckdb_files(tmp_path: Path) -> None:
    source = tmp_path / "src.duckdb"
    with duckdb.connect(str(source)) as conn:
        conn.execute("CREATE TABLE h (id INTEGER, big HUGEINT, ubig UHUGEINT)")
        conn.execute(
            "INSERT INTO h VALUES (1, -99999999999999999999999999999999999999,"
            " 99999999999999999999999999999999999999), (2, NULL, NULL), (3, 0, 1)"
        )
    src, dst = f"duckdb://{source}", f"duckdb://{tmp_path / 'dst.duckdb'}"
    reader = open_reader(src, Settings(table="h"))
    assert reader.schema().field("big").type == pa.decimal128(38, 0)
    run_job(reader, open_writer(dst, Settings(table="h")), job())
    assert query(
        dst, "SELECT data_type FROM duckdb_columns() WHERE table_name = 'h' ORDER BY column_index"
    ) == [("INTEGER",), ("HUGEINT",), ("UHUGEINT",)]
    assert query(dst, "SELECT * FROM h ORDER BY id") == query(src, "SELECT * FROM h ORDER BY id")
    with duckdb.connect(str(source)) as conn:
        conn.execute("INSERT INTO h VALUES (4, 170141183460469231731687303715884105727, 0)")
    too_big = open_reader(src, Settings(table="h"))
    with pytest.raises(SourceDataError) as info:
        read_all(too_big)
    assert "\n" not in str(info.value) and str(source) in str(info.value)


def test_ledger_makes_a_partition_commit_exactly_once(duckdb_url: str) -> None:
    data = series_table(500)
    settings = Settings(table="series")
    write_table(duckdb_url, data, settings, job("a"))
    write_table(duckdb_url, data, settings, job("a"))  # same job, same partitions: skipped
    assert read_all(open_reader(duckdb_url, settings)).num_rows == 500
    writer = open_writer(duckdb_url, settings)
    assert writer.committed_partitions(job("a")) == {"p0", "p1"}
    again = writer.write_partition(
        Partition("p0", "again"), data.to_batches(), data.schema, job("a")
    )
    assert again.rows == 250  # the recorded count, nothing written
    assert query(duckdb_url, "SELECT COUNT(*) FROM series") == [(500,)]
    write_table(duckdb_url, data, settings, job("b"))  # another job appends
    assert read_all(open_reader(duckdb_url, settings)).num_rows == 1000
    rows = query(
        duckdb_url, "SELECT job_id, partition_id, rows_written FROM colmig_ledger ORDER BY 1, 2"
    )
    assert rows == [("a", "p0", 250), ("a", "p1", 250), ("b", "p0", 250), ("b", "p1", 250)]
    writer.prepare(data.schema, job("a"), fresh=True)
    assert writer.committed_partitions(job("a")) == set()
    assert writer.committed_partitions(job("b")) == {"p0", "p1"}


def test_failed_partition_leaves_neither_rows_nor_ledger_row(duckdb_url: str) -> None:
    data = series_table(100)
    settings = Settings(table="atomic")
    writer = open_writer(duckdb_url, settings)
    writer.prepare(data.schema, job(), False)

    def failing() -> object:
        yield data.slice(0, 50).to_batches()[0]
        raise SourceDataError("bad row 51")

    with pytest.raises(SourceDataError, match="bad row 51"):
        writer.write_partition(Partition("p0", "p0"), failing(), data.schema, job())
    wrong = data.set_column(0, "id", pa.array(["x"] * 100))
    with pytest.raises(
        TargetError, match="id: source string has no exact conversion to the target's BIGINT"
    ):
        writer.write_partition(Partition("p1", "p1"), wrong.to_batches(), wrong.schema, job())
    assert query(duckdb_url, "SELECT COUNT(*) FROM atomic") == [(0,)]
    assert writer.committed_partitions(job()) == set()
    writer.write_partition(Partition("p0", "p0"), data.to_batches(), data.schema, job())
    assert query(duckdb_url, "SELECT COUNT(*) FROM atomic") == [(100,)]


def test_upsert_on_key_last_row_of_a_key_wins(duckdb_url: str) -> None:
    settings = Settings(table="up", write_mode="upsert", key="id")
    write_table(duckdb_url, series_table(100), settings, job("u1"))
    changed = series_table(100, start=50).set_column(3, "value", pa.array([9.0] * 100))
    write_table(duckdb_url, changed, settings, job("u2"))
    back = read_all(open_reader(duckdb_url, Settings(table="up"))).sort_by("id")
    assert back.num_rows == 150
    assert back.column("value").to_pylist()[:50] == [i * 0.5 for i in range(50)]
    assert set(back.column("value").to_pylist()[50:]) == {9.0}
    twice = pa.concat_tables(
        [series_table(3), series_table(3).set_column(3, "value", pa.array([-1.0] * 3))]
    )
    write_table(duckdb_url, twice, settings, job("u3"), parts=1)
    assert query(duckdb_url, "SELECT value FROM up WHERE id < 3 ORDER BY id") == [(-1.0,)] * 3
    keys = query(
        duckdb_url,
        "SELECT constraint_column_names FROM duckdb_constraints()"
        " WHERE table_name = 'up' AND constraint_type = 'PRIMARY KEY'",
    )
    assert keys == [(["id"],)]


def test_upsert_into_a_table_without_a_key_constraint_merges(duckdb_url: str) -> None:
    write_table(duckdb_url, series_table(10), Settings(table="nokey"), job())
    settings = Settings(table="nokey", write_mode="upsert", key="id")
    write_table(duckdb_url, series_table(5, start=8), settings, job("u"))
    ids = [r[0] for r in query(duckdb_url, "SELECT id FROM nokey ORDER BY id")]
    assert ids == list(range(13))
    with pytest.raises(ConfigError, match="-key"):
        open_writer(duckdb_url, Settings(table="nokey", write_mode="upsert"))


def test_replace_swaps_in_at_finalize(duckdb_url: str) -> None:
    settings = Settings(table="rep", write_mode="replace")
    write_table(duckdb_url, series_table(30), settings, job("r1"))
    writer = open_writer(duckdb_url, settings)
    new = series_table(10, start=1000)
    j = job("r2")
    writer.prepare(new.schema, j, False)
    writer.write_partition(Partition("p0", "all"), new.to_batches(), new.schema, j)
    assert read_all(open_reader(duckdb_url, Settings(table="rep"))).num_rows == 30
    writer.finalize(j)
    back = read_all(open_reader(duckdb_url, Settings(table="rep")))
    assert sorted(back.column("id").to_pylist()) == list(range(1000, 1010))
    tables = query(duckdb_url, "SELECT table_name FROM duckdb_tables() ORDER BY 1")
    assert tables == [("colmig_ledger",), ("rep",)]


def test_rollback_on_error_leaves_target_untouched(duckdb_url: str) -> None:
    write_table(duckdb_url, series_table(20), Settings(table="rb"), job("base"))
    settings = Settings(table="rb", rollback_on_error=True)
    writer = open_writer(duckdb_url, settings)
    data = series_table(20, start=100)
    j = job("failing")
    writer.prepare(data.schema, j, False)
    writer.write_partition(Partition("p0", "half"), data.slice(0, 10).to_batches(), data.schema, j)
    assert query(duckdb_url, "SELECT COUNT(*) FROM rb") == [(20,)]
    writer.rollback(j, ["p0"])
    assert query(duckdb_url, "SELECT COUNT(*) FROM rb") == [(20,)]
    assert writer.committed_partitions(j) == set()
    ok = job("ok")
    writer.prepare(data.schema, ok, False)
    writer.write_partition(Partition("p0", "all"), data.to_batches(), data.schema, ok)
    assert query(duckdb_url, "SELECT COUNT(*) FROM rb") == [(20,)]
    writer.finalize(ok)
    assert query(duckdb_url, "SELECT COUNT(*) FROM rb") == [(40,)]


def test_existing_table_is_checked_column_by_column(duckdb_url: str) -> None:
    with duckdb.connect(file_of(duckdb_url)) as conn:
        conn.execute(
            "CREATE TABLE cmp (id INTEGER, ts TIMESTAMP, device VARCHAR, value DOUBLE,"
            " note VARCHAR NOT NULL)"
        )
    writer = open_writer(duckdb_url, Settings(table="cmp"))
    with pytest.raises(TargetError) as info:
        writer.prepare(series_table(1).schema, job(), False)
    message = str(info.value)
    # The target's schema wins: int64 -> INTEGER and zoned -> TIMESTAMP (UTC wall time) are
    # converted value by value at load time, so only the missing NOT NULL column is refused.
    assert "id:" not in message and "ts:" not in message
    assert "note: NOT NULL without default" in message
    assert "device" not in message and "value" not in message
    narrow = pa.table(
        {
            "id": pa.array([1], pa.int16()),
            "device": ["d"],
            "note": ["n"],
            "value": pa.array([1], pa.int32()),
        }
    )
    write_table(duckdb_url, narrow, Settings(table="cmp"), job("narrow"), parts=1)
    assert query(duckdb_url, "SELECT id, device, value, note FROM cmp") == [(1, "d", 1.0, "n")]


def test_partitioned_reads_cover_every_row_once(duckdb_url: str) -> None:
    write_table(duckdb_url, series_table(1000), Settings(table="part"), job())
    reader = open_reader(duckdb_url, Settings(table="part", partition_on="id", partitions=7))
    parts = reader.plan(100)
    assert len(parts) == 7 and len({p.id for p in parts}) == 7
    assert [p.id for p in parts] == [p.id for p in reader.plan(100)]
    batches = [b for p in parts for b in reader.read(p, 64)]
    assert max(b.num_rows for b in batches) <= 64
    ids = [i for b in batches for i in b.column("id").to_pylist()]
    assert sorted(ids) == list(range(1000))
    windows = open_reader(
        duckdb_url, Settings(table="part", partition_on="ts", partition_window="1h")
    )
    wparts = windows.plan(100)
    assert len(wparts) == 17  # 1000 minutes from midnight span 17 hours
    ids = [i for p in wparts for b in windows.read(p, 500) for i in b.column("id").to_pylist()]
    assert sorted(ids) == list(range(1000))
    by_query = open_reader(
        duckdb_url,
        Settings(
            query="SELECT id, value FROM part WHERE id % 2 = 0", partition_on="id", partitions=3
        ),
    )
    assert sorted(read_all(by_query).column("id").to_pylist()) == list(range(0, 1000, 2))


def test_primary_key_and_nanosecond_bounds_partition_without_losing_rows(duckdb_url: str) -> None:
    with duckdb.connect(file_of(duckdb_url)) as conn:
        conn.execute("CREATE TABLE pk (id BIGINT PRIMARY KEY, moment TIMESTAMP_NS)")
        conn.execute(
            "INSERT INTO pk SELECT range, make_timestamp_ns(range * 1000000001) FROM range(100)"
        )
    keyed = open_reader(duckdb_url, Settings(table="pk", partitions=4))
    parts = keyed.plan(10)
    assert len(parts) == 4 and all(p.spec["column"] == "id" for p in parts)
    assert sorted(read_all(keyed).column("id").to_pylist()) == list(range(100))
    timed = open_reader(duckdb_url, Settings(table="pk", partition_on="moment", partitions=3))
    assert sorted(read_all(timed).column("id").to_pylist()) == list(range(100))


def test_table_lists_and_globs(duckdb_url: str) -> None:
    for name in ("sensor_a", "sensor_b", "other"):
        write_table(duckdb_url, series_table(5), Settings(table=name), job(name), parts=1)
    reader = open_reader(duckdb_url, Settings(table="sensor_*"))
    assert [c.source for c in reader.choices] == ["sensor_a", "sensor_b"]
    assert read_all(reader).num_rows == 10


def test_reader_and_writer_pickle_to_workers(duckdb_url: str, tmp_path: Path) -> None:
    import pickle

    write_table(duckdb_url, series_table(50), Settings(table="src"), job())
    settings = Settings(source_table="src", target_table="dst", partition_on="id", partitions=2)
    reader = open_reader(duckdb_url, settings)
    target = f"duckdb://{tmp_path}/out.duckdb"
    writer = open_writer(target, settings)
    schema = reader.schema()
    writer.prepare(schema, job("copy"), False)
    parts = reader.plan(2)
    worker_reader, worker_writer = pickle.loads(pickle.dumps((reader, writer)))
    for part in parts:
        worker_writer.write_partition(part, worker_reader.read(part, 10), schema, job("copy"))
    assert writer.committed_partitions(job("copy")) == {p.id for p in parts}
    assert query(target, "SELECT COUNT(*) FROM dst") == [(50,)]


def test_less_common_arrow_types_load_and_read_back(duckdb_url: str) -> None:
    import numpy as np

    table = pa.table(
        {
            "id": [1, 2],
            "t32": pa.array([dt.time(1, 2, 3), None], pa.time32("ms")),
            "dur": pa.array([1_000_000, None], pa.duration("us")),
            "fsl": pa.array([[1, 2], None], pa.list_(pa.int32(), 2)),
            "mp": pa.array([[("a", 1)], None], pa.map_(pa.string(), pa.int64())),
            "d64": pa.array([dt.date(2020, 1, 1), None], pa.date64()),
            "f16": pa.array([np.float16(1.5), None], pa.float16()),
            "d256": pa.array([Decimal("1.25"), None], pa.decimal256(10, 2)),
            "sv": pa.array(["x", None], pa.string_view()),
            "dic": pa.array(["a", None]).dictionary_encode(),
        }
    )
    write_table(duckdb_url, table, Settings(table="odd"), job(), parts=1)
    back = read_all(open_reader(duckdb_url, Settings(table="odd"))).sort_by("id")
    row = back.to_pylist()[0]
    assert row["t32"] == dt.time(1, 2, 3) and row["fsl"] == [1, 2] and row["mp"] == [("a", 1)]
    assert row["dur"].nanoseconds == 1_000_000_000 and row["d64"] == dt.date(2020, 1, 1)
    assert row["f16"] == 1.5 and row["d256"] == Decimal("1.25")
    assert row["sv"] == "x" and row["dic"] == "a"
    assert all(value is None for key, value in back.to_pylist()[1].items() if key != "id")
    wide = pa.table({"n": pa.array([Decimal(10) ** 40], pa.decimal256(45, 0))})
    with pytest.raises(TargetError, match=r"n: .*DECIMAL\(38\)"):
        write_table(duckdb_url, wide, Settings(table="wide"), job("w"), parts=1)
