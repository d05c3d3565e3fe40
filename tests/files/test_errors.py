"""Malformed input with -on-error fail|skip|reject, -dry-run writing nothing, and -validate
catching an output file altered after the run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.files.helpers import (
    cli_ok,
    data_args,
    output_files,
    read_output,
    readings,
    run_parallel,
    sort_by_id,
)

BAD_FIELDS = "id,v,name\n1,1.5,a\n2,2.5,b,EXTRA\n3,3.5,c\n4,4.5\n5,5.5,e\n"


def _bad_value_csv(path: Path) -> int:
    """A CSV whose 'v' column is numeric for over a megabyte (what the schema sniff sees) and
    then holds 'n/a'; returns the line number of that value."""
    rows = 90_000
    table = pa.table({"id": np.arange(rows), "v": np.arange(rows) * 2})
    pacsv.write_csv(table, path)
    with path.open("a") as out:
        out.write(f"{rows},n/a\n{rows + 1},7\n")
    assert path.stat().st_size > 1 << 20
    return rows + 2  # the header is line 1


def _rejects(tmp_path: Path) -> list[dict]:
    files = sorted((tmp_path / ".colmig" / "rejects").glob("*/*.malformed.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_wrong_field_count_fails_with_file_and_line(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.csv").write_text(BAD_FIELDS)
    result = run_cli(*data_args("file://./in", "file://./out"))
    assert result.returncode == 4, result.stderr
    assert "in/bad.csv:3:" in result.stderr and "expected 3 fields, found 4" in result.stderr
    assert "Traceback" not in result.stderr
    assert not _parquet(tmp_path / "out")


def test_unconvertible_value_fails_with_file_line_and_column(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    line = _bad_value_csv(tmp_path / "in" / "big.csv")
    # Whole-input inference would read 'v' as text; declared numeric, 'n/a' does not fit.
    result = run_cli(*data_args("file://./in", "file://./out", "-column-type", "v=int64"))
    assert result.returncode == 4, result.stderr
    assert f"in/big.csv:{line}:" in result.stderr
    assert "'v'" in result.stderr and "'n/a'" in result.stderr
    assert not _parquet(tmp_path / "out")


def test_skip_sets_bad_rows_aside_and_says_so(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.csv").write_text(BAD_FIELDS)
    line = _bad_value_csv(tmp_path / "in" / "big.csv")
    args = data_args(
        "file://./in", "file://./out", "-on-error", "skip", "-validate", "-column-type", "v=double"
    )
    out = cli_ok(run_cli(*args))
    assert "skipped 3 bad rows" in out, out
    got = read_output(tmp_path / "out")
    assert got.num_rows == 3 + 90_001
    small = sort_by_id(got.filter(pc.is_valid(got.column("name"))))
    assert small.column("id").to_pylist() == [1, 3, 5]
    assert not _rejects(tmp_path)
    assert line  # the bad value's row is the one missing from big.csv
    big = got.filter(pc.is_null(got.column("name")))
    assert 90_000 not in big.column("id").to_pylist()


def test_reject_writes_rows_with_file_line_reasons(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.csv").write_text(BAD_FIELDS)
    line = _bad_value_csv(tmp_path / "in" / "big.csv")
    args = data_args(
        "file://./in", "file://./out", "-on-error", "reject", "-column-type", "v=double"
    )
    out = cli_ok(run_cli(*args))
    assert "rejected 3 rows" in out, out
    rejects = sorted(_rejects(tmp_path), key=lambda r: r["reason"])
    assert [r["raw"] for r in rejects] == ["2,2.5,b,EXTRA", "4,4.5", "90000,n/a"]
    assert rejects[0]["reason"] == "./in/bad.csv:3: expected 3 fields, found 4"
    assert rejects[1]["reason"] == "./in/bad.csv:5: expected 3 fields, found 2"
    # 'v' is declared a double for the whole archive.
    want = f"./in/big.csv:{line}: column 'v': cannot convert 'n/a' to double"
    assert rejects[2]["reason"] == want
    assert read_output(tmp_path / "out").num_rows == 3 + 90_001


def _parquet(root: Path) -> list[Path]:
    return [p for p in output_files(root) if p.suffix == ".parquet"] if root.exists() else []


def test_dry_run_prints_plan_and_sample_and_writes_nothing(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    pq.write_table(readings(30), tmp_path / "in" / "a.parquet")
    (tmp_path / "in" / "b.csv").write_text("id,sensor_id\n100,zz-sample-9\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    args = data_args("file://./in", "file://./out", "-dry-run", "-partition-by", "sensor_id")
    result = run_cli(*args)
    out = cli_ok(result)
    assert "partitions: 2" in out
    assert "./in/a.parquet" in out and "./in/b.csv" in out
    assert "./out/sensor_id=" in out  # where the rows would land
    assert "pa-t01" in out  # sample rows
    assert "dry run: nothing was written" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no out/, no .colmig/


def test_validate_catches_a_corrupted_output(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    pq.write_table(readings(40, 0), tmp_path / "in" / "a.parquet")
    pq.write_table(readings(40, 100), tmp_path / "in" / "b.parquet")
    args = data_args("file://./in", "file://./out", "-partition-by", "sensor_id")
    cli_ok(run_cli(*args))
    victim = sorted((tmp_path / "out").glob("sensor_id=pa-t02/*.parquet"))[0]
    table = pq.read_table(victim)
    index = table.schema.get_field_index("value")
    table = table.set_column(index, "value", pc.add(table.column("value"), 1.0))
    pq.write_table(table, victim)

    result = run_cli(*args, "-validate")
    assert result.returncode == 6, result.stdout + result.stderr
    assert "2 skipped by resume" in result.stdout
    assert "validation failed" in result.stderr
    mismatch = [line for line in result.stderr.splitlines() if " value " in f" {line} "]
    assert mismatch, result.stderr
    assert any("./in/" in line and "checksum" in line for line in mismatch), result.stderr


@pytest.mark.slow
def test_validate_catches_missing_or_extra_rows(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    pq.write_table(readings(20), tmp_path / "in" / "a.parquet")
    damages = ["delete", "extra-row"]
    runs = [data_args("file://./in", f"file://./{d}", "-validate") for d in damages]
    for result in run_parallel(run_cli, *runs):
        cli_ok(result)
    for damage in damages:
        victim = _parquet(tmp_path / damage)[0]
        table = pq.read_table(victim)
        if damage == "delete":
            table = table.slice(1)
        else:
            table = pa.concat_tables([table, table.slice(0, 1)])
        pq.write_table(table, victim)
    for result in run_parallel(run_cli, *runs):
        assert result.returncode == 6, result.stderr
        assert "rows" in result.stderr and "./in/a.parquet" in result.stderr


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ('{"a": 1}\n{"a": 2}\n{"a":\n{"a": 4}\n', 3, "invalid JSON"),
        ('{"a": 1}\n\n[1, 2]\n', 3, "not a JSON object"),
        # Far past the first block (numbers then a string is a text column, not an error).
        ('{"a": 1}\n' * 150_000 + '{"a": [}\n', 150_001, "invalid JSON"),
    ],
)
def test_malformed_json_lines_name_the_line(
    tmp_path: Path, body: str, line: int, reason: str
) -> None:
    from colmig.errors import SourceDataError
    from tests.files.helpers import read_source

    path = tmp_path / "events.jsonl"
    path.write_text(body)
    with pytest.raises(SourceDataError, match=rf"events\.jsonl:{line}: .*{reason}"):
        read_source(f"file://{path}")


@pytest.mark.parametrize("mode", ["skip", "reject"])
def test_lenient_conversion_with_timestamp_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    import colmig.backends.files.formats as formats
    from colmig.config import Settings
    from colmig.registry import open_reader

    monkeypatch.setattr(formats, "SNIFF_BLOCK", 64)  # the schema comes from the first rows
    path = tmp_path / "t.csv"
    good = "".join(f"{i},0{i}/03/2024 10:00,{i}.5\n" for i in range(1, 8))
    path.write_text("id,at,v\n" + good + "8,yesterday,1\n9,09/03/2024 10:00,oops\n")
    # Declared: whole-input inference would read 'at' and 'v' as text.
    settings = Settings(
        on_error=mode, timestamp_format="%d/%m/%Y %H:%M", column_type="at=timestamp[s],v=double"
    )
    reader = open_reader(f"file://{path}", settings)
    assert reader.schema().field("at").type == pa.timestamp("s")
    batches = [b for p in reader.plan(1) for b in reader.read(p, 100)]
    table = pa.Table.from_batches(batches)
    assert table.column("id").to_pylist() == list(range(1, 8))
    assert str(table.column("at")[0].as_py()) == "2024-03-01 10:00:00"
    rejects = reader.drain_rejects()
    assert [r[1] for r in rejects] == ["8,yesterday,1", "9,09/03/2024 10:00,oops"]
    assert rejects[0][0].endswith(
        "t.csv:9: column 'at': cannot convert 'yesterday' to timestamp[s]"
    )
    assert rejects[1][0].endswith("t.csv:10: column 'v': cannot convert 'oops' to double")


def test_a_reread_partition_does_not_repeat_its_rejects(tmp_path: Path) -> None:
    from colmig.config import Settings
    from colmig.registry import open_reader

    path = tmp_path / "bad.csv"
    path.write_text(BAD_FIELDS)
    reader = open_reader(f"file://{path}", Settings(on_error="reject"))
    (partition,) = reader.plan(1)
    for _ in range(2):  # an attempt whose write failed after reading everything, then a retry
        assert sum(b.num_rows for b in reader.read(partition, 100)) == 3
    assert len(reader.drain_rejects()) == 2
