"""A partition whose worker process dies every time (OOM-killed, segfault) must not restart
the pool forever: it fails after -retries deaths, the other partitions commit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from colmig.cli import parse_args
from colmig.engine import job as job_module
from colmig.errors import ColmigError
from tests.engine.fakes import FakeWriter, KillingReader


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("victim", "others_take_s"),
    [("p0", 0.0), ("p3", 0.0), ("p0", 1.5)],
    ids=["first", "last", "siblings-busy"],
)
def test_worker_dying_on_every_attempt_fails_only_its_partition(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    victim: str,
    others_take_s: float,
) -> None:
    monkeypatch.chdir(tmp_path)
    reader, writer = KillingReader(victim, others_take_s=others_take_s), FakeWriter()
    monkeypatch.setattr(job_module, "open_reader", lambda url, settings: reader)
    monkeypatch.setattr(job_module, "open_writer", lambda url, settings: writer)
    _, settings = parse_args(
        ["-mode", "data", "-source", "fake://s", "-target", "fake://t", "-workers", "2",
         "-retries", "1", "-progress", "none"]
    )  # fmt: skip
    with pytest.raises(ColmigError, match="worker process died 2 times") as caught:
        job_module.run_job(settings)
    assert caught.value.exit_code == 8, "the other partitions are committed"
    with sqlite3.connect(tmp_path / ".colmig" / "ledger.db") as db:
        states = dict(db.execute("SELECT partition_id, state FROM partitions").fetchall())
    assert states == {
        p: ("failed" if p == victim else "committed") for p in ("p0", "p1", "p2", "p3")
    }
    assert "partitions 3 done, 0 skipped by resume, 1 failed" in capsys.readouterr().out
