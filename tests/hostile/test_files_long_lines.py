"""Lines longer than the parser's block: they load (the block grows), a line past
-max-line-bytes is an error naming file:line, and errors after a long line still name their
line without a quadratic re-scan."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.files.helpers import cli_ok, data_args, read_output

MB = 1 << 20


def _long_csv(path: Path, size: int, after: str = "3,after\n", at_row: int = 2) -> str:
    """A CSV whose data row ``at_row`` holds a ``size``-byte value; returns that value."""
    path.parent.mkdir(parents=True, exist_ok=True)
    value = ("abcdefghij" * (size // 10 + 1))[:size]
    rows = [f"{i},short{i}\n" for i in range(1, at_row)]
    with path.open("w") as out:
        out.write("id,text\n")
        out.writelines(rows)
        out.write(f"{at_row},{value}\n")
        out.write(after)
    return value


def _no_straddle(result) -> None:  # type: ignore[no-untyped-def]
    assert "straddling" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("at_row", [1, 5])
def test_a_20mb_csv_line_loads(run_cli, tmp_path: Path, at_row: int) -> None:  # type: ignore[no-untyped-def]
    value = _long_csv(tmp_path / "in" / "long.csv", 20 * MB, f"{at_row + 1},after\n", at_row)
    result = run_cli(*data_args("file://./in", "file://./out"))
    _no_straddle(result)
    cli_ok(result)
    table = read_output(tmp_path / "out").sort_by("id")
    assert table.num_rows == at_row + 1
    assert table.column("text")[at_row - 1].as_py() == value


def test_a_line_past_max_line_bytes_names_file_and_line(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _long_csv(tmp_path / "in" / "long.csv", 12 * MB, at_row=3)
    result = run_cli(*data_args("file://./in", "file://./out", "-max-line-bytes", "4MiB"))
    _no_straddle(result)
    assert result.returncode == 4, result.stderr
    assert "in/long.csv:4:" in result.stderr  # header, two short rows, then the long one
    assert "-max-line-bytes" in result.stderr


def test_a_bad_row_after_a_long_line_names_its_line(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _long_csv(tmp_path / "in" / "long.csv", 20 * MB, after="3,ok\n4,too,many\n")
    result = run_cli(*data_args("file://./in", "file://./out"))
    _no_straddle(result)
    assert result.returncode == 4, result.stderr
    assert "in/long.csv:5:" in result.stderr and "expected 2 fields, found 3" in result.stderr


def test_a_quoted_record_longer_than_a_block_loads(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Short lines, but one quoted field holding 10 MB of them: a record longer than a block.
    value = "line of text\n" * (10 * MB // 13)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "q.csv").write_text(f'id,text\n1,"{value}"\n2,b\n')
    result = run_cli(*data_args("file://./in", "file://./out"))
    _no_straddle(result)
    cli_ok(result)
    table = read_output(tmp_path / "out").sort_by("id")
    assert table.column("text").to_pylist() == [value, "b"]


@pytest.mark.parametrize("first", [True, False])
def test_a_20mb_json_line_loads(run_cli, tmp_path: Path, first: bool) -> None:  # type: ignore[no-untyped-def]
    value = "x" * (20 * MB)
    lines = [{"id": 2, "text": value}, {"id": 3, "text": "after"}]
    if not first:
        lines.insert(0, {"id": 1, "text": "before"})
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "e.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    result = run_cli(*data_args("file://./in", "file://./out"))
    _no_straddle(result)
    cli_ok(result)
    table = read_output(tmp_path / "out").sort_by("id")
    assert table.column("text").to_pylist()[-2:] == [value, "after"]


def test_a_json_line_past_max_line_bytes_names_its_line(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    body = '{"id": 1}\n{"id": 2}\n{"id": 3, "text": "' + "y" * (12 * MB) + '"}\n'
    (tmp_path / "in" / "e.jsonl").write_text(body)
    result = run_cli(*data_args("file://./in", "file://./out", "-max-line-bytes", "4MiB"))
    _no_straddle(result)
    assert result.returncode == 4, result.stderr
    assert "in/e.jsonl:3:" in result.stderr and "-max-line-bytes" in result.stderr


def test_a_bad_json_line_after_a_long_line_names_its_line(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    body = '{"id": 1, "text": "' + "y" * (20 * MB) + '"}\n{"id": 2}\n{"id": \n'
    (tmp_path / "in" / "e.jsonl").write_text(body)
    result = run_cli(*data_args("file://./in", "file://./out"))
    _no_straddle(result)
    assert result.returncode == 4, result.stderr
    assert "in/e.jsonl:3: invalid JSON" in result.stderr


@pytest.mark.slow
def test_a_200mb_csv_line_loads(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _long_csv(tmp_path / "in" / "long.csv", 200 * MB)
    result = run_cli(*data_args("file://./in", "file://./out"), timeout=600)
    _no_straddle(result)
    cli_ok(result)
    lengths = [len(v) for v in pq.read_table(tmp_path / "out").column("text").to_pylist() if v]
    assert sorted(lengths) == [5, 6, 200 * MB]


def test_a_max_line_bytes_below_a_block_is_a_usage_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _long_csv(tmp_path / "in" / "x.csv", 100)
    result = run_cli(*data_args("file://./in", "file://./out", "-max-line-bytes", "100"))
    assert result.returncode == 2, result.stderr
    assert "-max-line-bytes 100: use at least 1MiB" in result.stderr


def test_an_unclosed_quote_past_max_line_bytes_names_its_line(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    rows = "".join(f"{i},some text to pad the file\n" for i in range(3, 300_000))
    (tmp_path / "in" / "s.csv").write_text('id,text\n1,a\n2,"oops\n' + rows)
    result = run_cli(*data_args("file://./in", "file://./out", "-max-line-bytes", "4MiB"))
    _no_straddle(result)
    assert result.returncode == 4, result.stderr
    assert "in/s.csv:3: line longer than -max-line-bytes" in result.stderr
    assert "unclosed quote" in result.stderr
