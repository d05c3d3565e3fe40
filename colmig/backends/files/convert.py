"""Lenient CSV conversion for ``-on-error skip|reject``: rows whose text does not convert to
the column's type are set aside instead of failing the file.

Arrow's CSV reader converts a whole block or fails, and its bad-row hook only sees rows with
the wrong number of fields. So with skip/reject, CSV columns are read as text and converted
here with Arrow's own casts (the same parsers the reader uses). A column that converts in one
vectorized cast costs nothing more; one that fails is bisected, so finding k bad values in n
rows costs about k * log2(n) casts of ever smaller slices. Number columns first drop what a
loose pattern proves is not a number, so a column full of words costs one pass, not n casts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class BadCell:
    """A value that does not convert: its row within the batch and its column."""

    row: int
    column: int
    value: str


def text_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every non-text column read as text."""
    return pa.schema([f if _is_text(f.type) else f.with_type(pa.string()) for f in schema])


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _convert(values: pa.Array, kind: pa.DataType, timestamp_format: str | None) -> pa.Array:
    """Cast text to ``kind`` as the CSV reader would; raises ArrowInvalid on a bad value."""
    if timestamp_format and pa.types.is_timestamp(kind):
        # Like the reader, per value: the format first, then ISO 8601.
        parsed = pc.strptime(values, format=timestamp_format, unit=kind.unit, error_is_null=True)
        parsed = parsed.cast(kind)
        failed = pc.and_(pc.is_valid(values), pc.is_null(parsed))
        if pc.any(failed).as_py():
            parsed = pc.replace_with_mask(parsed, failed, values.filter(failed).cast(kind))
        return parsed
    return values.cast(kind)


# Looser than Arrow's number parsers: text that does not match is surely not a number, so
# a column of words is rejected in one vectorized pass instead of one cast per row.
_INTEGER = r"^\s*[+-]?[0-9]+\s*$"
_FLOAT = (
    r"(?i)^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?\s*$|^\s*[+-]?(inf|infinity|nan)\s*$"
)


def _bad_rows(values: pa.Array, kind: pa.DataType, timestamp_format: str | None) -> list[int]:
    """Positions of the values of ``values`` that do not convert to ``kind`` (some do not)."""
    pattern = _INTEGER if pa.types.is_integer(kind) else None
    if pa.types.is_floating(kind):
        pattern = _FLOAT
    if pattern is None:
        return _bisect(values, kind, timestamp_format)
    matches = pc.fill_null(pc.match_substring_regex(values, pattern), True)
    surely = np.flatnonzero(~matches.to_numpy(zero_copy_only=False))
    if not len(surely):
        return _bisect(values, kind, timestamp_format)
    rest = np.flatnonzero(matches.to_numpy(zero_copy_only=False))
    maybe = _bisect(values.take(pa.array(rest)), kind, timestamp_format)
    return sorted([int(i) for i in surely] + [int(rest[i]) for i in maybe])


def _bisect(
    values: pa.Array, kind: pa.DataType, timestamp_format: str | None, offset: int = 0
) -> list[int]:
    try:
        _convert(values, kind, timestamp_format)
        return []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(values) == 1:
            return [offset]
    middle = len(values) // 2
    return _bisect(values.slice(0, middle), kind, timestamp_format, offset) + _bisect(
        values.slice(middle), kind, timestamp_format, offset + middle
    )


def convert(
    batch: pa.RecordBatch, schema: pa.Schema, timestamp_format: str | None
) -> tuple[pa.RecordBatch, list[BadCell]]:
    """``batch`` (text columns) converted to ``schema``, without the rows that do not
    convert, and those rows' first bad cells."""
    bad: dict[int, BadCell] = {}
    converted: dict[int, pa.Array] = {}
    for index, field in enumerate(schema):
        column = batch.column(index)
        if column.type.equals(field.type):
            converted[index] = column
            continue
        try:
            converted[index] = _convert(column, field.type, timestamp_format)
            continue  # the common case: one cast, nothing more
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        rows = _bad_rows(column, field.type, timestamp_format)
        if not rows:  # not a per-value failure: report it as it is
            _convert(column, field.type, timestamp_format)
        for row in rows:
            bad.setdefault(row, BadCell(row, index, str(column[row].as_py())))
    if not bad:
        return pa.RecordBatch.from_arrays(
            [converted[i] for i in range(len(schema))], schema=schema
        ), []
    keep = np.ones(batch.num_rows, dtype=bool)
    keep[list(bad)] = False
    mask = pa.array(keep)
    arrays = [
        converted[i].filter(mask)
        if i in converted
        else _convert(batch.column(i).filter(mask), field.type, timestamp_format)
        for i, field in enumerate(schema)
    ]
    good = pa.RecordBatch.from_arrays(arrays, schema=schema)
    return good, sorted(bad.values(), key=lambda cell: cell.row)
