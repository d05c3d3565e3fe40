"""SIGKILL while a partition's rows sit in an open DuckDB transaction, then re-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
ROWS, PARTS = 20_000, 10


def run_driver(url: str, kill_at: str | None) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.duckdb_backend.crash_driver", url, str(ROWS), str(PARTS)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    seen: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line.strip())
        if kill_at and line.strip() == kill_at:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=120)
    return seen


def test_sigkill_mid_transaction_then_rerun_loads_every_row_once(duckdb_url: str) -> None:
    path = duckdb_url.removeprefix("duckdb://")
    first = run_driver(duckdb_url, kill_at="inserted part-003")
    assert "committed part-002" in first and "committed part-003" not in first
    with duckdb.connect(path, read_only=True) as conn:
        # The killed transaction is gone: three partitions, each with its ledger row.
        assert conn.execute("SELECT COUNT(*) FROM crash").fetchone() == (3 * ROWS // PARTS,)
        assert conn.execute("SELECT COUNT(*) FROM colmig_ledger").fetchone() == (3,)
    second = run_driver(duckdb_url, kill_at=None)
    assert second[-1] == "done" and "committed part-002" not in second
    with duckdb.connect(path, read_only=True) as conn:
        count, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM crash").fetchone()
        assert count == distinct == ROWS
        assert conn.execute("SELECT COUNT(*) FROM colmig_ledger").fetchone() == (PARTS,)
