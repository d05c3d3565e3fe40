"""Run a data or transform job: plan -> resume -> run partitions -> finalize -> validate.

The coordinator (this module) plans once, reads the ledger, cleans leftovers of interrupted
runs, hands pending partitions to the executor, records each committed partition in the
ledger as soon as its worker reports it, and ends with the summary (and ``-validate``).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from colmig.backends.base import JobInfo, Partition, Reader, Writer
from colmig.backends.sql_common import short_hash
from colmig.config import Settings
from colmig.engine.checksums import StatsAccumulator, stats_from_json, stats_to_json
from colmig.engine.executor import make_executor
from colmig.engine.ledger import Ledger
from colmig.engine.progress import ProgressDisplay, Totals, human_bytes, summary_line
from colmig.engine.validate import validate
from colmig.engine.worker import JobContext, PartitionResult
from colmig.errors import (
    ColmigError,
    ConfigError,
    LockTimeoutError,
    PartialFailureError,
    SourceDataError,
    ValidationError,
    local_decode_error,
    target_write_error,
)
from colmig.registry import open_reader, open_writer
from colmig.urls import canonical, parse, redact, redact_secrets

log = logging.getLogger("colmig")

_FILE_SCHEMES = {"file", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"}


@dataclass
class SubJob:
    """One source -> target movement (a transform mode file may hold several)."""

    name: str
    settings: Settings
    source: str
    target: str | None
    transformation: Any | None
    target_table: str | None


def run_job(settings: Settings, plan_only: bool = False) -> int:
    """Run the data/transform job described by ``settings``; return the exit code."""
    if not settings.source:
        raise ConfigError("-source is required (a URL such as file://./data or postgres://...)")
    for sub in _sub_jobs(settings):
        if plan_only or settings.dry_run:
            _print_plan(sub)
            continue
        _run(sub)
    if plan_only or settings.dry_run:
        print("dry run: nothing was written")
    return 0


# --- building jobs ---------------------------------------------------------------------------


def _sub_jobs(settings: Settings) -> list[SubJob]:
    assert settings.source is not None
    if settings.mode != "transform":
        if settings.transform_config:
            log.warning("-transform-config is ignored in -mode data; use -mode transform")
        if not settings.target and not settings.dry_run:
            raise ConfigError("-target is required for -mode data")
        return [
            SubJob("data", settings, settings.source, settings.target, None, settings.target_table)
        ]
    if not settings.transform_config:
        raise ConfigError("-mode transform needs -transform-config FILE")
    from colmig.transforms import load_config

    config = load_config(settings.transform_config, settings)
    chosen = [config.select(settings.transform)] if settings.transform else config.transformations
    target = settings.target or settings.source
    out = []
    for t in chosen:
        source = settings.source
        sub_settings = settings
        if t.source_table and not (settings.table or settings.source_table or settings.query):
            if parse(source).scheme in _FILE_SCHEMES:
                from colmig.backends.files.reader import narrow_to_table

                source = narrow_to_table(source, t.source_table)
            else:
                sub_settings = sub_settings.with_(source_table=t.source_table)
        target_table = settings.target_table or t.target_table
        if target_table and parse(target).scheme not in _FILE_SCHEMES:
            sub_settings = sub_settings.with_(target_table=target_table)
        out.append(SubJob(t.name, sub_settings, source, target, t, target_table))
    return out


def _job_id(sub: SubJob) -> str:
    s = sub.settings
    transform = ""
    if sub.transformation is not None and s.transform_config:
        digest = hashlib.sha256(Path(s.transform_config).read_bytes()).hexdigest()
        transform = f"{digest}:{sub.transformation.name}"
    # Canonical URLs: another spelling of the same source or target (file:///x, /x/, ./x;
    # ?sslmode=...; a default port) is the same job and resumes it.
    parts = [
        s.mode,
        canonical(sub.source),
        canonical(sub.target) if sub.target else "",
        s.table,
        s.source_table,
        s.target_table,
        s.query,
        sub.target_table,
        transform,
        s.partition_on,
        s.partition_window,
        s.partitions,
        s.partition_by,
        s.target_format,
        s.write_mode,
        s.key,
    ]
    return short_hash(*[p or "" for p in parts], length=16)


@contextmanager
def _target_side(target: str) -> Iterator[None]:
    """An OSError meaning the target cannot take data (disk full, read-only, permission, a
    name too long) is exit 5 naming errno and path, whatever the backend wrapped it in."""
    try:
        yield
    except Exception as exc:
        mapped = target_write_error(exc, redact(target))
        if mapped is None:
            raise
        raise mapped from None


@contextmanager
def _source_side(source: str) -> Iterator[None]:
    """An errno-less OSError from a local source file is a library decoding the file (a
    corrupted Parquet footer), not I/O: bad source data, not a connection failure."""
    try:
        yield
    except ColmigError as exc:
        if isinstance(exc, SourceDataError) or parse(source).scheme != "file":
            raise
        if not local_decode_error(exc):
            raise
        raise SourceDataError(str(exc)) from None


@dataclass
class Prepared:
    """A sub-job with its reader, writer, schemas and plan."""

    sub: SubJob
    reader: Reader
    writer: Writer | None
    input_schema: pa.Schema
    output_schema: pa.Schema
    partitions: list[Partition]
    job: JobInfo
    compiled: Any | None


def _check_not_nested(source: str, target: str | None) -> None:
    """A files target inside a files source would be read back as input by the next run."""
    if not target:
        return
    src, dst = parse(source), parse(target)
    if src.scheme != dst.scheme or src.scheme not in _FILE_SCHEMES:
        return
    from colmig.backends.files.fs import filesystem

    _, src_root = filesystem(src)
    _, dst_root = filesystem(dst)
    src_root = src_root.split("*", 1)[0].rsplit("/", 1)[0] if "*" in src_root else src_root
    if dst_root == src_root or dst_root.startswith(src_root.rstrip("/") + "/"):
        raise ConfigError(
            f"the target {redact(target)} is inside the source {redact(source)}: the next run"
            " would read its own output; write somewhere else"
        )


def _prepare(sub: SubJob, run_id: str, with_writer: bool) -> Prepared:
    s = sub.settings
    _check_not_nested(sub.source, sub.target)
    reader = open_reader(sub.source, s)
    with _source_side(sub.source):
        input_schema = reader.schema()
    compiled = None
    output_schema = input_schema
    if sub.transformation is not None:
        from colmig.transforms import compile_transformation

        compiled = compile_transformation(sub.transformation, input_schema, s)
        needed = compiled.required_columns()
        if needed is not None and len(needed) < len(input_schema) and reader.project(needed):
            # Projection pushdown: columns the transformation never reads are never parsed.
            log.debug("reading only %s", ", ".join(needed))
            input_schema = reader.schema()
            compiled = compile_transformation(sub.transformation, input_schema, s)
        output_schema = compiled.output_schema
        for name in compiled.slow_transforms:
            log.warning("transform %s runs per row in Python (slow)", name)
    max_partitions = s.partitions or s.workers * 4
    partitions = reader.plan(max_partitions)
    ids = [p.id for p in partitions]
    if len(set(ids)) != len(ids):
        raise ColmigError(f"{reader.describe()}: the plan has duplicate partition ids (a bug)")
    with _target_side(sub.target or ""):
        writer = open_writer(sub.target, s) if (with_writer and sub.target) else None
    job = JobInfo(
        job_id=_job_id(sub),
        run_id=run_id,
        source_redacted=redact(sub.source),
        target_table=sub.target_table,
    )
    return Prepared(sub, reader, writer, input_schema, output_schema, partitions, job, compiled)


# --- dry run -----------------------------------------------------------------------------------


def _print_plan(sub: SubJob) -> None:
    prepared = _prepare(sub, "dry-run", with_writer=bool(sub.target))
    s = sub.settings
    job = prepared.job
    committed: set[str] = set()
    ledger_path = Path(s.ledger or os.path.join(s.state_dir, "ledger.db"))
    if ledger_path.exists():
        ledger = Ledger(ledger_path)
        committed = ledger.committed(job.job_id)
        ledger.close()
    out = sys.stdout
    print(f"plan for {sub.name!r} (job {job.job_id}, mode {s.mode})", file=out)
    print(f"  source: {prepared.reader.describe()}", file=out)
    target = prepared.writer.describe() if prepared.writer else redact(sub.target or "(none)")
    print(
        f"  target: {target}" + (f", table/dir {job.target_table}" if job.target_table else ""),
        file=out,
    )
    print(f"  batch size {s.batch_size}, workers {s.workers}, write mode {s.write_mode}", file=out)
    print("  output schema:", file=out)
    for field in prepared.output_schema:
        print(f"    {field.name}: {field.type}", file=out)
    parts = prepared.partitions
    print(
        f"  partitions: {len(parts)}"
        + (
            f" ({len(committed & {p.id for p in parts})} committed, would be skipped)"
            if committed
            else ""
        ),
        file=out,
    )
    for index, p in enumerate(parts[:50], 1):
        rows = f"{p.estimated_rows:,} rows" if p.estimated_rows is not None else "rows unknown"
        size = human_bytes(p.estimated_bytes) if p.estimated_bytes is not None else "size unknown"
        state = "  [committed]" if p.id in committed else ""
        print(f"    {index:>4}. {p.label}  ({rows}, {size}){state}", file=out)
        where = prepared.writer.output_of(p, job) if prepared.writer is not None else None
        if where:
            print(f"          -> {where}", file=out)
    if len(parts) > 50:
        print(f"    ... and {len(parts) - 50} more", file=out)
    sample = _sample(prepared)
    if sample is not None:
        if prepared.compiled is not None:
            from colmig.transforms import render_preview

            print(render_preview(prepared.compiled, sample, limit=10), file=out)
        else:
            import polars as pl

            frame = pl.from_arrow(sample.slice(0, 10))
            with pl.Config(tbl_cols=-1, tbl_rows=10, tbl_width_chars=200):
                print("  sample rows as they would be written:", file=out)
                print(frame, file=out)
    prepared.reader.close()
    if prepared.writer is not None:
        prepared.writer.close()


def _sample(prepared: Prepared) -> pa.Table | None:
    for partition in prepared.partitions[:3]:
        for batch in prepared.reader.read(partition, 10):
            return pa.Table.from_batches([batch])
    return None


# --- running -----------------------------------------------------------------------------------


@contextmanager
def _job_lock(state_dir: str, job_id: str) -> Iterator[None]:
    directory = Path(state_dir) / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{job_id}.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockTimeoutError(
                f"job {job_id} is already running ({holder}); wait for it or stop it"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(sub: SubJob) -> None:
    s = sub.settings
    run_id = uuid.uuid4().hex[:12]
    started = time.monotonic()
    executor = make_executor(s.executor, s.workers, s.dask_scheduler)
    queue = multiprocessing.get_context("spawn").Queue() if s.progress != "none" else None
    executor.start(queue)
    try:
        _run_with(sub, run_id, started, executor, queue)
    finally:
        executor.close()
        if queue is not None:
            queue.close()


def _run_with(sub: SubJob, run_id: str, started: float, executor: Any, queue: Any) -> None:
    s = sub.settings
    prepared = _prepare(sub, run_id, with_writer=True)
    assert prepared.writer is not None
    writer, reader, job = prepared.writer, prepared.reader, prepared.job
    ledger = Ledger(s.ledger or os.path.join(s.state_dir, "ledger.db"))
    with _job_lock(s.state_dir, job.job_id):
        ledger.start_job(job.job_id, f"{redact(sub.source)} -> {redact(sub.target or '')}", s.fresh)
        ledger.start_run(run_id, job.job_id)
        with _target_side(sub.target or ""):
            writer.prepare(prepared.output_schema, job, s.fresh)
        planned = {p.id for p in prepared.partitions}
        committed, rewritten = _committed(ledger, writer, job, s.fresh)
        # Also what the run ledger recorded: partitions whose outputs look gone may be the
        # same files seen under other partition ids (another plan), never to be written twice.
        stray = (committed | (set() if s.fresh else ledger.committed(job.job_id))) - planned
        if stray:
            raise ConfigError(
                f"the plan changed since the interrupted run of job {job.job_id}"
                f" ({len(stray)} committed partition(s) are not in the new plan);"
                " re-run with the same -workers/-partitions/-partition-on,"
                " or start over with -fresh"
            )
        if rewritten:
            log.warning("%s", rewritten)
        with _target_side(sub.target or ""):
            removed = writer.cleanup(job, planned, committed)
        if removed:
            log.info("removed %d leftover file(s) of interrupted partitions", removed)
        baseline = _baseline(ledger, writer, prepared, committed, s)
        pending = [p for p in prepared.partitions if p.id not in committed]
        totals = Totals(
            partitions=len(pending),
            skipped_by_resume=len(prepared.partitions) - len(pending),
            estimated_bytes=sum(p.estimated_bytes or 0 for p in pending),
        )
        if totals.skipped_by_resume:
            log.info(
                "resuming job %s: %d partition(s) already committed, %d to go",
                job.job_id,
                totals.skipped_by_resume,
                len(pending),
            )
        log.info(
            "%s -> %s: %d partition(s), %d worker(s)",
            reader.describe(),
            writer.describe(),
            len(pending),
            min(s.workers, max(1, len(pending))),
        )
        failures = _execute(prepared, pending, ledger, totals, run_id, executor, queue)
        seconds = time.monotonic() - started
        done_this_run = [p.id for p in pending if p.id not in failures]
        if failures and s.rollback_on_error:
            writer.rollback(job, done_this_run)
            ledger.forget(job.job_id, done_this_run)
            ledger.finish_run(run_id, "rolled back", 0, seconds)
            print(
                f"rolled back: {len(done_this_run)} partition(s) committed by this run were"
                " removed; the target holds what it held before the run",
            )
            _raise_failures(failures, partial=False)
        if failures:
            ledger.finish_run(run_id, "failed", totals.rows_written, seconds)
            print(summary_line(totals, seconds))
            _raise_failures(failures, partial=bool(totals.done or totals.skipped_by_resume))
        writer.finalize(job)
        ledger.finish_run(run_id, "success", totals.rows_written, seconds)
        print(
            f"{sub.name}: " + summary_line(totals, seconds)
            if sub.name != "data"
            else summary_line(totals, seconds)
        )
        if totals.rejected:
            print(f"rejected rows were written under {_rejects_dir(s)}/{job.job_id}/")
        if s.validate:
            records = ledger.records(job.job_id)

            def expected(partition: Partition) -> tuple[int, dict[str, Any]]:
                record = records.get(partition.id)
                if record is not None and record.stats is not None:
                    return record.rows, stats_from_json(record.stats)
                return _recompute(prepared, partition)

            additive = s.write_mode != "upsert"
            try:
                verdict = validate(
                    writer,
                    job,
                    prepared.output_schema,
                    prepared.partitions,
                    expected,
                    stats_from_json(baseline) if baseline else None,
                    additive,
                    _independent(prepared),
                )
            except ValidationError:
                raise
            except Exception as exc:  # the rows are committed whatever failed here
                log.warning("-validate could not be computed: %s", redact_secrets(str(exc)))
                verdict = (
                    "not validated (the statistics could not be computed; the rows above"
                    " are committed)"
                )
                print(verdict)
            else:
                print(verdict + ": OK")
    ledger.close()
    reader.close()
    writer.close()


def _committed(
    ledger: Ledger, writer: Writer, job: JobInfo, fresh: bool
) -> tuple[set[str], str | None]:
    """The partitions really committed in the target: the target's own ledger where it has
    one (databases), else the run ledger's less those whose output files are gone. What the
    run ledger recorded but the target lacks is written again: the second value says so."""
    if fresh:
        return set(), None
    recorded = ledger.committed(job.job_id)
    own = writer.committed_partitions(job)
    if own is not None:
        committed = set(own)
        gone = recorded - committed
        what = "are not in the target (its table or ledger was dropped or emptied)"
    else:
        records = ledger.records(job.job_id)
        gone = writer.missing_outputs(job, {pid: records[pid].outputs for pid in recorded})
        committed = recorded - gone
        what = "lost their output files"
    if not gone:
        return committed, None
    labels = sorted(ledger.records(job.job_id)[pid].label for pid in gone)
    shown = ", ".join(labels[:5]) + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")
    return committed, (
        f"{len(gone)} partition(s) committed by an earlier run {what} since;"
        f" writing them again: {shown}"
    )


def _baseline(
    ledger: Ledger, writer: Writer, prepared: Prepared, committed: set[str], s: Settings
) -> str | None:
    """The target's statistics before the job's first partition (for whole-table validation)."""
    if not s.validate:
        return ledger.baseline(prepared.job.job_id)
    recorded = ledger.baseline(prepared.job.job_id)
    if recorded is not None and committed:
        return recorded
    if s.write_mode == "replace":
        baseline = "{}"
    else:
        try:
            stats = writer.target_stats(prepared.output_schema, prepared.job)
        except ColmigError:
            stats = None
        baseline = stats_to_json(stats) if stats is not None else "{}"
    ledger.set_baseline(prepared.job.job_id, baseline)
    return baseline


def _rejects_dir(s: Settings) -> str:
    return s.rejects or os.path.join(s.state_dir, "rejects")


def _execute(
    prepared: Prepared,
    pending: list[Partition],
    ledger: Ledger,
    totals: Totals,
    run_id: str,
    executor: Any,
    queue: Any,
) -> dict[str, PartitionResult]:
    s = prepared.sub.settings
    assert prepared.writer is not None
    context = JobContext(
        reader=prepared.reader,
        writer=prepared.writer,
        job=prepared.job,
        settings=s,
        input_schema=prepared.input_schema,
        output_schema=prepared.output_schema,
        transformation=prepared.sub.transformation,
        validate=s.validate,
        rejects_dir=os.path.abspath(_rejects_dir(s)),
    )
    failures: dict[str, PartitionResult] = {}
    estimated = {p.id: p.estimated_bytes or 0 for p in pending}
    job = prepared.job
    with ProgressDisplay(s.progress, prepared.sub.name, totals, queue) as display:
        for result in executor.run(context, pending, queue):
            totals.retries += result.retries
            totals.completed_estimated_bytes += estimated.get(result.partition_id, 0)
            if result.error is not None:
                totals.failed += 1
                failures[result.partition_id] = result
                ledger.fail(
                    job.job_id,
                    run_id,
                    result.partition_id,
                    result.label,
                    redact_secrets(str(result.error)),
                    result.retries + 1,
                )
                log.error("partition failed: %s", redact_secrets(str(result.error)))
                if result.error_text:
                    log.debug("%s", result.error_text)
                continue
            ledger.commit(
                job.job_id,
                run_id,
                result.partition_id,
                result.label,
                result.rows,
                result.bytes,
                result.rejected,
                result.outputs,
                result.stats,
                result.retries + 1,
            )
            totals.done += 1
            totals.rows_written += result.rows
            totals.bytes_written += result.bytes
            totals.rejected += result.rejected
            totals.skipped_rows += result.skipped
            log.debug("committed %s: %d rows in %.2fs", result.label, result.rows, result.seconds)
        display.totals = totals
    return failures


def _raise_failures(failures: dict[str, PartitionResult], partial: bool) -> None:
    """Exit 8 when some partitions failed while others are committed (by this run or an
    earlier one): the target holds part of the job. When every partition failed, the error's
    own code (the first failure's when they differ); the message names every cause."""
    errors = [r.error for r in failures.values() if r.error is not None]
    first = errors[0]
    if len(errors) == 1 and not partial:
        raise first
    detail = "\n".join(f"  {redact_secrets(str(e))}" for e in errors[:20])
    more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
    if partial:
        raise PartialFailureError(
            f"{len(errors)} partition(s) failed; the others are committed and re-running the"
            f" same command retries only these:\n{detail}{more}"
        )
    error = type(first)(f"all {len(errors)} partition(s) failed:\n{detail}{more}")
    error.exit_code = first.exit_code
    raise error


def _independent(prepared: Prepared) -> Any:
    """The source recomputed without colmig's reader, or None (saying why)."""
    from colmig.engine.source_check import NotAvailable, independent_source

    s = prepared.sub.settings
    if s.on_error != "fail":
        log.warning(
            "validate: the source is not re-read independently under -on-error %s"
            " (rows set aside by the reader are not in the target)",
            s.on_error,
        )
        return None
    try:
        return independent_source(
            prepared.reader, prepared.input_schema, prepared.output_schema, prepared.compiled
        )
    except NotAvailable as exc:
        log.warning("validate: the source is not re-read independently: %s", exc)
    except Exception as exc:  # a second reader's failure is not the run's
        log.warning(
            "validate: the independent read of the source failed: %s",
            redact_secrets(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)),
        )
    return None


def _recompute(prepared: Prepared, partition: Partition) -> tuple[int, dict[str, Any]]:
    """Expected statistics of a partition whose run recorded none (re-read from the source)."""
    acc = StatsAccumulator(prepared.output_schema)
    for batch in prepared.reader.read(partition, prepared.sub.settings.batch_size):
        if prepared.compiled is not None:
            table, _ = prepared.compiled.apply(batch)
            acc.add(table)
        else:
            acc.add(batch)
    return acc.rows, acc.result()
