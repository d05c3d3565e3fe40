"""One DuckDB file, several processes: colmig's lock serialises writers and waits for readers."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from colmig.backends.base import JobInfo
from colmig.config import Settings
from colmig.errors import ConnectionFailedError
from colmig.registry import open_reader, open_writer
from tests.databases.helpers import read_all, run_job, series_table

ROOT = Path(__file__).resolve().parents[2]


def spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def test_two_processes_write_partitions_to_one_file(duckdb_url: str) -> None:
    job = JobInfo("shared-job", "run-1", "file://./data")
    open_writer(duckdb_url, Settings(table="shared")).prepare(series_table(1).schema, job, False)
    count, rows = 6, 20_000
    children = [
        spawn("-m", "tests.duckdb_backend.concurrent_writer", duckdb_url, name, str(count),
              str(rows))
        for name in ("a", "b")
    ]  # fmt: skip
    windows = []
    for child in children:
        out, err = child.communicate(timeout=240)
        assert child.returncode == 0, err
        windows.append([tuple(map(float, line.split())) for line in out.splitlines()])
    # The two processes really wrote at the same time (their write calls overlapped) ...
    assert any(a0 < b1 and b0 < a1 for a0, a1 in windows[0] for b0, b1 in windows[1])
    # ... and every partition landed exactly once.
    writer = open_writer(duckdb_url, Settings(table="shared"))
    expected = {f"{n}-{i}" for n in ("a", "b") for i in range(count)}
    assert writer.committed_partitions(job) == expected
    table = read_all(open_reader(duckdb_url, Settings(table="shared")))
    assert table.num_rows == 2 * count * rows
    assert len(set(table.column("id").to_pylist())) == 2 * count * rows


def test_writer_waits_for_the_colmig_lock(duckdb_url: str, tmp_path: Path) -> None:
    path = duckdb_url.removeprefix("duckdb://")
    holder = spawn(
        "-c",
        "import fcntl, sys, time\n"
        f"f = open({path + '.colmig.lock'!r}, 'a+')\n"
        "fcntl.flock(f, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(1.5)\n",
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    began = time.monotonic()
    job = JobInfo("j", "r", "file://x")
    open_writer(duckdb_url, Settings(table="t", lock_timeout=0)).prepare(
        series_table(1).schema, job, False
    )
    assert time.monotonic() - began >= 1.0
    holder.communicate(timeout=30)
    # After each call the writer holds nothing: another process can open the file.
    with open(path + ".colmig.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with duckdb.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)


def test_a_foreign_process_holding_the_file_is_a_clear_error(duckdb_url: str) -> None:
    path = duckdb_url.removeprefix("duckdb://")
    with duckdb.connect(path) as conn:
        conn.execute("CREATE TABLE t AS SELECT 1 AS id")
    holder = spawn(
        "-c",
        "import duckdb, sys\n"
        f"conn = duckdb.connect({path!r})\n"
        "print('open', flush=True)\n"
        "sys.stdin.readline()\n",
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(ConnectionFailedError) as info:
            open_writer(duckdb_url, Settings(table="t", lock_timeout=0.3)).committed_partitions(
                JobInfo("j", "r", "file://x")
            )
        message = str(info.value)
        assert "\n" not in message and path in message and "another process" in message
        with pytest.raises(ConnectionFailedError) as info:
            open_reader(duckdb_url, Settings(table="t", lock_timeout=0.3)).schema()
        assert "\n" not in str(info.value) and path in str(info.value)
    finally:
        holder.communicate("\n", timeout=30)
    assert read_all(open_reader(duckdb_url, Settings(table="t"))).num_rows == 1


def test_copy_between_tables_of_one_file(duckdb_url: str) -> None:
    with duckdb.connect(duckdb_url.removeprefix("duckdb://")) as conn:
        conn.execute("CREATE TABLE src AS SELECT range AS id, range * 0.5 AS v FROM range(5000)")
    reader = open_reader(
        duckdb_url, Settings(source_table="src", target_table="dst", partition_on="id",
                             partitions=4)
    )  # fmt: skip
    writer = open_writer(duckdb_url, Settings(source_table="src", target_table="dst"))
    assert run_job(reader, writer, JobInfo("copy", "r", duckdb_url)) == 5000
    copied = read_all(open_reader(duckdb_url, Settings(table="dst")))
    assert sorted(copied.column("id").to_pylist()) == list(range(5000))
