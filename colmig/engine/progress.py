"""Progress of a data job: a rich bar on a terminal, periodic log lines otherwise, and the
end-of-run summary. Workers send row deltas through a queue; a thread folds them in."""

from __future__ import annotations

import logging
import queue as queue_module
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("colmig")

LOG_INTERVAL_S = 10.0


def human_bytes(n: float) -> str:
    """1234567 -> '1.2 MB'."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def human_seconds(s: float) -> str:
    """3725 -> '1h02m05s'."""
    s = int(max(0, s))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


@dataclass
class Totals:
    """Counters of a run, shown live and in the summary."""

    partitions: int = 0
    done: int = 0
    failed: int = 0
    skipped_by_resume: int = 0
    rows_read: int = 0
    rows_written: int = 0
    bytes_written: int = 0
    rejected: int = 0
    skipped_rows: int = 0
    retries: int = 0
    estimated_bytes: int = 0
    completed_estimated_bytes: int = 0


class ProgressDisplay:
    """Draws progress in the chosen style: bar, log or none."""

    def __init__(self, style: str, title: str, totals: Totals, queue: Any | None) -> None:
        if style == "auto":
            style = "bar" if sys.stderr.isatty() else "log"
        self.style = style
        self.title = title
        self.totals = totals
        self.queue = queue
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Any = None
        self._task: Any = None
        self._last_log = self.started

    def __enter__(self) -> ProgressDisplay:
        if self.style == "bar":
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(
                self.title, total=max(1, self.totals.partitions), status=""
            )
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._drain()
        self._refresh()
        if self._bar is not None:
            self._bar.stop()

    def _drain(self) -> None:
        if self.queue is None:
            return
        while True:
            try:
                _pid, rows = self.queue.get_nowait()
            except (queue_module.Empty, EOFError, OSError, ValueError):
                return
            self.totals.rows_read += int(rows)

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            self._drain()
            self._refresh()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def eta(self) -> float | None:
        t = self.totals
        if t.completed_estimated_bytes and t.estimated_bytes:
            fraction = t.completed_estimated_bytes / t.estimated_bytes
        elif t.partitions:
            fraction = (t.done + t.failed) / t.partitions
        else:
            return None
        if fraction <= 0:
            return None
        return self.elapsed() * (1 - fraction) / fraction

    def status(self) -> str:
        t = self.totals
        seconds = self.elapsed()
        rate = t.rows_read / seconds if seconds > 0 else 0.0
        return (
            f"{t.rows_read:,} rows  {rate:,.0f} rows/s  {human_bytes(t.bytes_written)} written  "
            f"partitions {t.done + t.skipped_by_resume}/{t.partitions + t.skipped_by_resume}"
            + (f"  failed {t.failed}" if t.failed else "")
            + (f"  retries {t.retries}" if t.retries else "")
        )

    def _refresh(self) -> None:
        if self.style == "bar" and self._bar is not None:
            t = self.totals
            self._bar.update(self._task, completed=t.done + t.failed, status=self.status())
        elif self.style == "log":
            now = time.monotonic()
            if now - self._last_log >= LOG_INTERVAL_S:
                self._last_log = now
                eta = self.eta()
                log.info(
                    "progress: %s  elapsed %s%s",
                    self.status(),
                    human_seconds(self.elapsed()),
                    f"  ETA {human_seconds(eta)}" if eta is not None else "",
                )


def summary_line(totals: Totals, seconds: float) -> str:
    """The end-of-run summary."""
    t = totals
    rate = t.rows_written / seconds if seconds > 0 else 0.0
    parts = [
        f"{t.rows_written:,} rows written",
        f"{human_bytes(t.bytes_written)}",
        f"{seconds:.2f} s",
        f"{rate:,.0f} rows/s",
        f"partitions {t.done} done, {t.skipped_by_resume} skipped by resume, {t.failed} failed",
        f"retries {t.retries}",
    ]
    if t.rejected:
        parts.append(f"rejected {t.rejected:,} rows")
    if t.skipped_rows:
        parts.append(f"skipped {t.skipped_rows:,} bad rows")
    return "; ".join(parts)
