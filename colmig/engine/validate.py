"""``-validate``: compare the source with what the target holds.

Two comparisons, both by row count and order-independent column checksums (checksums.py):

- per partition, what colmig sent (recorded by the worker) against the target's own
  aggregates, where the target can isolate a partition's rows (files; database tables read by
  key range), otherwise for the whole table against the statistics recorded before the job
  started plus every partition's;
- for the whole job, the source recomputed without colmig's read path (source_check.py:
  DuckDB's own file readers, or SQL aggregates in the source database) against the target's
  aggregates. This is what catches a reader that silently loses rows or values.

A checksum that cannot be computed for a column names the column as not checked instead of
failing; only a real disagreement raises ValidationError (exit 6).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from colmig.backends.base import ColumnStats, JobInfo, Partition, Writer
from colmig.backends.sql_common import stats_kind
from colmig.engine.checksums import UNAVAILABLE, Mismatch, add_stats, compare, unchecked
from colmig.errors import ValidationError

log = logging.getLogger("colmig")

Stats = dict[str, ColumnStats]


@dataclass
class IndependentSource:
    """Whole-source statistics computed without colmig's reader (see source_check.py)."""

    how: str
    rows: int
    stats: Stats
    #: Columns the independent read cannot check, with the reason.
    unchecked: dict[str, str] = field(default_factory=dict)
    #: Rows and statistics per source file (files sources), to name the file that differs.
    per_path: dict[str, tuple[int, Stats]] = field(default_factory=dict)


def validate(
    writer: Writer,
    job: JobInfo,
    schema: pa.Schema,
    partitions: list[Partition],
    expected: Callable[[Partition], tuple[int, dict[str, ColumnStats]]],
    baseline: Mapping[str, ColumnStats] | None,
    additive: bool,
    independent: IndependentSource | None = None,
) -> str:
    """Raise ValidationError listing mismatches; return a one-line verdict otherwise."""
    mismatches: list[Mismatch] = []
    not_checked: dict[str, str] = {
        f.name: f"no checksum for {f.type}" for f in schema if stats_kind(f.type) == "none"
    }
    unknown: list[Partition] = []
    checked = 0
    target_sum: Stats = {}
    target_rows = 0
    by_partition: dict[str, tuple[int, Stats]] = {}
    sent_sum: Stats = {}
    sent_rows = 0
    for partition in partitions:
        rows, want = expected(partition)
        sent_rows += rows
        sent_sum = add_stats(sent_sum, want) if want else sent_sum
        actual = _partition_stats(writer, partition, schema, job, not_checked)
        if actual is None:
            unknown.append(partition)
            continue
        actual_rows = _rows(actual, rows if not want else None)
        by_partition[partition.id] = (actual_rows, actual)
        target_rows += actual_rows
        target_sum = add_stats(target_sum, actual)
        not_checked.update(unchecked(want, actual))
        mismatches.extend(compare(partition.label, rows, want, actual_rows, actual))
        checked += 1
    verdict = f"validated {checked} partition(s) by count and column checksums"
    # The whole target (table) minus what it held before the job, when partitions are unknown.
    whole: tuple[int, Stats] | None = (target_rows, target_sum) if not unknown else None
    with_baseline = False
    if unknown:
        if not additive:
            log.warning(
                "validate: %d partition(s) cannot be checked one by one and -write-mode %s"
                " replaces rows, so table totals are not comparable; not validated",
                len(unknown),
                "upsert",
            )
            verdict += f"; {len(unknown)} not validated (upsert)"
        else:
            total = _whole_stats(writer, schema, job, not_checked)
            if total is None:
                verdict += (
                    f"; {len(unknown)} partition(s) not validated:"
                    f" {writer.describe()} cannot report statistics"
                )
                log.warning("validate: %s cannot report statistics", writer.describe())
            else:
                want_rows = _rows(baseline or {}, 0) if baseline else 0
                want: Stats = dict(baseline or {})
                want_rows += sent_rows
                want = add_stats(want, sent_sum)
                not_checked.update(unchecked(want, total))
                mismatches.extend(compare("whole table", want_rows, want, _rows(total, 0), total))
                whole = (_rows(total, 0), total)
                with_baseline = True
                verdict = (
                    f"validated the whole target table ({want_rows:,} rows)"
                    " by count and column checksums"
                )
    per_file = independent is not None and _per_file(
        independent, partitions, by_partition, mismatches
    )
    if independent is not None and per_file:
        files, rows = len(independent.per_path), independent.rows
        verdict += (
            f"; source recomputed by {independent.how} file by file"
            f" ({files:,} file(s), {rows:,} rows) matches the target"
        )
    elif independent is not None:
        verdict += "; " + _check_independent(
            independent, whole, with_baseline, baseline, sent_rows, sent_sum, mismatches
        )
        not_checked.update(unchecked(independent.stats))
        for name, reason in independent.unchecked.items():
            not_checked.setdefault(name, reason)
    if mismatches:
        raise ValidationError(_table(mismatches), mismatches=len(mismatches))
    if not_checked:
        for name, reason in not_checked.items():
            log.warning("validate: column %s not checked: %s", name, reason)
        verdict += "; not checked: " + ", ".join(
            f"{name} ({reason})" for name, reason in not_checked.items()
        )
    return verdict


