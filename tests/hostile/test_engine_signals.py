"""Signals through the real CLI: SIGTERM of an inline run (-workers 1) unwinds like Ctrl-C
(exit 143, the partition in flight neither committed nor failed, the others not started, a
re-run resumes exactly), and pool workers never outlive a coordinator killed while the pool is
still starting."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import psutil
import pytest

from colmig.engine.executor import SMALL_INPUT_BYTES
from tests.engine import procs
from tests.engine.helpers import assert_same_rows, read_dataset, write_csv_archive

COLUMNS = ["id", "ts", "sensor_id", "value", "ok"]


def _states(cwd: Path) -> dict[str, str]:
    with sqlite3.connect(cwd / ".colmig" / "ledger.db") as db:
        return dict(db.execute("SELECT label, state FROM partitions").fetchall())


@pytest.mark.slow
def test_sigterm_of_an_inline_run_exits_143_and_resumes(tmp_path: Path) -> None:
    # Partitions long enough (about a second each) that the signal lands inside the second
    # one on a fast machine too: at 100,000 rows the whole run could end before it.
    source = write_csv_archive(tmp_path / "archive", files=4, rows_per_file=1_000_000, tz=None)
    command = (
        "-mode", "data", "-source", "file://./archive", "-target", "file://./out",
        "-workers", "1", "-progress", "none",
    )  # fmt: skip
    process = procs.start(tmp_path, *command)
    procs.wait_for(process, lambda: procs.committed(tmp_path) >= 1, "the first commit")
    time.sleep(0.05)  # inside the next partition
    process.send_signal(signal.SIGTERM)
    code, out, err = procs.finish(process)
    assert code == 143, err
    assert "colmig: terminated" in err and "Traceback" not in err
    states = _states(tmp_path)
    assert "failed" not in states.values(), f"SIGTERM was recorded as a failure: {states}"
    done = len(states)
    assert 1 <= done < 4, "the run should stop, not go on with the other partitions"
    assert not [p for p in (tmp_path / "out").rglob(".*") if p.is_file()], "temp files left"

    code, out, err = procs.finish(procs.start(tmp_path, *command))
    assert code == 0, err
    assert f"{done} skipped by resume" in out
    assert_same_rows(read_dataset(tmp_path / "out"), source, COLUMNS)


def _big_cheap_archive(directory: Path, files: int) -> None:
    """Files big enough (by size) for a pool of two workers, written in no time."""
    directory.mkdir()
    rows = SMALL_INPUT_BYTES // 8 + 1
    for index in range(files):
        (directory / f"part-{index}.csv").write_bytes(b"id,v\n" + b"1234,567\n" * rows)


@pytest.mark.slow
def test_sigkill_of_the_coordinator_while_the_pool_starts_leaves_no_orphans(
    tmp_path: Path,
) -> None:
    _big_cheap_archive(tmp_path / "archive", files=2)
    process = procs.start(
        tmp_path,
        "-mode", "data", "-source", "file://./archive", "-target", "file://./out",
        "-workers", "2", "-progress", "none",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    workers: list[psutil.Process] = []
    while not workers and time.monotonic() < deadline and process.poll() is None:
        workers = procs.workers(process)
        time.sleep(0.005)
    try:
        assert workers, "the run never started a pool"
        os.kill(process.pid, signal.SIGKILL)  # while the workers are still importing
        process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while (alive := [w for w in workers if procs.running(w)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert alive == [], "worker processes outlived their coordinator"
    finally:
        for worker in workers:
            if procs.running(worker):
                worker.kill()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
