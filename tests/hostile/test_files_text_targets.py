"""Text targets (CSV, JSON Lines) either give a value back exactly or refuse it before writing:
JSON has no NaN/infinity, CSV no duration unit and neither holds arbitrary bytes; zoned
timestamps are written as UTC instants so a zone offset with seconds cannot move them."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from colmig.errors import EXIT_TARGET


def _source(tmp_path: Path, table: pa.Table) -> None:
    (tmp_path / "in").mkdir()
    pq.write_table(table, tmp_path / "in" / "src.parquet")


def _move(run_cli, fmt: str):  # type: ignore[no-untyped-def]
    return run_cli(
        "-mode", "data", "-source", "file://./in", "-target", "file://./out",
        "-target-format", fmt, "-workers", "1",
    )  # fmt: skip


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_jsonl_refuses_nan_and_infinity_naming_the_column(run_cli, tmp_path: Path, value) -> None:  # type: ignore[no-untyped-def]
    _source(tmp_path, pa.table({"id": [1, 2], "reading": [1.5, value]}))
    result = _move(run_cli, "jsonl")
    assert result.returncode == EXIT_TARGET, result.stderr
    assert "'reading'" in result.stderr and "row 2" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "out").rglob("*.jsonl"))


@pytest.mark.parametrize(
    ("fmt", "column"),
    [
        ("csv", pa.array([1, -1], pa.duration("s"))),
        ("csv", pa.array([b"\x80", b"ok"], pa.binary())),
        ("jsonl", pa.array([b"\x00\xff", b"ok"], pa.binary())),
    ],
)
def test_types_a_text_format_cannot_give_back_are_refused_up_front(  # type: ignore[no-untyped-def]
    run_cli, tmp_path: Path, fmt: str, column: pa.Array
) -> None:
    _source(tmp_path, pa.table({"id": [1, 2], "c": column}))
    result = _move(run_cli, fmt)
    assert result.returncode == EXIT_TARGET, result.stderr
    assert "'c'" in result.stderr and "parquet" in result.stderr
    assert "panicked" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_zoned_timestamps_keep_their_instant_even_with_second_offsets(  # type: ignore[no-untyped-def]
    run_cli, tmp_path: Path, fmt: str
) -> None:
    zone = ZoneInfo("Asia/Kolkata")  # local mean time +05:53:28 before 1900
    instants = [dt.datetime(1880, 6, 1, 12, tzinfo=zone), dt.datetime(2024, 2, 29, tzinfo=zone)]
    _source(tmp_path, pa.table({"at": pa.array(instants, pa.timestamp("us", "Asia/Kolkata"))}))
    result = _move(run_cli, fmt)
    assert result.returncode == 0, result.stderr
    [written] = list((tmp_path / "out").rglob(f"*.{fmt}"))
    back = run_cli(
        "-mode", "data", "-source", f"file://{written}", "-target", "file://./back",
        "-workers", "1",
    )  # fmt: skip
    assert back.returncode == 0, back.stderr
    table = pq.read_table(next((tmp_path / "back").rglob("*.parquet")))
    got = [v.astimezone(dt.UTC) for v in table.column("at").to_pylist()]
    assert got == [v.astimezone(dt.UTC) for v in instants]