def _check_independent(
    source: IndependentSource,
    whole: tuple[int, Stats] | None,
    with_baseline: bool,
    baseline: Mapping[str, ColumnStats] | None,
    sent_rows: int,
    sent_sum: Stats,
    mismatches: list[Mismatch],
) -> str:
    """Compare the independently read source with the target (or, for upserts, with what was
    sent, which the per-partition checks tie to the target)."""
    label = f"whole source ({source.how})"
    stats = {k: v for k, v in source.stats.items() if k not in source.unchecked}
    if whole is None:
        mismatches.extend(compare(label, source.rows, stats, sent_rows, _only(sent_sum, stats)))
        return f"source recomputed by {source.how} ({source.rows:,} rows) matches what was sent"
    rows, actual = whole
    want_rows, want = source.rows, stats
    if with_baseline and baseline:
        want_rows += _rows(baseline, 0)
        want = add_stats(dict(baseline), stats)
    mismatches.extend(compare(label, want_rows, want, rows, _only(actual, stats)))
    return f"source recomputed by {source.how} ({source.rows:,} rows) matches the target"


def _per_file(
    source: IndependentSource,
    partitions: list[Partition],
    by_partition: Mapping[str, tuple[int, Stats]],
    mismatches: list[Mismatch],
) -> bool:
    """Compare file by file when every partition is one file's (or part of one) and the
    target reported each partition's statistics; False when that mapping does not exist."""
    if not source.per_path or any(p.id not in by_partition for p in partitions):
        return False
    paths = [p.spec.get("path") for p in partitions]
    if any(not isinstance(path, str) for path in paths):
        return False
    target: dict[str, tuple[int, Stats]] = {}
    for partition, path in zip(partitions, paths, strict=True):
        rows, stats = by_partition[partition.id]
        have_rows, have = target.get(str(path), (0, {}))
        target[str(path)] = (have_rows + rows, add_stats(have, stats))
    for path in sorted(set(target) | set(source.per_path)):
        want_rows, want = source.per_path.get(path, (0, {}))
        want = {k: v for k, v in want.items() if k not in source.unchecked}
        rows, actual = target.get(path, (0, {}))
        label = f"{path} ({source.how})"
        mismatches.extend(compare(label, want_rows, want, rows, _only(actual, want)))
    return True


def _only(stats: Stats, names: Mapping[str, ColumnStats]) -> Stats:
    return {k: v for k, v in stats.items() if k in names}


def _partition_stats(
    writer: Writer, partition: Partition, schema: pa.Schema, job: JobInfo, failed: dict[str, str]
) -> Stats | None:
    """The target's statistics of one partition; a column the target cannot aggregate is
    retried alone and named in ``failed`` instead of failing the whole validation."""
    try:
        return writer.partition_stats(partition, schema, job)
    except Exception as exc:  # a driver error of one column's aggregate, e.g. an overflow
        log.debug("partition statistics failed, retrying column by column: %s", exc)
    return _per_column(lambda one: writer.partition_stats(partition, one, job), schema, failed)


def _whole_stats(
    writer: Writer, schema: pa.Schema, job: JobInfo, failed: dict[str, str]
) -> Stats | None:
    try:
        return writer.target_stats(schema, job)
    except Exception as exc:
        log.debug("target statistics failed, retrying column by column: %s", exc)
    return _per_column(lambda one: writer.target_stats(one, job), schema, failed)


def _per_column(
    query: Callable[[pa.Schema], Stats | None], schema: pa.Schema, failed: dict[str, str]
) -> Stats | None:
    out: Stats = {}
    rows: int | None = None
    broken: list[str] = []
    for f in schema:
        if stats_kind(f.type) == "none":
            continue
        try:
            got = query(pa.schema([f]))
        except Exception as exc:
            failed[f.name] = f"the target cannot aggregate it: {_first_line(exc)}"
            broken.append(f.name)
            continue
        if got is None:
            return None
        out.update(got)
        rows = _rows(got, rows)
    if rows is None:
        return None
    for name in broken:
        out[name] = ColumnStats(rows, 0, f"{UNAVAILABLE}: {failed[name]}")
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else ""


def _rows(stats: Mapping[str, ColumnStats], default: int | None) -> int:
    for value in stats.values():
        return value.count
    return default or 0


def _table(mismatches: list[Mismatch]) -> str:
    lines = [f"validation failed: {len(mismatches)} mismatch(es) between source and target"]
    width = max(len(m.partition) for m in mismatches[:50])
    lines.append(f"  {'partition':<{width}}  {'column':<16} {'what':<9} expected -> actual")
    lines.extend(
        f"  {m.partition:<{width}}  {m.column:<16} {m.what:<9} {m.expected} -> {m.actual}"
        for m in mismatches[:50]
    )
    if len(mismatches) > 50:
        lines.append(f"  ... and {len(mismatches) - 50} more")
    return "\n".join(lines)
