"""Exact resume after real SIGKILLs: of the whole process group, and of the worker processes only.

An archive big enough for two worker processes is converted once without interruption (the
reference); interrupted runs must end with the same rows: none missing, none twice, same
per-column checksums, no temporary files left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pytest

from colmig.engine.executor import SMALL_INPUT_BYTES
from tests.engine import procs
from tests.engine.helpers import assert_same_rows, read_dataset, write_csv_archive

pytestmark = [pytest.mark.crash, pytest.mark.slow]

COLUMNS = ["id", "ts", "sensor_id", "value", "ok"]
FILES = 8
ROWS_PER_FILE = 180_000  # ~10 MB of CSV each: 80 MB in all, enough for two workers


def _command(archive: Path, *extra: str) -> list[str]:
    return [
        "-mode", "data",
        "-source", f"file://{archive}", "-target", "file://./out",
        "-workers", "2", "-progress", "none", *extra,
    ]  # fmt: skip


def _start(cwd: Path, archive: Path, *extra: str) -> subprocess.Popen[str]:
    return procs.start(cwd, *_command(archive, *extra))


def _temp_files(out: Path) -> list[Path]:
    return [
        p for p in out.rglob("*") if p.is_file() and (p.name.startswith(".") or ".tmp" in p.name)
    ]


def _output(cwd: Path) -> pa.Table:
    out = cwd / "out"
    assert _temp_files(out) == []
    return read_dataset(out)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table]:
    directory = tmp_path_factory.mktemp("archive") / "readings"
    table = write_csv_archive(directory, FILES, ROWS_PER_FILE, tz=None)
    size = sum(p.stat().st_size for p in directory.iterdir())
    assert size >= 2 * SMALL_INPUT_BYTES, "the archive must be big enough for two workers"
    return directory, table


@pytest.fixture(scope="module")
def reference(archive: tuple[Path, pa.Table], tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    """The output of one uninterrupted run."""
    cwd = tmp_path_factory.mktemp("reference")
    code, out, err = procs.finish(_start(cwd, archive[0]))
    assert code == 0, err
    assert f"partitions {FILES} done, 0 skipped by resume, 0 failed" in out
    table = _output(cwd)
    assert_same_rows(table, archive[1], COLUMNS)
    return table


def test_sigkill_of_the_process_group_then_resume(
    archive: tuple[Path, pa.Table], reference: pa.Table, tmp_path: Path
) -> None:
    process = _start(tmp_path, archive[0])
    procs.wait_for(process, lambda: procs.committed(tmp_path) >= 1, "the first committed partition")
    assert len(procs.workers(process)) == 2, "the run should use two worker processes"
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    done_before = procs.committed(tmp_path)
    assert 1 <= done_before < FILES, "the kill should land mid-run"

    code, out, err = procs.finish(_start(tmp_path, archive[0]))
    assert code == 0, err
    assert f"{done_before} skipped by resume" in out
    assert f"partitions {FILES - done_before} done" in out
    assert_same_rows(_output(tmp_path), reference, COLUMNS)


@pytest.mark.parametrize("progress", ["none", "log"])
def test_sigkill_of_the_workers_only_restarts_the_pool(
    archive: tuple[Path, pa.Table], reference: pa.Table, tmp_path: Path, progress: str
) -> None:
    # With -progress log the workers also share the progress queue the killed ones wrote to.
    process = _start(tmp_path, archive[0], "-progress", progress)
    procs.wait_for(process, lambda: procs.committed(tmp_path) >= 1, "the first committed partition")
    workers = procs.workers(process)
    assert len(workers) == 2
    for worker in workers:
        worker.send_signal(signal.SIGKILL)
    code, out, err = procs.finish(process)
    assert code == 0, err
    assert "worker process died" in err
    assert f"partitions {FILES} done, 0 skipped by resume, 0 failed" in out
    assert_same_rows(_output(tmp_path), reference, COLUMNS)


def test_fresh_after_an_interrupted_run_starts_over(
    archive: tuple[Path, pa.Table], reference: pa.Table, tmp_path: Path
) -> None:
    process = _start(tmp_path, archive[0])
    procs.wait_for(process, lambda: procs.committed(tmp_path) >= 1, "the first committed partition")
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()

    code, out, err = procs.finish(_start(tmp_path, archive[0], "-fresh"))
    assert code == 0, err
    assert f"partitions {FILES} done, 0 skipped by resume, 0 failed" in out
    assert_same_rows(_output(tmp_path), reference, COLUMNS)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_workers_do_not_outlive_a_killed_coordinator(
    archive: tuple[Path, pa.Table], reference: pa.Table, tmp_path: Path, sig: signal.Signals
) -> None:
    """Orphaned workers would wait for work forever, holding the caller's pipes open."""
    process = _start(tmp_path, archive[0])
    procs.wait_for(process, lambda: procs.committed(tmp_path) >= 1, "the first committed partition")
    workers = procs.workers(process)
    assert len(workers) == 2
    process.send_signal(sig)  # the coordinator only, as `kill PID` or an OOM kill would
    process.wait(timeout=30)
    deadline = time.monotonic() + 15
    while (alive := [w for w in workers if procs.running(w)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    for worker in alive:
        worker.kill()
    assert alive == [], "worker processes outlived their coordinator"
    process.communicate(timeout=10)  # the pipes close once no worker holds them

    code, _, err = procs.finish(_start(tmp_path, archive[0]))
    assert code == 0, err
    assert_same_rows(_output(tmp_path), reference, COLUMNS)


@pytest.mark.parametrize("when", ["workers-importing", "after-first-commit"])
def test_ctrl_c_stops_promptly_then_resume(
    archive: tuple[Path, pa.Table], reference: pa.Table, tmp_path: Path, when: str
) -> None:
    process = _start(tmp_path, archive[0], "-progress", "log")
    if when == "workers-importing":  # still importing pyarrow & co, or idle
        procs.wait_for(process, lambda: len(procs.workers(process)) == 2, "two workers")
        time.sleep(0.2)
    else:
        procs.wait_for(process, lambda: procs.committed(tmp_path) >= 1, "the first commit")
    workers = procs.workers(process)
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)  # what a terminal sends the foreground group
    code, _, err = procs.finish(process)
    assert time.monotonic() - started < 15
    assert code == 130, err
    assert "colmig: interrupted" in err and "Traceback" not in err
    assert not [w for w in workers if procs.running(w)]

    code, out, err = procs.finish(_start(tmp_path, archive[0]))
    assert code == 0, err
    assert "skipped by resume" in out
    assert_same_rows(_output(tmp_path), reference, COLUMNS)
