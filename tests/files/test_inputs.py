"""Which files a source URL reads: a file, a directory (recursive or not), a glob, hive
directories, and what is ignored; a missing source is a clear configuration error."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from colmig.config import Settings
from colmig.errors import ConfigError
from colmig.registry import open_reader
from tests.files.helpers import (
    cli_ok,
    data_args,
    read_output,
    read_source,
    readings,
    run_parallel,
    sort_by_id,
    write_input,
)


def _archive(root: Path) -> None:
    """ids 0-1 top level, 10-11 one level down, 20-21 two levels down (gzip), plus noise."""
    write_input(root / "a.csv", readings(2, 0), "csv")
    write_input(root / "2024" / "b.jsonl", readings(2, 10), "jsonl")
    write_input(root / "2024" / "03" / "c.csv.gz", readings(2, 20), "csv", "gz")
    (root / "_SUCCESS").write_text("")
    (root / "2024" / "_SUCCESS").write_text("")
    (root / ".DS_Store").write_bytes(b"\x00\x01")
    (root / "notes.md").write_text("# not data\n")
    write_input(root / ".hidden.csv", readings(1, 90), "csv")
    write_input(root / "2024" / ".part-0.parquet.tmp", readings(1, 91), "parquet")
    write_input(root / "_temporary" / "0" / "task.csv", readings(1, 92), "csv")
    write_input(root / ".staging" / "x.parquet", readings(1, 93), "parquet")


def _ids(table: pa.Table) -> list[int]:
    return sorted(table.column("id").to_pylist())


def test_directory_recursive_by_default_ignores_noise(tmp_path: Path) -> None:
    _archive(tmp_path / "in")
    got = read_source(f"file://{tmp_path / 'in'}")
    assert _ids(got) == [0, 1, 10, 11, 20, 21]


def test_directory_no_recursive(tmp_path: Path) -> None:
    _archive(tmp_path / "in")
    assert _ids(read_source(f"file://{tmp_path / 'in'}", recursive=False)) == [0, 1]


@pytest.mark.parametrize(
    ("pattern", "ids"),
    [
        ("*.csv", [0, 1]),
        ("2024/*", [10, 11]),
        ("**/*.csv*", [0, 1, 20, 21]),
        ("2024/0[0-9]/c.csv.gz", [20, 21]),
    ],
)
def test_glob(tmp_path: Path, pattern: str, ids: list[int]) -> None:
    _archive(tmp_path / "in")
    assert _ids(read_source(f"file://{tmp_path / 'in'}/{pattern}")) == ids


def test_single_file_and_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _archive(tmp_path / "in")
    monkeypatch.chdir(tmp_path)
    assert _ids(read_source("file://./in/2024/b.jsonl")) == [10, 11]
    assert _ids(read_source("in/a.csv")) == [0, 1]


def test_hive_directories_become_columns(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_input(src / "site=a" / "day=2024-03-01" / "x.parquet", readings(2, 0), "parquet")
    write_input(src / "site=b" / "day=2024-03-02" / "y.parquet", readings(2, 2), "parquet")
    write_input(src / "site=b" / "day=2024-03-03" / "z.parquet", readings(1, 4), "parquet")
    write_input(src / "site=%2Fodd" / "day=__HIVE_DEFAULT_PARTITION__" / "n.parquet",
                readings(1, 5), "parquet")  # fmt: skip
    (src / "site=b" / "day=2024-03-02" / "_SUCCESS").write_text("")
    got = sort_by_id(read_source(f"file://{src}"))
    assert got.schema.names == ["id", "timestamp", "sensor_id", "value", "site", "day"]
    assert got.column("site").to_pylist() == ["a", "a", "b", "b", "b", "/odd"]
    assert got.column("day").to_pylist() == [
        "2024-03-01", "2024-03-01", "2024-03-02", "2024-03-02", "2024-03-03", None
    ]  # fmt: skip


def test_hive_numeric_values_are_integers(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_input(src / "year=2023" / "a.csv", readings(1, 0), "csv")
    write_input(src / "year=2024" / "b.csv", readings(1, 1), "csv")
    got = sort_by_id(read_source(f"file://{src}"))
    assert got.schema.field("year").type == pa.int64()
    assert got.column("year").to_pylist() == [2023, 2024]


def test_hive_column_also_in_the_file_keeps_the_file_value(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_input(src / "sensor_id=pa-t01" / "a.parquet", readings(3, 0), "parquet")
    got = sort_by_id(read_source(f"file://{src}"))
    assert got.column("sensor_id").to_pylist() == readings(3, 0).column("sensor_id").to_pylist()


def test_empty_directory_and_unmatched_glob(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_SUCCESS").write_text("")
    with pytest.raises(ConfigError, match="no data files found"):
        open_reader(f"file://{tmp_path / 'empty'}", Settings()).schema()
    with pytest.raises(ConfigError, match="no data files found"):
        open_reader(f"file://{tmp_path}/*.parquet", Settings()).schema()


@pytest.mark.slow
def test_cli_directory_glob_and_no_recursive(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _archive(tmp_path / "in")
    runs = [
        data_args("file://./in", "file://./all"),
        data_args("file://./in", "file://./top", "-no-recursive"),
        data_args("file://./in/**/*.csv.gz", "file://./glob"),
    ]
    for result in run_parallel(run_cli, *runs):
        cli_ok(result)
    assert _ids(read_output(tmp_path / "all")) == [0, 1, 10, 11, 20, 21]
    assert _ids(read_output(tmp_path / "top")) == [0, 1]
    assert _ids(read_output(tmp_path / "glob")) == [20, 21]


def test_cli_hive_input(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "in"
    pq.write_table(readings(2, 0), _mkdir(src / "site=a" / "day=2024-03-01") / "x.parquet")
    pq.write_table(readings(2, 2), _mkdir(src / "site=b" / "day=2024-03-02") / "x.parquet")
    (src / "site=a" / "_SUCCESS").write_text("")
    cli_ok(run_cli(*data_args("file://./in", "file://./out", "-validate")))
    got = sort_by_id(read_output(tmp_path / "out"))
    assert got.column("site").to_pylist() == ["a", "a", "b", "b"]
    assert got.column("day").to_pylist() == ["2024-03-01"] * 2 + ["2024-03-02"] * 2


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_cli_missing_source(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*data_args("file://./no/such/dir", "file://./out"))
    assert result.returncode == 2, result.stderr
    assert "no/such/dir" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_zero_byte_files_are_skipped(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_input(src / "a.csv", readings(2), "csv")
    for name in ("empty.csv", "empty.jsonl", "empty.parquet"):
        (src / name).write_bytes(b"")
    assert _ids(read_source(f"file://{src}")) == [0, 1]
    with pytest.raises(ConfigError, match="empty"):
        read_source(f"file://{src}/empty.*")


def test_large_parquet_splits_by_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import colmig.backends.files.reader as reader_module

    monkeypatch.setattr(reader_module, "PARQUET_ROWS", 250)
    path = tmp_path / "big.parquet"
    pq.write_table(readings(1000), path, row_group_size=100)
    reader = open_reader(f"file://{path}", Settings())
    partitions = reader.plan(8)
    assert [p.spec["row_groups"] for p in partitions] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert [p.estimated_rows for p in partitions] == [300, 300, 300, 100]
    ids = [i for p in partitions for b in reader.read(p, 64) for i in b.column("id").to_pylist()]
    assert sorted(ids) == list(range(1000))


def test_arrow_ipc_stream_and_file_forms(tmp_path: Path) -> None:
    table = readings(5)
    for name, new in (("stream.arrow", pa.ipc.new_stream), ("file.feather", pa.ipc.new_file)):
        sink = pa.OSFile(str(tmp_path / name), "wb")
        with sink, new(sink, table.schema) as writer:
            writer.write_table(table)
    for name in ("stream.arrow", "file.feather"):
        assert read_source(f"file://{tmp_path / name}").equals(table), name


def test_duplicate_column_names_are_an_error_not_a_lost_column(tmp_path: Path) -> None:
    from colmig.errors import SourceDataError

    path = tmp_path / "dup.csv"
    path.write_text("a,a,b\n1,2,3\n")
    with pytest.raises(SourceDataError, match=r"dup\.csv: column 'a' appears twice"):
        read_source(f"file://{path}")
    got = read_source(f"file://{path}", header=False)  # the way out: generated names
    assert got.column("column_2").to_pylist() == ["a", "2"]


def test_inconsistent_hive_layout_adds_no_columns_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "in"
    write_input(src / "site=a" / "x.csv", readings(1, 0), "csv")
    write_input(src / "loose.csv", readings(1, 1), "csv")
    got = read_source(f"file://{src}")
    assert "site" not in got.schema.names and _ids(got) == [0, 1]
    assert "hive directories ignored" in caplog.text
