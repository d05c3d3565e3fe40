"""Retries of transient failures and the fate of permanently failing partitions: the worker
(``colmig.engine.worker.execute``) and the coordinator driven with fake Reader/Writer
implementations of colmig's own contracts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from colmig.backends.base import JobInfo
from colmig.cli import parse_args
from colmig.config import Settings
from colmig.engine import job as job_module
from colmig.engine.checksums import table_stats
from colmig.engine.worker import JobContext, execute
from colmig.errors import ColmigError, PartialFailureError, SourceDataError, TransientError
from tests.engine.fakes import (
    SCHEMA,
    FakeReader,
    FakeWriter,
    Script,
    permanent,
    rows_of,
    transient,
)


def _context(reader: FakeReader, writer: FakeWriter, tmp_path: Path, retries: int) -> JobContext:
    return JobContext(
        reader=reader,
        writer=writer,
        job=JobInfo("job1", "run1", "fake://source"),
        settings=Settings().with_(retries=retries),
        input_schema=SCHEMA,
        output_schema=SCHEMA,
        transformation=None,
        validate=True,
        rejects_dir=str(tmp_path / "rejects"),
    )


def test_transient_error_is_retried_and_the_partition_rewritten(tmp_path: Path) -> None:
    script = Script({"p0": [transient()]})
    reader, writer = FakeReader(script), FakeWriter()
    partition = reader.partitions[0]
    result = execute(_context(reader, writer, tmp_path, retries=3), partition)
    assert result.error is None
    assert result.retries == 1
    assert script.reads == {"p0": 2}
    assert result.rows == 250 and writer.tables["p0"].num_rows == 250
    assert result.stats is not None
    from colmig.engine.checksums import stats_from_json

    assert stats_from_json(result.stats) == table_stats(rows_of(partition).to_batches(), SCHEMA)


def test_transient_error_gives_up_after_the_retries(tmp_path: Path) -> None:
    script = Script({"p0": [transient(), transient(), transient("still throttled")]})
    reader = FakeReader(script)
    result = execute(_context(reader, FakeWriter(), tmp_path, retries=2), reader.partitions[0])
    assert isinstance(result.error, TransientError)
    assert "still throttled" in str(result.error)
    assert result.retries == 2
    assert script.reads == {"p0": 3}


def test_permanent_error_is_not_retried(tmp_path: Path) -> None:
    script = Script({"p0": [permanent()]})
    reader = FakeReader(script)
    result = execute(_context(reader, FakeWriter(), tmp_path, retries=3), reader.partitions[0])
    assert isinstance(result.error, SourceDataError)
    assert result.retries == 0
    assert script.reads == {"p0": 1}


def test_unexpected_error_keeps_its_trace_without_secrets(tmp_path: Path) -> None:
    url = "postgres://colmig:hunter2-secret@db.example:5432/prod"
    script = Script({"p0": [ValueError(f"cannot talk to {url}")]})
    reader = FakeReader(script)
    result = execute(_context(reader, FakeWriter(), tmp_path, retries=3), reader.partitions[0])
    assert isinstance(result.error, ColmigError)
    assert "unexpected ValueError" in str(result.error)
    assert result.error_text is not None and "Traceback" in result.error_text
    assert "hunter2-secret" not in str(result.error) + result.error_text
    assert script.reads == {"p0": 1}


# --- the coordinator ----------------------------------------------------------------------------


@pytest.fixture
def fakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Script, FakeReader, FakeWriter]]:
    """Route the coordinator's reader/writer factories to one fake pair (inline executor)."""
    monkeypatch.chdir(tmp_path)
    script = Script()
    reader, writer = FakeReader(script), FakeWriter()
    monkeypatch.setattr(job_module, "open_reader", lambda url, settings: reader)
    monkeypatch.setattr(job_module, "open_writer", lambda url, settings: writer)
    yield script, reader, writer


def _run(*extra: str) -> int:
    _, settings = parse_args(
        ["-mode", "data", "-source", "fake://source", "-target", "fake://target",
         "-workers", "1", "-progress", "none", *extra]
    )  # fmt: skip
    return job_module.run_job(settings)


def _states(tmp_path: Path) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(tmp_path / ".colmig" / "ledger.db") as db:
        rows = db.execute("SELECT partition_id, state, attempts FROM partitions").fetchall()
    return {pid: (state, attempts) for pid, state, attempts in rows}


