"""What a worker process does with one partition: read -> transform -> write, with retries.

The coordinator sends each task the pickled job context (unpickled once per process) and a
partition.
Everything here is picklable so the same function runs on a Dask worker.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import random
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from colmig.backends.base import JobInfo, Partition, Reader, Writer
from colmig.config import Settings
from colmig.engine.checksums import StatsAccumulator, stats_to_json
from colmig.engine.rejects import RejectSink
from colmig.errors import (
    ColmigError,
    ConnectionFailedError,
    TransientError,
    os_error_in,
    target_write_error,
)
from colmig.urls import redact_secrets

log = logging.getLogger("colmig.worker")

PROGRESS_INTERVAL_S = 0.5
PARENT_POLL_S = 0.5
#: First retry after about this many seconds (x0.75-1.25 jitter), doubling up to
#: MAX_BACKOFF_S: with the default 3 retries a partition waits at least 7.9 s in all, enough
#: to ride out a database server's restart.
BACKOFF_S = 1.5
MAX_BACKOFF_S = 30.0
#: Rows read and transformed at a time, whatever -batch-size (the rows per batch the target
#: receives): a vectorized plan's fixed cost per call dominates on small batches.
BLOCK_ROWS = 65_536


@dataclass
class JobContext:
    """Everything a worker needs besides the partition (sent once per process)."""

    reader: Reader
    writer: Writer
    job: JobInfo
    settings: Settings
    input_schema: pa.Schema
    output_schema: pa.Schema
    transformation: Any | None  # colmig.transforms.model.Transformation
    validate: bool
    rejects_dir: str
    progress: Any | None = None  # a multiprocessing queue of (partition_id, rows) deltas
    compiled: Any | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PartitionResult:
    """What became of one partition."""

    partition_id: str
    label: str
    rows: int = 0
    bytes: int = 0
    outputs: tuple[str, ...] = ()
    stats: str | None = None
    rejected: int = 0
    skipped: int = 0
    retries: int = 0
    seconds: float = 0.0
    error: ColmigError | None = None
    error_text: str | None = None


PR_SET_PDEATHSIG = 1


def _exit_with_parent(parent: int) -> None:
    """End this worker as soon as its coordinator ``parent`` dies (SIGTERM, SIGKILL, OOM): an
    orphaned pool worker would otherwise finish its partition and then wait for work forever,
    holding the caller's stdout/stderr open. What it leaves half-written is cleaned by the
    next run.

    On Linux the kernel sends SIGKILL at the parent's death (PR_SET_PDEATHSIG); the parent may
    have died before that was set (while this process imported), so the pid we were given,
    not getppid() (already the re-parenting reaper's), is checked right after. Elsewhere a
    thread polls for re-parenting."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="colmig-parent-watch", daemon=True).start()


_QUEUE: Any | None = None
_BUSY = False
_CONTEXTS: dict[str, JobContext] = {}


def warm(progress_queue: Any | None, parent: int) -> None:
    """Pool initializer: die with the coordinator ``parent``, keep the progress queue and
    import the heavy modules once; the job context comes with each task."""
    global _QUEUE
    _exit_with_parent(parent)
    _QUEUE = progress_queue
    os.environ.setdefault("POLARS_MAX_THREADS", "2")
    signal.signal(signal.SIGINT, _on_interrupt)
    import pyarrow.csv
    import pyarrow.parquet  # noqa: F401

    import colmig.backends.files.reader
    import colmig.backends.files.writer  # noqa: F401


def _on_interrupt(signum: int, frame: object) -> None:
    """Ctrl-C reaches every process of the group. A busy worker stops its partition at once
    (the coordinator is stopping too); an idle one keeps waiting for the coordinator's
    shutdown instead of dying with a KeyboardInterrupt traceback on the user's terminal."""
    if _BUSY:
        raise KeyboardInterrupt


def run_payload(token: str, payload: bytes, partition: Partition) -> PartitionResult:
    """Run ``partition`` with the pickled job context ``payload`` (unpickled once per process)."""
    import pickle

    global _BUSY
    _BUSY = True
    try:
        context = _CONTEXTS.get(token)
        if context is None:
            context = pickle.loads(payload)
            context.progress = _QUEUE
            _CONTEXTS.clear()
            _CONTEXTS[token] = context
        return execute(context, partition)
    finally:
        _BUSY = False


def execute(context: JobContext, partition: Partition, attempt_offset: int = 0) -> PartitionResult:
    """Run one partition to completion or to a final error (never raises a ColmigError).

    A transient error, or a lost connection (the coordinator reached every server when it
    planned, so a connection failing now is a dropped connection or a restarting server), is
    retried up to ``-retries`` times with exponential backoff and jitter, reconnecting each
    time, for at most ``-retry-timeout`` seconds after the partition's first failure."""
    settings = context.settings
    started = time.monotonic()
    retries = 0
    attempts = max(0, settings.retries) + 1
    deadline: float | None = None
    for attempt in range(attempt_offset, attempts):
        try:
            result = _attempt(context, partition)
            return _replace(result, retries=retries, seconds=time.monotonic() - started)
        except (TransientError, ConnectionFailedError) as exc:
            now = time.monotonic()
            if deadline is None:
                deadline = now + max(0.0, settings.retry_timeout)
            if attempt + 1 >= attempts or now >= deadline or _permanent(exc):
                return _failed(partition, exc, retries, started)
            retries += 1
            delay = min(MAX_BACKOFF_S, BACKOFF_S * 2**attempt) * (0.75 + random.random() / 2)
            delay = min(delay, deadline - now)
            log.warning(
                "%s: %s; retry %d of %d in %.1fs",
                partition.label,
                redact_secrets(str(exc)),
                attempt + 1,
                attempts - 1,
                delay,
            )
            time.sleep(delay)
        except ColmigError as exc:
            return _failed(partition, exc, retries, started)
        except Exception as exc:  # a bug or an unclassified library error: keep the trace
            text = redact_secrets("".join(traceback.format_exception(exc)))
            error = ColmigError(
                f"{partition.label}: unexpected {type(exc).__name__}: "
                f"{redact_secrets(str(exc)).splitlines()[0] if str(exc) else ''}"
            )
            return PartitionResult(
                partition.id,
                partition.label,
                retries=retries,
                seconds=time.monotonic() - started,
                error=error,
                error_text=text,
            )
    raise AssertionError("unreachable")


#: errno values no retry can cure (a path that is not there, not allowed, not a directory).
_PERMANENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOENT", "EACCES", "EPERM", "ENOTDIR", "EISDIR", "ENAMETOOLONG", "EROFS")
    if hasattr(errno, name)
)


