"""Files source and target failures end with the documented exit code and a message naming
the file, column or path: a corrupted Parquet source is bad source data (4); a column the
target format cannot store is refused before anything is written (5); a write the operating
system refuses names its errno and the output file (5)."""

from __future__ import annotations

import decimal
import os
import shlex
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.files.helpers import data_args


def _no_traceback(result) -> None:  # type: ignore[no-untyped-def]
    assert "Traceback" not in result.stderr, result.stderr
    assert "GeneratorExit" not in result.stderr


def test_a_corrupted_parquet_source_is_bad_source_data(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "footer").mkdir()
    pq.write_table(pa.table({"a": [1, 2, 3]}), tmp_path / "footer" / "a.parquet")
    data = (tmp_path / "footer" / "a.parquet").read_bytes()
    # The footer's metadata zeroed, the length and magic bytes intact.
    broken = data[:-40] + b"\0" * 36 + data[-4:]
    (tmp_path / "footer" / "a.parquet").write_bytes(broken)
    result = run_cli(*data_args("file://./footer", "file://./out"))
    _no_traceback(result)
    assert result.returncode == 4, result.stderr
    assert "./footer/a.parquet" in result.stderr and "parquet" in result.stderr

    (tmp_path / "pages").mkdir()
    table = pa.table({"a": np.arange(100_000)})
    pq.write_table(table, tmp_path / "pages" / "m.parquet", compression="snappy")
    pages = bytearray((tmp_path / "pages" / "m.parquet").read_bytes())
    pages[200:5000] = b"\xab" * 4800
    (tmp_path / "pages" / "m.parquet").write_bytes(bytes(pages))
    result = run_cli(*data_args("file://./pages", "file://./out2"))
    _no_traceback(result)
    assert result.returncode == 4, result.stderr
    assert "./pages/m.parquet" in result.stderr


def test_columns_a_target_format_cannot_store_are_refused_up_front(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "n.jsonl").write_text('{"id": 1, "s": {"x": 1}, "e": {}, "l": [1, 2]}\n')
    result = run_cli(*data_args("file://./in", "file://./csv", "-target-format", "csv"))
    _no_traceback(result)
    assert result.returncode == 5, result.stderr
    assert "csv files cannot store column 's' (struct<x: int64>)" in result.stderr
    assert "column 'l' (list<item: int64>)" in result.stderr
    assert "use -target-format parquet or jsonl or arrow" in result.stderr
    assert not (tmp_path / "csv").exists() or not any((tmp_path / "csv").rglob("*.csv"))

    result = run_cli(*data_args("file://./in", "file://./pq"))
    _no_traceback(result)
    assert result.returncode == 5, result.stderr
    assert "parquet files cannot store column 'e' (struct<>)" in result.stderr


def test_a_decimal256_column_into_json_lines_is_refused_not_a_panic(
    run_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    values = pa.array([decimal.Decimal("1.5"), None], pa.decimal256(50, 2))
    pq.write_table(pa.table({"d": values}), tmp_path / "in" / "d.parquet")
    result = run_cli(*data_args("file://./in", "file://./out", "-target-format", "jsonl"))
    _no_traceback(result)
    assert "PanicException" not in result.stderr
    assert result.returncode == 5, result.stderr
    assert "jsonl files cannot store column 'd' (decimal256(50, 2))" in result.stderr


def test_a_refused_write_names_errno_and_file(tmp_path: Path) -> None:
    import subprocess

    from tests.conftest import REPO_ROOT

    (tmp_path / "in").mkdir()
    pq.write_table(
        pa.table({"a": np.random.default_rng(1).random(200_000)}), tmp_path / "in" / "a.parquet"
    )
    # A real EFBIG: a file size limit of 512 KiB (ignoring SIGXFSZ, as a shell trap does).
    args = data_args("file://./in", "file://./out", "-compression", "none")
    command = f"ulimit -f 512; trap '' XFSZ; exec {shlex.quote(sys.executable)} -m colmig " + (
        " ".join(map(shlex.quote, args))
    )
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    _no_traceback(result)
    assert result.returncode == 5, result.stderr
    assert "File too large (EFBIG)" in result.stderr
    assert "./out/part-" in result.stderr  # the output file that could not be written
    assert not list((tmp_path / "out").glob("part-*"))  # nothing half-written is visible
