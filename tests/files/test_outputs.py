"""What the files target writes: Parquet codecs, row groups, file rollover, other formats,
hive partitioning with safe escaping, types kept exactly, atomic and deterministic files."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from colmig.backends.base import JobInfo, Partition
from colmig.config import Settings
from colmig.engine.checksums import table_stats
from colmig.registry import open_writer
from tests.files.helpers import (
    cli_ok,
    data_args,
    output_files,
    read_output,
    readings,
    run_parallel,
    sort_by_id,
    tricky,
)


def _codecs(path: Path) -> set[str]:
    meta = pq.ParquetFile(path).metadata
    return {
        meta.row_group(g).column(c).compression
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
    }


def _parquet_files(root: Path) -> list[Path]:
    return [p for p in output_files(root) if p.suffix == ".parquet"]


def test_cli_default_parquet_keeps_types_and_is_deterministic(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(tricky(), src / "tricky.parquet")
    out = cli_ok(run_cli(*data_args("file://./in", "file://./out", "-validate")))
    assert "4 rows written" in out and "validated 1 partition(s)" in out
    files = output_files(tmp_path / "out")
    assert len(files) == 1 and files[0].name.startswith("part-"), files
    assert _codecs(files[0]) == {"ZSTD"}
    got = sort_by_id(read_output(tmp_path / "out"))
    # Zones, decimal scale, int64 extremes, unicode and nulls come back exactly.
    assert got.schema.equals(tricky().schema)
    assert got.equals(tricky())
    via_duckdb = duckdb.sql(
        f"SELECT big, amount::VARCHAR, text FROM read_parquet('{files[0]}') ORDER BY id"
    ).fetchall()
    assert via_duckdb[0] == (2**63 - 1, "12345.6789", "plain")
    assert via_duckdb[1] == (-(2**63), "-0.0001", "ünïcødé ✓")

    # -fresh rewrites the same names: no second copy of any row.
    cli_ok(run_cli(*data_args("file://./in", "file://./out", "-fresh")))
    assert output_files(tmp_path / "out") == files
    assert read_output(tmp_path / "out").num_rows == 4
    # Nothing temporary or hidden is left behind.
    assert not [p for p in (tmp_path / "out").rglob(".*")]
    assert not [p for p in (tmp_path / "out").rglob("*.tmp")]


def test_cli_snappy_row_groups_and_rollover(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(readings(6000), src / "big.parquet")
    args = ["-compression", "snappy", "-row-group-size", "1000", "-target-file-size", "24KB"]
    cli_ok(run_cli(*data_args("file://./in", "file://./out", "-validate", *args)))
    files = _parquet_files(tmp_path / "out")
    assert len(files) >= 3, files
    for path in files:
        assert _codecs(path) == {"SNAPPY"}
        meta = pq.ParquetFile(path).metadata
        assert all(meta.row_group(g).num_rows <= 1000 for g in range(meta.num_row_groups))
    got = sort_by_id(read_output(tmp_path / "out"))
    assert got.column("id").to_pylist() == list(range(6000))


@pytest.mark.slow
def test_cli_other_target_formats(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(readings(50), src / "r.parquet")
    formats = ["csv", "jsonl", "arrow"]
    runs = [data_args("file://./in", f"file://./{f}", "-target-format", f) for f in formats]
    runs = [[*args, "-validate"] for args in runs]
    results = run_parallel(run_cli, *runs)
    for fmt, result in zip(formats, results, strict=True):
        assert "validated 1 partition(s)" in cli_ok(result)
        files = output_files(tmp_path / fmt)
        assert len(files) == 1 and files[0].suffix == f".{fmt}", files
        if fmt == "csv":
            got = pacsv.read_csv(files[0])
        elif fmt == "arrow":
            got = pa.ipc.open_file(pa.memory_map(str(files[0]))).read_all()
        else:
            rows = [json.loads(line) for line in files[0].read_text().splitlines()]
            got = pa.Table.from_pylist(rows)
        expected = readings(50)
        got = sort_by_id(got)
        assert got.column("id").to_pylist() == list(range(50))
        assert got.column("value").to_pylist() == expected.column("value").to_pylist()
        if fmt == "arrow":
            assert got.equals(expected)


def _partition_source(tmp_path: Path) -> pa.Table:
    table = readings(300, minutes=13)  # about 2.7 days
    table = table.set_column(2, "sensor_id", pa.array(["s1", "s2", "../../etc"] * 100, pa.string()))
    (tmp_path / "in").mkdir()
    pq.write_table(table, tmp_path / "in" / "r.parquet")
    return table


LAYOUTS = {
    "day": ("day(timestamp)", ["day"]),
    "sensor": ("sensor_id", ["sensor_id"]),
    "both": ("day(timestamp),sensor_id", ["day", "sensor_id"]),
}


def test_cli_partition_by(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = _partition_source(tmp_path)
    results = run_parallel(
        run_cli,
        *[
            data_args("file://./in", f"file://./{name}", "-partition-by", spec, "-validate")
            for name, (spec, _) in LAYOUTS.items()
        ],
    )
    for (name, (_, levels)), result in zip(LAYOUTS.items(), results, strict=True):
        cli_ok(result)
        _check_layout(tmp_path / name, levels, source)
    assert not (tmp_path / "etc").exists()


def _check_layout(out: Path, levels: list[str], source: pa.Table) -> None:
    files = _parquet_files(out)
    for path in files:
        relative = path.relative_to(out).parts
        assert [part.split("=")[0] for part in relative[:-1]] == levels, relative
        assert out.resolve() in path.resolve().parents
        columns = pq.read_schema(path).names
        # Plain keys live only in the path; derived keys keep their source column.
        assert ("sensor_id" in columns) == ("sensor_id" not in levels)
        assert "timestamp" in columns
    if "day" in levels:
        days = {p.relative_to(out).parts[0] for p in files}
        assert days == {"day=2024-03-01", "day=2024-03-02", "day=2024-03-03"}
    if "sensor_id" in levels:
        sensors = {p.parent.name for p in files}
        assert sensors == {"sensor_id=s1", "sensor_id=s2", "sensor_id=%2E.%2F..%2Fetc"}
    got = sort_by_id(ds.dataset(str(out), format="parquet", partitioning="hive").to_table())
    assert got.num_rows == 300
    assert got.column("sensor_id").to_pylist() == source.column("sensor_id").to_pylist()
    assert got.column("timestamp").equals(source.column("timestamp"))
    rows = duckdb.sql(
        f"SELECT count(*), count(DISTINCT sensor_id), min(id), max(id) FROM"
        f" read_parquet('{out}/**/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert rows == [(300, 3, 0, 299)]


NASTY = ["../../etc", "a/b", ".", "..", "", None, "%2F", "x=y", "back\\slash", ".hidden", "ok"]


def test_partition_values_are_escaped_inside_the_target(tmp_path: Path) -> None:
    table = pa.table({"id": list(range(len(NASTY))), "key": pa.array(NASTY, pa.string())})
    target = tmp_path / "deep" / "out"
    writer = open_writer(f"file://{target}", Settings(partition_by="key"))
    job = JobInfo(job_id="job1", run_id="run1", source_redacted="test")
    writer.prepare(table.schema, job, fresh=False)
    result = writer.write_partition(Partition("p1", "test"), table.to_batches(), table.schema, job)
    assert result.rows == len(NASTY)
    files = output_files(tmp_path)
    assert len(files) == len(NASTY)
    for path in files:
        assert target.resolve() in path.resolve().parents, path
        relative = path.relative_to(target).parts
        assert len(relative) == 2 and relative[0].startswith("key="), relative
        assert not relative[0][4:].startswith("."), relative
    got = ds.dataset(str(target), format="parquet", partitioning="hive").to_table().sort_by("id")
    # pyarrow decodes the percent escapes and reads "key=" as the empty string.
    assert got.column("key").to_pylist() == NASTY
    # -validate reads the keys back from the directory names exactly.
    stats = writer.partition_stats(Partition("p1", "test"), table.schema, job)
    assert stats == table_stats(table.to_batches(), table.schema)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl", "arrow"])
def test_every_target_format_reads_back_exactly(tmp_path: Path, fmt: str) -> None:
    """What -validate reads back from each format equals what was written, tricky types too."""
    table = tricky()
    if fmt == "jsonl":
        # JSON has no infinity (polars writes null; -validate reports that as a mismatch).
        table = table.set_column(7, "ratio", pa.array([0.1, 2.5, None, -1e300]))
    writer = open_writer(f"file://{tmp_path / 'out'}", Settings(target_format=fmt))
    job = JobInfo(job_id="job1", run_id="run1", source_redacted="test")
    writer.prepare(table.schema, job, fresh=False)
    part = Partition("p1", "test")
    result = writer.write_partition(part, table.to_batches(max_chunksize=3), table.schema, job)
    assert result.rows == 4 and result.outputs[0].endswith(f".{fmt}")
    assert writer.partition_stats(part, table.schema, job) == table_stats(
        table.to_batches(), table.schema
    )


def test_writer_rollover_and_failed_partition_leaves_nothing(tmp_path: Path) -> None:
    table = readings(4000)
    target = tmp_path / "out"
    settings = Settings(target_file_size="8KB", row_group_size=500)
    writer = open_writer(f"file://{target}", settings)
    job = JobInfo(job_id="job1", run_id="run1", source_redacted="test")
    writer.prepare(table.schema, job, fresh=False)
    result = writer.write_partition(
        Partition("p1", "test"), table.to_batches(max_chunksize=500), table.schema, job
    )
    assert len(result.outputs) == len(output_files(target)) >= 3
    # A file closes at the first row group that takes it past the size, not much later.
    assert all(p.stat().st_size < 8000 + 8000 for p in output_files(target))
    assert sum(pq.ParquetFile(p).metadata.num_rows for p in output_files(target)) == 4000

    def failing() -> object:
        yield from table.to_batches(max_chunksize=500)[:3]
        raise RuntimeError("source went away")

    with pytest.raises(Exception, match="source went away"):
        writer.write_partition(Partition("p2", "test2"), failing(), table.schema, job)
    # The failed partition left neither temp files nor half-written finals.
    assert len(output_files(target)) == len(result.outputs)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "arrow"])
def test_plain_keys_of_every_type_read_back_for_validation(tmp_path: Path, fmt: str) -> None:
    table = tricky().append_column("n", pa.array([5, -1, 5, None], pa.int64()))
    keys = "n,flag,local,amount,at"
    settings = Settings(partition_by=keys, target_format=fmt)
    writer = open_writer(f"file://{tmp_path / 'out'}", settings)
    job = JobInfo(job_id="job1", run_id="run1", source_redacted="test")
    writer.prepare(table.schema, job, fresh=False)
    part = Partition("p1", "test")
    writer.write_partition(part, table.to_batches(), table.schema, job)
    if fmt == "parquet":
        for path in output_files(tmp_path / "out"):
            assert not set(pq.read_schema(path).names) & {"n", "flag", "local", "amount"}
    assert writer.partition_stats(part, table.schema, job) == table_stats(
        table.to_batches(), table.schema
    )


def test_cleanup_removes_only_leftovers_of_uncommitted_partitions(tmp_path: Path) -> None:
    table = readings(10)
    target = tmp_path / "out"
    writer = open_writer(f"file://{target}", Settings(partition_by="sensor_id"))
    job = JobInfo(job_id="job1", run_id="run1", source_redacted="test")
    writer.prepare(table.schema, job, fresh=False)
    done = writer.write_partition(Partition("p1", "one"), table.to_batches(), table.schema, job)
    kept = output_files(target)
    # What a killed run leaves of partition p2: a temp file and a finished but unrecorded file.
    writer.write_partition(Partition("p2", "two"), table.to_batches(), table.schema, job)
    leftovers = [p for p in output_files(target) if p not in kept]
    temp = leftovers[0].parent / f".{leftovers[0].name}.tmp"
    temp.write_bytes(b"half a file")
    (target / "other-tool.parquet").write_bytes(b"not ours")
    removed = writer.cleanup(job, ["p1", "p2"], committed={"p1"})
    assert removed == len(leftovers) + 1
    assert output_files(target) == sorted([*kept, target / "other-tool.parquet"])
    assert len(done.outputs) == len(kept)


def test_partition_key_names_must_be_safe_directory_names(tmp_path: Path) -> None:
    from colmig.errors import ConfigError

    table = pa.table({"id": [1], "../up": ["x"]})
    writer = open_writer(f"file://{tmp_path / 'out'}", Settings(partition_by="../up"))
    job = JobInfo(job_id="job1", run_id="run1", source_redacted="test")
    with pytest.raises(ConfigError, match="cannot be a directory name"):
        writer.prepare(table.schema, job, fresh=False)
    assert not list(tmp_path.rglob("*.parquet"))
