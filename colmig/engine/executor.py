"""Where partitions run: worker processes on this machine (Dask comes as another executor).

An executor takes a job context and partitions and yields a :class:`PartitionResult` per
partition as each finishes. A worker process that dies (SIGKILL, out of memory) fails only the
partitions it was running; they are retried on a fresh pool within ``-retries``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from colmig.backends.base import Partition
from colmig.engine.worker import JobContext, PartitionResult, execute, run_payload, warm
from colmig.errors import ConfigError, TransientError

log = logging.getLogger("colmig.engine")


SMALL_INPUT_BYTES = 16 << 20


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class LocalExecutor:
    """Runs partitions in ``workers`` spawned processes (inline when one worker suffices)."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._queue: object | None = None

    def start(self, progress_queue: object | None) -> None:
        """Remember the progress queue workers report to (passed to each pool at creation).

        Pools are created when partitions are known: spawning them before planning was
        measured to gain nothing on two cores (the imports compete with the planning) and
        costs useless processes on small inputs, which run inline."""
        self._queue = progress_queue

    def close(self) -> None:
        """Nothing outlives a run; kept for executors that hold a connection (Dask)."""

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=warm,
            initargs=(self._queue, os.getpid()),
        )

    def run(
        self, context: JobContext, partitions: list[Partition], progress_queue: object | None
    ) -> Iterator[PartitionResult]:
        if not partitions:
            return
        workers = min(self.workers, len(partitions))
        sizes = [p.estimated_bytes for p in partitions]
        if workers > 1 and all(size is not None for size in sizes):
            # Starting a process costs about a second (pyarrow, polars, duckdb imports); below
            # SMALL_INPUT_BYTES per worker, extra processes make a job slower, not faster.
            total = sum(size or 0 for size in sizes)
            fitting = max(1, total // SMALL_INPUT_BYTES)
            if fitting < workers:
                log.info(
                    "small input (%s): %d worker process(es) instead of %d",
                    _mb(total),
                    fitting,
                    workers,
                )
                workers = int(fitting)
        if workers == 1:
            self.close()
            context.progress = progress_queue
            for partition in partitions:
                yield execute(context, partition)
            return
        yield from self._pool(context, partitions, workers, progress_queue)

    def _pool(
        self,
        context: JobContext,
        partitions: list[Partition],
        workers: int,
        progress_queue: object | None,
    ) -> Iterator[PartitionResult]:
        if self._queue is None:
            self._queue = progress_queue
        context.progress = None
        payload = pickle.dumps(context)
        token = uuid.uuid4().hex
        context.progress = progress_queue
        pending = list(partitions)
        deaths: dict[str, int] = {}
        allowed_deaths = max(0, context.settings.retries)
        while pending:
            # A partition that already died with its pool runs alone once its next death would
            # be its last: a pool's break cannot tell which worker died, so a death counts as a
            # partition's own only when nothing else ran beside it.
            alone = [p for p in pending if deaths.get(p.id, 0) >= max(1, allowed_deaths)]
            batch = alone[:1] or pending
            pending = [p for p in pending if p not in batch]
            pool = self._new_pool(min(workers, len(batch)))
            futures: dict[Future[PartitionResult], Partition] = {}
            died: list[Partition] = []
            try:
                with _sigint_ignored():
                    for p in batch:
                        futures[pool.submit(run_payload, token, payload, p)] = p
                remaining = set(futures)
                while remaining:
                    done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                    broken = False
                    for future in done:
                        try:
                            yield future.result()
                        except BrokenProcessPool:
                            broken = True
                            died.append(futures[future])
                    if broken:
                        # The pool is unusable: requeue what had not finished and start anew.
                        for future in remaining:
                            if future.done() and future.exception() is None:
                                yield future.result()
                            else:
                                died.append(futures[future])
                        remaining = set()
                for partition in died:
                    deaths[partition.id] = deaths.get(partition.id, 0) + 1
                    if alone and deaths[partition.id] > allowed_deaths:
                        yield PartitionResult(
                            partition.id,
                            partition.label,
                            error=TransientError(
                                f"{partition.label}: the worker process died"
                                f" {deaths[partition.id]} times (killed or out of memory)"
                            ),
                        )
                    else:
                        pending.append(partition)
                if died and pending:
                    log.warning(
                        "a worker process died; restarting the pool for %d partition(s)",
                        len(pending),
                    )
            except BaseException:
                # Interrupted (Ctrl-C, SIGTERM) or abandoned by the coordinator: partitions in
                # flight stop now instead of running to their end unrecorded (a re-run cleans
                # what they leave), and the queued ones never start.
                _stop_workers(pool)
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        with contextlib.suppress(Exception):
            process.terminate()


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C while submit() spawns workers: they inherit SIG_IGN and keep it until
    ``warm`` installs their handler, instead of printing a KeyboardInterrupt traceback from
    the middle of their imports. (A Ctrl-C in these few milliseconds is lost; press again.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def make_executor(kind: str, workers: int, scheduler: str | None) -> LocalExecutor:
    """The executor named by ``-executor``."""
    if kind == "local":
        return LocalExecutor(workers)
    raise ConfigError(
        "-executor dask is not available in this version; run with -executor local"
        + (f" (scheduler {scheduler} was not contacted)" if scheduler else "")
    )
