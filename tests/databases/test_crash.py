"""SIGKILL in the middle of a partition's load, re-run, and the target holds every row once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from colmig.config import Settings
from colmig.registry import open_reader
from tests.databases.helpers import read_all

REPO = Path(__file__).resolve().parents[2]
ROWS, PARTS = 20_000, 10


def _driver(url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.databases.crash_driver", url, str(ROWS), str(PARTS)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _kill_mid_load(url: str) -> list[str]:
    proc = _driver(url)
    seen: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line.strip())
        # The third partition is half loaded inside its open transaction: kill the group.
        if line.startswith("loading part-002"):
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return seen


@pytest.mark.crash
@pytest.mark.parametrize(
    "db",
    [
        pytest.param("pg_url", marks=pytest.mark.postgres),
        pytest.param("mariadb_url", marks=pytest.mark.mariadb),
        pytest.param("sqlite_url"),
    ],
)
def test_sigkill_mid_partition_then_rerun_is_exactly_once(
    db: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(db))
    seen = _kill_mid_load(url)
    assert "committed part-001" in seen and "committed part-002" not in seen
    reader = open_reader(url, Settings(table="crash"))
    after_crash = read_all(reader)
    assert after_crash.num_rows == 2 * ROWS // PARTS  # the open partition left nothing behind

    rerun = _driver(url)
    out, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, out
    assert "committed part-000" not in out and "done" in out

    table = read_all(open_reader(url, Settings(table="crash")))
    ids = table.column("id").to_pylist()
    assert len(ids) == ROWS and sorted(ids) == list(range(ROWS))
    values = table.column("value").to_pylist()
    assert sum(values) == sum(i * 0.5 for i in range(ROWS))