def test_retry_count_appears_in_the_summary(
    fakes: tuple[Script, FakeReader, FakeWriter],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    script, _, writer = fakes
    script.failures = {"p1": [transient()], "p2": [transient(), transient()]}
    assert _run("-validate") == 0
    out = capsys.readouterr().out
    assert "750 rows written" in out
    assert "partitions 3 done, 0 skipped by resume, 0 failed" in out
    assert "retries 3" in out
    assert "validated 3 partition(s)" in out
    assert _states(tmp_path) == {
        "p0": ("committed", 1),
        "p1": ("committed", 2),
        "p2": ("committed", 3),
    }
    assert sum(t.num_rows for t in writer.tables.values()) == 750


def test_permanent_failure_others_commit_and_rerun_retries_only_it(
    fakes: tuple[Script, FakeReader, FakeWriter],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    script, _, writer = fakes
    script.failures = {"p1": [permanent()]}
    with pytest.raises(PartialFailureError, match="not a number") as caught:
        _run()
    assert caught.value.exit_code == 8, "the other partitions are committed"
    assert "partitions 2 done, 0 skipped by resume, 1 failed" in capsys.readouterr().out
    states = _states(tmp_path)
    assert states["p0"][0] == states["p2"][0] == "committed"
    assert states["p1"][0] == "failed"

    script.reads.clear()
    assert _run() == 0
    assert script.reads == {"p1": 1}, "only the failed partition is read again"
    assert "partitions 1 done, 2 skipped by resume, 0 failed" in capsys.readouterr().out
    # Partitions committed without -validate have no recorded stats: re-read to check them.
    assert _run("-validate") == 0
    out = capsys.readouterr().out
    assert "partitions 0 done, 3 skipped by resume, 0 failed" in out
    assert "validated 3 partition(s)" in out
    assert {pid: state for pid, (state, _) in _states(tmp_path).items()} == {
        "p0": "committed",
        "p1": "committed",
        "p2": "committed",
    }
    ids = pa.concat_tables(writer.tables.values()).column("id")
    assert sorted(ids.to_pylist()) == list(range(750))


def test_two_failures_of_different_kinds_exit_partial(
    fakes: tuple[Script, FakeReader, FakeWriter],
    capsys: pytest.CaptureFixture[str],
) -> None:
    script, _, _ = fakes
    script.failures = {"p0": [permanent()], "p2": [ColmigError("p2 broke in a new way")]}
    with pytest.raises(ColmigError) as caught:
        _run("-retries", "0")
    assert caught.value.exit_code == 8
    message = str(caught.value)
    assert "2 partition(s) failed" in message
    assert "not a number" in message and "p2 broke" in message
    assert "1 done" in capsys.readouterr().out


def test_every_partition_failing_exits_with_the_failures_own_code(
    fakes: tuple[Script, FakeReader, FakeWriter],
    capsys: pytest.CaptureFixture[str],
) -> None:
    script, _, _ = fakes
    script.failures = {pid: [permanent()] for pid in ("p0", "p1", "p2")}
    with pytest.raises(SourceDataError, match="all 3 partition") as caught:
        _run("-retries", "0")
    assert caught.value.exit_code == 4, "nothing is committed: not a partial failure"
    assert "0 done" in capsys.readouterr().out


def test_connection_lost_then_refused_is_retried_until_it_comes_back(
    fakes: tuple[Script, FakeReader, FakeWriter],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A server restarting: the load breaks (transient), reconnecting is refused for a while."""
    from colmig.engine import worker
    from colmig.errors import ConnectionFailedError

    monkeypatch.setattr(worker, "BACKOFF_S", 0.01)
    script, _, writer = fakes
    refused = ConnectionFailedError("cannot connect: Connection refused")
    script.failures = {"p1": [transient(), refused, refused]}
    assert _run() == 0
    assert "retries 3" in capsys.readouterr().out
    assert sum(t.num_rows for t in writer.tables.values()) == 750


def test_retry_timeout_bounds_the_retries(
    fakes: tuple[Script, FakeReader, FakeWriter], monkeypatch: pytest.MonkeyPatch
) -> None:
    from colmig.engine import worker

    monkeypatch.setattr(worker, "BACKOFF_S", 0.2)
    script, _, _ = fakes
    script.failures = {"p1": [transient()] * 10}
    with pytest.raises(PartialFailureError):
        _run("-retries", "10", "-retry-timeout", "0.5")
    assert script.reads["p1"] <= 4, "retried past -retry-timeout"