def _permanent(exc: ColmigError) -> bool:
    cause = os_error_in(exc)
    return cause is not None and cause.errno in _PERMANENT_ERRNOS


def _failed(
    partition: Partition, exc: ColmigError, retries: int, started: float
) -> PartitionResult:
    return PartitionResult(
        partition.id,
        partition.label,
        retries=retries,
        seconds=time.monotonic() - started,
        error=exc,
    )


def _replace(result: PartitionResult, **changes: Any) -> PartitionResult:
    from dataclasses import replace

    return replace(result, **changes)


def _compiled(context: JobContext) -> Any:
    if context.transformation is None:
        return None
    if context.compiled is None:
        from colmig.transforms import compile_transformation

        context.compiled = compile_transformation(
            context.transformation, context.input_schema, context.settings
        )
    return context.compiled


def _attempt(context: JobContext, partition: Partition) -> PartitionResult:
    settings = context.settings
    compiled = _compiled(context)
    sink = RejectSink(context.rejects_dir, context.job.job_id)
    sink.clear(partition.id)
    stats = StatsAccumulator(context.output_schema) if context.validate else None
    rejected_tables: list[pa.Table] = []
    counters = {"rejected": 0, "skipped": 0}
    reporter = _Reporter(context.progress, partition.id)
    batch_rows = settings.batch_size
    if context.transformation is not None and context.transformation.batch_size:
        batch_rows = int(context.transformation.batch_size)

    source_error: list[BaseException] = []

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from produce()
        except Exception as exc:
            # Drivers consuming this stream (ADBC ingest) wrap what it raises in their own
            # errors; keep the original so a bad source value is not blamed on the target.
            # Only an Exception: the GeneratorExit of a writer that failed and closed the
            # stream is the writer's error, not the source's.
            source_error.append(exc)
            raise

    # Read and transform in blocks of at least BLOCK_ROWS rows (one Polars plan run, one
    # stats fold per block), then hand the target batches of at most -batch-size rows.
    read_rows = max(batch_rows, BLOCK_ROWS)

    def produce() -> Iterator[pa.RecordBatch]:
        for block in context.reader.read(partition, read_rows):
            for piece in _transformed(block):
                if stats is not None:
                    stats.add(piece)
                for offset in range(0, piece.num_rows, batch_rows):
                    yield piece.slice(offset, batch_rows)

    def _transformed(batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        reporter.add(batch.num_rows)
        if compiled is None:
            yield batch
            return
        table, rejects = compiled.apply(batch)
        if rejects is not None and rejects.num_rows:
            if compiled.on_error == "reject":
                rejected_tables.append(rejects)
                counters["rejected"] += rejects.num_rows
            else:
                counters["skipped"] += rejects.num_rows
        for piece in table.combine_chunks().to_batches():
            if piece.num_rows:
                yield piece

    try:
        result = context.writer.write_partition(
            partition, batches(), context.output_schema, context.job
        )
    except Exception as exc:
        if source_error:
            raise source_error[0] from None
        mapped = target_write_error(exc, f"{partition.label} -> {context.writer.describe()}")
        if mapped is not None:
            raise mapped from None
        raise
    reporter.flush()
    malformed = context.reader.drain_rejects()
    if malformed:
        if settings.on_error == "reject":
            sink.write_malformed(partition.id, malformed)
            counters["rejected"] += len(malformed)
        else:
            counters["skipped"] += len(malformed)
    sink.write_rows(partition.id, rejected_tables)
    return PartitionResult(
        partition.id,
        partition.label,
        rows=result.rows,
        bytes=result.bytes,
        outputs=tuple(result.outputs),
        stats=stats_to_json(stats.result()) if stats is not None else None,
        rejected=counters["rejected"] + result.rejected_rows,
        skipped=counters["skipped"],
    )


class _Reporter:
    """Sends row-count deltas to the coordinator at most every PROGRESS_INTERVAL_S."""

    def __init__(self, queue: Any | None, partition_id: str) -> None:
        self.queue = queue
        self.partition_id = partition_id
        self.pending = 0
        self.last = time.monotonic()

    def add(self, rows: int) -> None:
        self.pending += rows
        if self.queue is not None and time.monotonic() - self.last >= PROGRESS_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if self.queue is not None and self.pending:
            with contextlib.suppress(Exception):  # progress is best effort
                self.queue.put_nowait((self.partition_id, self.pending))
        self.pending = 0
        self.last = time.monotonic()
