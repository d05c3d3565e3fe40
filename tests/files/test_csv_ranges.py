"""Large uncompressed CSV files split into byte ranges: every row read exactly once whatever
the borders, no split of files with quotes, and one such split through the CLI."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import colmig.backends.files.reader as reader_module
from colmig.backends.base import Partition
from colmig.config import Settings
from colmig.registry import open_reader
from tests.files.helpers import cli_ok, data_args, read_output


def _small_ranges(monkeypatch: pytest.MonkeyPatch, split: int, size: int) -> None:
    monkeypatch.setattr(reader_module, "CSV_SPLIT", split)
    monkeypatch.setattr(reader_module, "CSV_RANGE", size)


def _write(path: Path, rows: int, trailing_newline: bool, header: bool = True) -> None:
    lines = [f"{i},name-{i},{i * 0.5}" for i in range(rows)]
    text = ("id,name,value\n" if header else "") + "\n".join(lines)
    path.write_text(text + ("\n" if trailing_newline else ""))


def _read_all(url: str, **settings: object) -> tuple[list[Partition], pa.Table]:
    reader = open_reader(url, Settings(**settings))  # type: ignore[arg-type]
    partitions = reader.plan(8)
    batches = [b for p in partitions for b in reader.read(p, 1000)]
    return partitions, pa.Table.from_batches(batches, schema=reader.schema())


@pytest.mark.parametrize("trailing_newline", [True, False])
@pytest.mark.parametrize("range_size", [7, 13, 14, 15, 64, 1000])
def test_every_row_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, range_size: int, trailing_newline: bool
) -> None:
    # Lines are 15-20 bytes: ranges smaller than a line, equal to one, and spanning many.
    _small_ranges(monkeypatch, split=100, size=range_size)
    path = tmp_path / "big.csv"
    _write(path, 120, trailing_newline)
    partitions, table = _read_all(f"file://{path}")
    size = path.stat().st_size
    assert len(partitions) == -(-size // range_size) > 1
    assert {p.spec["start"] for p in partitions} == set(range(0, size, range_size))
    assert len({p.id for p in partitions}) == len(partitions)
    assert table.schema.names == ["id", "name", "value"]
    assert sorted(table.column("id").to_pylist()) == list(range(120))
    ids = table.column("id").to_pylist()
    assert table.column("name").to_pylist() == [f"name-{i}" for i in ids]


def test_every_border_position(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A border on each byte of a line: before, on and after the newline."""
    path = tmp_path / "big.csv"
    _write(path, 30, trailing_newline=True)
    for size in range(20, 40):
        _small_ranges(monkeypatch, split=10, size=size)
        _, table = _read_all(f"file://{path}")
        assert sorted(table.column("id").to_pylist()) == list(range(30)), size


def test_headerless_and_tsv_ranges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _small_ranges(monkeypatch, split=100, size=50)
    path = tmp_path / "plain.csv"
    _write(path, 40, trailing_newline=False, header=False)
    partitions, table = _read_all(f"file://{path}", header=False)
    assert len(partitions) > 1
    assert sorted(table.column("column_1").to_pylist()) == list(range(40))
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\n" + "".join(f"{i}\tx{i}\n" for i in range(50)))
    partitions, table = _read_all(f"file://{tsv}")
    assert len(partitions) > 1 and sorted(table.column("a").to_pylist()) == list(range(50))


def test_quoted_file_is_not_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _small_ranges(monkeypatch, split=100, size=30)
    path = tmp_path / "quoted.csv"
    rows = "".join(f'{i},"line one\nline two of {i}"\n' for i in range(20))
    path.write_text("id,note\n" + rows)
    partitions, table = _read_all(f"file://{path}")
    assert len(partitions) == 1 and "start" not in partitions[0].spec
    assert table.column("id").to_pylist() == list(range(20))
    assert table.column("note")[3].as_py() == "line one\nline two of 3"


@pytest.mark.parametrize("quote_at", ["border", "middle"])
def test_quotes_past_the_sampled_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quote_at: str
) -> None:
    """Past the sampled start, only quotes near a border stop a split: a quoted newline far
    from every border lies wholly inside one range and reads correctly there."""
    _small_ranges(monkeypatch, split=100, size=200)
    monkeypatch.setattr(reader_module, "QUOTE_SAMPLE", 100)
    monkeypatch.setattr(reader_module, "QUOTE_WINDOW", 50)
    path = tmp_path / "late.csv"
    rows = [f"{i},plain\n" for i in range(40)]
    rows.insert(21 if quote_at == "border" else 35, '99,"a\nb"\n')
    path.write_text("id,note\n" + "".join(rows))
    position = path.read_text().index('"')
    assert position > 100 and (abs(position - 200) < 50) == (quote_at == "border")
    partitions, table = _read_all(f"file://{path}")
    assert len(partitions) == (1 if quote_at == "border" else 2)
    assert sorted(table.column("id").to_pylist()) == [*range(40), 99]
    assert "a\nb" in table.column("note").to_pylist()


def test_compressed_csv_is_not_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    _small_ranges(monkeypatch, split=10, size=10)
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(b"id\n" + b"".join(b"%d\n" % i for i in range(100))))
    partitions, table = _read_all(f"file://{path}")
    assert len(partitions) == 1
    assert table.num_rows == 100


@pytest.mark.slow
def test_cli_splits_a_large_csv(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A file over the real 256 MB threshold, converted by 2 workers and validated."""
    path = tmp_path / "in" / "huge.csv"
    path.parent.mkdir()
    line = "x" * 1000
    block = "".join(f"{i},{line}\n" for i in range(1000))
    with path.open("w") as out:
        out.write("id,payload\n")
        for _ in range(270):
            out.write(block)
    args = data_args("file://./in", "file://./out", "-workers", "2", "-validate", "-dry-run")
    plan = cli_ok(run_cli(*args))
    assert "huge.csv bytes 0-" in plan
    cli_ok(run_cli(*args[:-1]))
    assert read_output(tmp_path / "out").num_rows == 270_000


@pytest.mark.parametrize("mode", ["fail", "reject"])
def test_a_bad_row_in_a_later_range_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from colmig.errors import SourceDataError

    _small_ranges(monkeypatch, split=100, size=200)
    path = tmp_path / "big.csv"
    _write(path, 100, trailing_newline=True)
    lines = path.read_text().splitlines(keepends=True)
    lines[80] = "79,name-79,0.5,EXTRA\n"  # line 81 of the file, far past the first range
    path.write_text("".join(lines))
    reader = open_reader(f"file://{path}", Settings(on_error=mode))
    partitions = reader.plan(8)
    assert len(partitions) > 3
    if mode == "fail":
        with pytest.raises(SourceDataError, match=r"big\.csv:81: expected 3 fields, found 4"):
            for p in partitions:
                list(reader.read(p, 1000))
        return
    rows, rejects = 0, []
    for p in partitions:  # each partition's rejects are drained after it, as workers do
        rows += sum(b.num_rows for b in reader.read(p, 1000))
        rejects += reader.drain_rejects()
    assert rows == 99
    ((reason, raw, *_),) = rejects
    assert reason.endswith("big.csv:81: expected 3 fields, found 4")
    assert raw == "79,name-79,0.5,EXTRA"
