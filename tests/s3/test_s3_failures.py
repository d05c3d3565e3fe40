"""S3 failure paths through the real CLI against the moto server: a partition failing after
part of its output was uploaded, resume after a failure, and a wrong endpoint."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from tests.conftest import RunCli
from tests.engine.helpers import assert_same_rows, sample_table, write_csv_archive
from tests.s3.helpers import COLUMNS, bucket_name, etags, keys, open_uploads, read_back
from tests.servers import S3_SECRET_KEY, S3Server, free_port

#: Rows of the big file whose malformed line comes after several 8 MB CSV blocks were written.
BIG_ROWS = 400_000


@pytest.fixture(scope="module")
def big_bad_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A ~25 MB CSV with one malformed line near its end; also the corrected text."""
    directory = tmp_path_factory.mktemp("big")
    good = directory / "good.csv"
    pacsv.write_csv(sample_table(10_000_000, BIG_ROWS), good)
    text = good.read_text()
    lines = text.splitlines(keepends=True)
    lines[-5] = "oops,not,a,valid,row,extra\n"
    bad = directory / "bad.csv"
    bad.write_text("".join(lines))
    return bad, text


def _committed_outputs(state_dir: Path) -> set[str]:
    with sqlite3.connect(state_dir / "ledger.db") as db:
        rows = db.execute("SELECT outputs FROM partitions WHERE state = 'committed'").fetchall()
    return {output for (outputs,) in rows for output in json.loads(outputs)}


def test_failing_partition_leaves_no_partial_object(
    run_cli: RunCli,
    tmp_path: Path,
    s3_server: S3Server,
    s3_bucket: str,
    big_bad_csv: tuple[Path, str],
) -> None:
    archive = tmp_path / "archive"
    write_csv_archive(archive, files=1, rows_per_file=2_000)
    (archive / "zz-late.csv").write_bytes(big_bad_csv[0].read_bytes())
    bucket = bucket_name(s3_bucket)
    result = run_cli(
        "-mode",
        "data",
        "-source",
        "file://./archive",
        "-target",
        f"{s3_bucket}/lake",
        "-on-error",
        "fail",
        "-target-file-size",
        "1MB",
        "-row-group-size",
        "20000",
        "-progress",
        "none",
    )
    assert result.returncode == 8, result.stderr  # the other partitions are committed
    assert "zz-late.csv:399997" in result.stderr
    committed = {f"s3://{bucket}/{key}" for key in keys(s3_server, bucket)}
    assert open_uploads(s3_server, bucket) == []
    assert committed == _committed_outputs(tmp_path / ".colmig")
    assert "Exception ignored" not in result.stderr


def test_resume_on_s3_skips_committed_and_cleans_leftovers(
    run_cli: RunCli,
    tmp_path: Path,
    s3_server: S3Server,
    s3_bucket: str,
    big_bad_csv: tuple[Path, str],
) -> None:
    archive = tmp_path / "archive"
    source = write_csv_archive(archive, files=2, rows_per_file=2_000)
    late = archive / "zz-late.csv"
    late.write_bytes(big_bad_csv[0].read_bytes())
    bucket = bucket_name(s3_bucket)
    args = (
        "-mode",
        "data",
        "-source",
        "file://./archive",
        "-target",
        f"{s3_bucket}/lake",
        "-target-file-size",
        "1MB",
        "-row-group-size",
        "20000",
        "-progress",
        "none",
    )
    first = run_cli(*args)
    assert first.returncode == 8, first.stderr  # the other partitions are committed
    assert "partitions 2 done, 0 skipped by resume, 1 failed" in first.stdout
    before = etags(s3_server, bucket)
    committed = {
        key: tag
        for key, tag in before.items()
        if f"s3://{bucket}/{key}" in _committed_outputs(tmp_path / ".colmig")
    }
    assert len(committed) == 2

    late.write_text(big_bad_csv[1])  # the user fixes the bad line
    second = run_cli(*args, "-validate")
    assert second.returncode == 0, second.stderr
    assert "partitions 1 done, 2 skipped by resume, 0 failed" in second.stdout
    assert "validated 3 partition(s)" in second.stdout
    after = etags(s3_server, bucket)
    for key, tag in committed.items():
        assert after[key] == tag, f"{key} was rewritten although its partition was committed"
    assert open_uploads(s3_server, bucket) == []
    expected = pa.concat_tables([source, sample_table(10_000_000, BIG_ROWS)])
    assert_same_rows(read_back(s3_server, f"{bucket}/lake"), expected, COLUMNS)


@pytest.mark.parametrize("side", ["target", "source"])
def test_wrong_endpoint_fails_fast(
    run_cli: RunCli, tmp_path: Path, s3_bucket: str, side: str
) -> None:
    write_csv_archive(tmp_path / "archive", files=1, rows_per_file=100)
    closed = f"http://127.0.0.1:{free_port()}"
    url = f"{s3_bucket}/lake?endpoint_url={closed}"
    source, target = ("file://./archive", url) if side == "target" else (url, "file://./out")
    started = time.monotonic()
    try:
        result = run_cli(
            "-mode", "data", "-source", source, "-target", target, "-progress", "none", timeout=10
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"a closed endpoint did not fail within 10 s ({side})")
    assert time.monotonic() - started < 10
    assert result.returncode == 3, result.stderr
    assert "cannot reach the storage endpoint" in result.stderr
    assert S3_SECRET_KEY not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
