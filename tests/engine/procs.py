"""Run colmig as a real process tree and watch it: start in its own session, wait on the
ledger, find the pool's workers, tell zombies from the living."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO_ROOT

DEADLINE_S = 120.0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def start(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``python -m colmig *args`` in its own session (so the whole tree can be killed)."""
    return subprocess.Popen(
        [sys.executable, "-m", "colmig", *args],
        cwd=cwd,
        env={**_env(), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Wait for the exit code, stdout and stderr; fail (and kill the tree) past DEADLINE_S."""
    try:
        out, err = process.communicate(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"colmig did not finish within {DEADLINE_S} s:\n{err[-2000:]}")
    return process.returncode, out, err


def committed(cwd: Path) -> int:
    """Committed partitions in the ledger under ``cwd/.colmig`` (0 before it exists)."""
    path = cwd / ".colmig" / "ledger.db"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute("SELECT count(*) FROM partitions WHERE state='committed'").fetchone()
    except sqlite3.Error:  # the tables may not exist yet
        return 0
    return int(row[0])


def wait_for(process: subprocess.Popen[str], condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` while the process runs; fail if it ends or time runs out first."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"colmig ended (exit {process.returncode}) before {what}:\n{out}{err}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def workers(process: subprocess.Popen[str]) -> list[psutil.Process]:
    """The pool's worker processes (not multiprocessing's resource tracker)."""
    children = psutil.Process(process.pid).children(recursive=True)
    out = []
    for child in children:
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.NoSuchProcess:
            continue
    return out


def running(process: psutil.Process) -> bool:
    """Alive and not a zombie (an orphan's exit may wait for a reaper that never comes)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
