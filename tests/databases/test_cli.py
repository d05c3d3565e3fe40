"""End to end through ``colmig -mode data`` (skipped until the data engine and files backend
land: colmig.engine.job and colmig.backends.files.reader)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from colmig.backends.base import JobInfo
from colmig.config import Settings
from colmig.registry import open_reader, open_writer
from tests.databases.helpers import read_all, series_table
from tests.databases.test_roundtrip import write_table

pytest.importorskip("colmig.engine.job", reason="the data engine is not there yet")
pytest.importorskip("colmig.backends.files.reader", reason="the files backend is not there yet")

REPO = Path(__file__).resolve().parents[2]
SAMPLE_ROWS = 12_960 * 3 + 12_880


@pytest.mark.postgres
def test_spec_example_2_files_to_postgres_with_validate(run_cli, pg_url: str, tmp_path: Path):
    shutil.copytree(REPO / "data" / "sample", tmp_path / "data" / "2024")
    result = run_cli(
        "-mode",
        "data",
        "-source",
        "file://./data/2024",
        "-target",
        pg_url,
        "-batch-size",
        "5000",
        "-workers",
        "8",
        "-validate",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    table = read_all(open_reader(pg_url, Settings(table="data_2024")))
    assert table.num_rows == SAMPLE_ROWS
    assert "colmig-s3cret" not in result.stdout + result.stderr


@pytest.mark.postgres
def test_postgres_to_postgres_rollback_on_error_keeps_target(
    run_cli, pg_url: str, pg_server, tmp_path: Path
):
    target = pg_server.create_database(f"t_{os.getpid()}_{time.monotonic_ns()}")
    write_table(pg_url, series_table(1000), Settings(table="s"), JobInfo("seed", "r", "x"))
    ok = run_cli(
        "-mode",
        "data",
        "-source",
        pg_url,
        "-target",
        target,
        "-table",
        "s",
        "-partition-on",
        "id",
        "-rollback-on-error",
        "-validate",
    )
    assert ok.returncode == 0, ok.stderr
    assert read_all(open_reader(target, Settings(table="s"))).num_rows == 1000


def _start_cli(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "colmig", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.crash
@pytest.mark.slow
@pytest.mark.parametrize(
    "db",
    [
        pytest.param("pg_url", marks=pytest.mark.postgres),
        pytest.param("mariadb_url", marks=pytest.mark.mariadb),
    ],
)
def test_cli_sigkill_then_rerun_is_exactly_once(db: str, request, pg_url: str, tmp_path: Path):
    """Source PostgreSQL table, target db: kill the colmig process group once a partition is
    committed, re-run, compare counts and id/value sums with the source."""
    rows = 400_000
    target = str(request.getfixturevalue(db)) if db != "pg_url" else pg_url
    write_table(pg_url, series_table(rows), Settings(table="src"), JobInfo("seed", "r", "x"))
    args = [
        "-mode",
        "data",
        "-source",
        pg_url,
        "-target",
        target,
        "-source-table",
        "src",
        "-target-table",
        "dst",
        "-partition-on",
        "id",
        "-partitions",
        "40",
        "-workers",
        "2",
        "-batch-size",
        "5000",
    ]
    proc = _start_cli(args, tmp_path)
    writer = open_writer(target, Settings(target_table="dst"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            ledger = read_all(open_reader(target, Settings(table="colmig_ledger")))
        except Exception:
            ledger = None
        if ledger is not None and ledger.num_rows >= 2:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    writer.close()
    again = _start_cli(args, tmp_path)
    _out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    table = read_all(open_reader(target, Settings(table="dst")))
    ids = table.column("id").to_pylist()
    assert len(ids) == rows and len(set(ids)) == rows
    assert sum(table.column("value").to_pylist()) == sum(i * 0.5 for i in range(rows))
