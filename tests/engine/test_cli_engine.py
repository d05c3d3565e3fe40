"""The engine through the real CLI on local files: the summary line, what the ledger records,
the job lock, and a partition that fails for good while the others commit."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import time
from pathlib import Path

from colmig.engine.checksums import stats_from_json
from colmig.engine.progress import LOG_INTERVAL_S
from tests.conftest import RunCli
from tests.engine import procs
from tests.engine.helpers import (
    assert_same_rows,
    read_dataset,
    stats_of,
    write_csv_archive,
)

COLUMNS = ["id", "ts", "sensor_id", "value", "ok"]
SUMMARY = re.compile(
    r"^(?P<rows>[\d,]+) rows written; (?P<bytes>[\d.]+ [KMGT]?B); (?P<seconds>[\d.]+) s;"
    r" (?P<rate>[\d,]+) rows/s; partitions (?P<done>\d+) done, (?P<skipped>\d+) skipped by"
    r" resume, (?P<failed>\d+) failed; retries (?P<retries>\d+)$",
    re.MULTILINE,
)


def _data(*extra: str) -> tuple[str, ...]:
    return ("-mode", "data", "-source", "file://./archive", "-target", "file://./out", *extra)


def _ledger(cwd: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(cwd / ".colmig" / "ledger.db") as db:
        return db.execute(sql).fetchall()


def _outputs(cwd: Path) -> list[Path]:
    return sorted(p for p in (cwd / "out").rglob("*") if p.is_file())


def test_summary_line_and_log_progress(run_cli: RunCli, tmp_path: Path) -> None:
    write_csv_archive(tmp_path / "archive", files=3, rows_per_file=1_000)
    result = run_cli(*_data("-progress", "log"))
    assert result.returncode == 0, result.stderr
    match = SUMMARY.search(result.stdout)
    assert match, result.stdout
    assert match["rows"] == "3,000"
    assert (match["done"], match["skipped"], match["failed"], match["retries"]) == (
        "3",
        "0",
        "0",
        "0",
    )
    assert float(match["seconds"]) > 0 and int(match["rate"].replace(",", "")) > 0
    written = sum(p.stat().st_size for p in _outputs(tmp_path))
    assert match["bytes"] == f"{written / 1000:.1f} KB"
    # Log-style progress goes to stderr, never into the summary on stdout.
    assert "3 partition(s)" in result.stderr
    assert "INFO" not in result.stdout

    again = run_cli(*_data("-progress", "log"))
    assert again.returncode == 0, again.stderr
    match = SUMMARY.search(again.stdout)
    assert match and (match["rows"], match["done"], match["skipped"]) == ("0", "0", "3")


def test_ledger_records_rows_bytes_outputs_and_stats(run_cli: RunCli, tmp_path: Path) -> None:
    source = write_csv_archive(tmp_path / "archive", files=3, rows_per_file=1_000)
    result = run_cli(*_data("-validate", "-progress", "none"))
    assert result.returncode == 0, result.stderr
    rows = _ledger(
        tmp_path,
        "SELECT label, state, rows, bytes, outputs, stats, attempts FROM partitions ORDER BY label",
    )
    assert [r[0] for r in rows] == [f"./archive/readings-00{i}.csv" for i in range(3)]
    for index, (_, state, count, nbytes, outputs, stats, attempts) in enumerate(rows):
        assert (state, count, attempts) == ("committed", 1_000, 1)
        files = [tmp_path / o for o in json.loads(outputs)]
        assert files and all(f.exists() for f in files)
        assert nbytes == sum(f.stat().st_size for f in files)
        recorded = stats_from_json(stats)
        part = source.slice(index * 1_000, 1_000)
        expected = stats_of(part, COLUMNS)
        assert {k: (v.count, v.nulls) for k, v in recorded.items()} == {
            k: (v.count, v.nulls) for k, v in expected.items()
        }
        for name in ("id", "sensor_id", "ok"):
            assert recorded[name].checksum == expected[name].checksum
    runs = _ledger(tmp_path, "SELECT outcome, rows FROM runs")
    assert runs == [("success", 3_000)]


def test_second_concurrent_run_exits_7_and_log_progress_ticks(
    run_cli: RunCli, tmp_path: Path
) -> None:
    source = write_csv_archive(tmp_path / "archive", files=6, rows_per_file=100_000, tz=None)
    first = procs.start(tmp_path, *_data("-workers", "1", "-progress", "log"))
    try:
        procs.wait_for(first, lambda: procs.committed(tmp_path) >= 1, "the first commit")
        # Freeze the first run while it holds the lock, so the second meets it whatever the
        # machine's speed; a freeze longer than the log interval also makes progress tick.
        os.killpg(first.pid, signal.SIGSTOP)
        frozen = time.monotonic()
        unfinished = _ledger(tmp_path, "SELECT count(*) FROM runs WHERE finished_at IS NULL")
        assert unfinished == [(1,)], "the first run finished before it could be frozen"
        second = run_cli(*_data("-workers", "1", "-progress", "none"), timeout=60)
        time.sleep(max(0.0, LOG_INTERVAL_S + 0.5 - (time.monotonic() - frozen)))
        os.killpg(first.pid, signal.SIGCONT)
        code, out, err = procs.finish(first)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert second.returncode == 7, second.stderr
    assert "already running" in second.stderr and f"pid {first.pid}" in second.stderr
    assert code == 0, err
    assert_same_rows(read_dataset(tmp_path / "out"), source, COLUMNS)
    assert _ledger(tmp_path, "SELECT outcome FROM runs") == [("success",)]
    ticks = [line for line in err.splitlines() if "progress:" in line]
    assert ticks, err
    assert re.search(r"[\d,]+ rows +[\d,]+ rows/s .* written +partitions \d+/6", ticks[0])
    assert SUMMARY.search(out) and "progress:" not in out


def test_failing_partition_others_commit_and_rerun_retries_only_it(
    run_cli: RunCli, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    source = write_csv_archive(archive, files=3, rows_per_file=30_000, tz=None)
    bad = archive / "readings-001.csv"
    good_text = bad.read_text()
    lines = good_text.splitlines(keepends=True)
    # A row with one field too many fails whatever types the reader infers for the columns.
    lines[-10] = lines[-10].rstrip("\n") + ",not-a-field\n"
    bad.write_text("".join(lines))

    first = run_cli(*_data("-progress", "none"))
    assert first.returncode == 8, first.stderr  # some partitions failed, the others committed
    assert f"readings-001.csv:{len(lines) - 9}" in first.stderr
    assert "not-a-field" in first.stderr
    match = SUMMARY.search(first.stdout)
    assert match and (match["done"], match["failed"]) == ("2", "1")
    states = dict(_ledger(tmp_path, "SELECT label, state FROM partitions"))
    assert states == {
        "./archive/readings-000.csv": "committed",
        "./archive/readings-001.csv": "failed",
        "./archive/readings-002.csv": "committed",
    }
    committed = {p: p.stat().st_mtime_ns for p in _outputs(tmp_path)}
    assert len(committed) == 2 and not any(p.name.startswith(".") for p in committed)

    again = run_cli(*_data("-progress", "none"))  # still broken: fails the same way
    assert again.returncode == 8  # the two partitions committed earlier still count
    assert SUMMARY.search(again.stdout)["skipped"] == "2"  # type: ignore[index]

    bad.write_text(good_text)
    fixed = run_cli(*_data("-progress", "none", "-validate"))
    assert fixed.returncode == 0, fixed.stderr
    match = SUMMARY.search(fixed.stdout)
    assert match and (match["done"], match["skipped"], match["failed"]) == ("1", "2", "0")
    for path, mtime in committed.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was rewritten"
    assert_same_rows(read_dataset(tmp_path / "out"), source, COLUMNS)


def test_rerun_after_the_output_was_deleted_does_not_silently_skip(
    run_cli: RunCli, tmp_path: Path
) -> None:
    source = write_csv_archive(tmp_path / "archive", files=2, rows_per_file=500)
    assert run_cli(*_data("-progress", "none")).returncode == 0
    for path in _outputs(tmp_path):
        path.unlink()
    again = run_cli(*_data("-progress", "none"))
    assert again.returncode != 0 or read_dataset(tmp_path / "out").num_rows == source.num_rows


def test_fresh_rewrites_every_partition_without_duplicates(run_cli: RunCli, tmp_path: Path) -> None:
    source = write_csv_archive(tmp_path / "archive", files=2, rows_per_file=500)
    assert run_cli(*_data("-progress", "none")).returncode == 0
    names = [p.name for p in _outputs(tmp_path)]
    fresh = run_cli(*_data("-progress", "none", "-fresh", "-validate"))
    assert fresh.returncode == 0, fresh.stderr
    match = SUMMARY.search(fresh.stdout)
    assert match and (match["done"], match["skipped"]) == ("2", "0")
    assert [p.name for p in _outputs(tmp_path)] == names
    assert_same_rows(read_dataset(tmp_path / "out"), source, COLUMNS)


def test_closed_stdout_pipe_is_not_a_traceback(tmp_path: Path) -> None:
    """``colmig plan ... | head -1``: the reader goes away before colmig is done writing."""
    write_csv_archive(tmp_path / "archive", files=2, rows_per_file=10)
    process = procs.start(tmp_path, "plan", *_data())
    assert process.stdout is not None
    process.stdout.close()  # every write colmig makes now fails with EPIPE
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
