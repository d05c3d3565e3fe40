"""SIGKILL of a whole run writing Parquet to S3 (moto), then resume: the bucket ends with
exactly the source rows, only complete part objects, and no upload left open."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from colmig.engine.executor import SMALL_INPUT_BYTES
from tests.engine import procs
from tests.engine.helpers import assert_same_rows, write_csv_archive
from tests.s3.helpers import COLUMNS, bucket_name, keys, open_uploads, read_back
from tests.servers import S3Server

pytestmark = [pytest.mark.crash, pytest.mark.slow]


def test_sigkill_mid_run_then_resume_on_s3(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    archive = tmp_path / "archive"
    source = write_csv_archive(archive, files=4, rows_per_file=180_000, tz=None)
    assert sum(p.stat().st_size for p in archive.iterdir()) >= 2 * SMALL_INPUT_BYTES
    bucket = bucket_name(s3_bucket)
    args = ("-mode", "data", "-source", "file://./archive", "-target", f"{s3_bucket}/lake",
            "-workers", "2", "-progress", "none")  # fmt: skip

    process = procs.start(tmp_path, *args)
    procs.wait_for(process, lambda: procs.committed(tmp_path) >= 1, "the first commit")
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    done_before = procs.committed(tmp_path)
    assert 1 <= done_before < 4, "the kill should land mid-run"

    code, out, err = procs.finish(procs.start(tmp_path, *args, "-validate"))
    assert code == 0, err
    assert f"{done_before} skipped by resume" in out
    assert "validated 4 partition(s)" in out
    objects = keys(s3_server, bucket)
    assert objects and all(key.startswith("lake/part-") for key in objects), objects
    assert open_uploads(s3_server, bucket) == []
    assert_same_rows(read_back(s3_server, f"{bucket}/lake"), source, COLUMNS)
