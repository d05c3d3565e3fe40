"""Progress display and summary: units, ETA from finished partitions, bar and log styles."""

from __future__ import annotations

import logging
import queue

import pytest

from colmig.engine import progress as progress_mod
from colmig.engine.progress import (
    ProgressDisplay,
    Totals,
    human_bytes,
    human_seconds,
    summary_line,
)


def test_units() -> None:
    assert human_bytes(999) == "999 B"
    assert human_bytes(1_234_567) == "1.2 MB"
    assert human_seconds(3725) == "1h02m05s"
    assert human_seconds(65) == "1m05s"


def test_summary_names_every_counter() -> None:
    totals = Totals(done=3, skipped_by_resume=2, failed=1, rows_written=1_000_000,
                    bytes_written=5_000_000, retries=4, rejected=7, skipped_rows=9)  # fmt: skip
    line = summary_line(totals, 2.0)
    for text in ("1,000,000 rows written", "5.0 MB", "2.00 s", "500,000 rows/s",
                 "3 done, 2 skipped by resume, 1 failed", "retries 4", "rejected 7",
                 "skipped 9"):  # fmt: skip
        assert text in line


def test_eta_from_finished_partition_sizes() -> None:
    totals = Totals(partitions=4, estimated_bytes=400, completed_estimated_bytes=100)
    display = ProgressDisplay("none", "job", totals, None)
    display.started -= 10  # ten seconds in, a quarter done
    assert display.eta() == pytest.approx(30, rel=0.05)


def test_bar_counts_rows_from_the_worker_queue() -> None:
    rows: queue.Queue[tuple[str, int]] = queue.Queue()
    totals = Totals(partitions=2)
    with ProgressDisplay("bar", "job", totals, rows) as display:
        rows.put(("p1", 1500))
        rows.put(("p2", 500))
        totals.done = 2
    assert totals.rows_read == 2000
    assert "2,000 rows" in display.status()


def test_log_style_logs_periodically(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(progress_mod, "LOG_INTERVAL_S", 0.0)
    totals = Totals(partitions=1, rows_read=42)
    with (
        caplog.at_level(logging.INFO, logger="colmig"),
        ProgressDisplay("log", "job", totals, None),
    ):
        pass
    assert any("progress: 42 rows" in r.getMessage() for r in caplog.records)
