"""``-validate``: compare what was sent to the target with what the target holds.

Per partition where the target can isolate a partition's rows (files; database tables read
by key range), otherwise for the whole table against the statistics recorded before the job
started plus every partition's. Statistics are order-independent (see checksums.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import pyarrow as pa

from colmig.backends.base import ColumnStats, JobInfo, Partition, Writer
from colmig.engine.checksums import Mismatch, add_stats, compare
from colmig.errors import ValidationError

log = logging.getLogger("colmig")


def validate(
    writer: Writer,
    job: JobInfo,
    schema: pa.Schema,
    partitions: list[Partition],
    expected: Callable[[Partition], tuple[int, dict[str, ColumnStats]]],
    baseline: Mapping[str, ColumnStats] | None,
    additive: bool,
) -> str:
    """Raise ValidationError listing mismatches; return a one-line verdict otherwise."""
    mismatches: list[Mismatch] = []
    unknown: list[Partition] = []
    checked = 0
    for partition in partitions:
        actual = writer.partition_stats(partition, schema, job)
        if actual is None:
            unknown.append(partition)
            continue
        rows, want = expected(partition)
        actual_rows = _rows(actual, rows if not want else None)
        mismatches.extend(compare(partition.label, rows, want, actual_rows, actual))
        checked += 1
    verdict = f"validated {checked} partition(s) by count and column checksums"
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
            total = writer.target_stats(schema, job)
            if total is None:
                raise ValidationError(
                    f"-validate: {writer.describe()} cannot report statistics for"
                    f" {len(unknown)} partition(s)"
                )
            want_rows = _rows(baseline or {}, 0) if baseline else 0
            want: dict[str, ColumnStats] = dict(baseline or {})
            for partition in partitions:
                rows, stats = expected(partition)
                want_rows += rows
                want = add_stats(want, stats) if stats else want
            mismatches.extend(compare("whole table", want_rows, want, _rows(total, 0), total))
            verdict = (
                f"validated the whole target table ({want_rows:,} rows)"
                " by count and column checksums"
            )
    if mismatches:
        raise ValidationError(_table(mismatches), mismatches=len(mismatches))
    return verdict


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
