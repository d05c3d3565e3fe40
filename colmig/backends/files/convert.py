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
    """``schema`` with every column read as raw bytes: text columns too, so a value that is
    not UTF-8 sets its row aside instead of failing the block."""
    return pa.schema([f if _is_binary(f.type) else f.with_type(pa.binary()) for f in schema])


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _is_binary(kind: pa.DataType) -> bool:
    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind)


def cast_text(
    values: pa.Array,
    kind: pa.DataType,
    timestamp_format: str | None,
    assume_tz: str | None = None,
) -> pa.Array:
    """Cast text (or UTF-8 bytes) to ``kind`` as the CSV reader would; raises ArrowInvalid on
    a bad value. With ``assume_tz``, naive timestamps in a zoned column are read in that zone."""
    if _is_binary(values.type) and not _is_binary(kind):
        values = values.cast(pa.string())
    if pa.types.is_timestamp(kind):
        if assume_tz and kind.tz is not None:
            from colmig.backends.files.infer import to_utc

            return to_utc(values, kind, assume_tz)
        if timestamp_format:
            # Like the reader, per value: the format first, then ISO 8601.
            parsed = pc.strptime(
                values, format=timestamp_format, unit=kind.unit, error_is_null=True
            )
            parsed = parsed.cast(kind)
            failed = pc.and_(pc.is_valid(values), pc.is_null(parsed))
            if pc.any(failed).as_py():
                parsed = pc.replace_with_mask(parsed, failed, values.filter(failed).cast(kind))
            return parsed
    return values.cast(kind)


_convert = cast_text


# Looser than Arrow's number parsers: text that does not match is surely not a number, so
# a column of words is rejected in one vectorized pass instead of one cast per row.
_INTEGER = r"^\s*[+-]?[0-9]+\s*$"
_FLOAT = (
    r"(?i)^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?\s*$|^\s*[+-]?(inf|infinity|nan)\s*$"
)


def _bad_rows(
    values: pa.Array, kind: pa.DataType, timestamp_format: str | None, tz: str | None = None
) -> list[int]:
    """Positions of the values of ``values`` that do not convert to ``kind`` (some do not)."""
    if _is_binary(values.type) and not _is_binary(kind):
        # Bytes that are not UTF-8 first, then the values of the text that is.
        broken = _bisect(values, pa.string(), None)
        if broken:
            keep = np.ones(len(values), dtype=bool)
            keep[broken] = False
            rest = np.flatnonzero(keep)
            text = values.take(pa.array(rest)).cast(pa.string())
            more = [int(rest[i]) for i in _bad_rows(text, kind, timestamp_format, tz)]
            return sorted(broken + more)
        values = values.cast(pa.string())
    pattern = _INTEGER if pa.types.is_integer(kind) else None
    if pa.types.is_floating(kind):
        pattern = _FLOAT
    if pattern is None:
        return _bisect(values, kind, timestamp_format, tz=tz)
    matches = pc.fill_null(pc.match_substring_regex(values, pattern), True)
    surely = np.flatnonzero(~matches.to_numpy(zero_copy_only=False))
    if not len(surely):
        return _bisect(values, kind, timestamp_format)
    rest = np.flatnonzero(matches.to_numpy(zero_copy_only=False))
    maybe = _bisect(values.take(pa.array(rest)), kind, timestamp_format)
    return sorted([int(i) for i in surely] + [int(rest[i]) for i in maybe])


def _bisect(
    values: pa.Array,
    kind: pa.DataType,
    timestamp_format: str | None,
    offset: int = 0,
    tz: str | None = None,
) -> list[int]:
    try:
        cast_text(values, kind, timestamp_format, tz)
        return []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(values) == 1:
            return [offset]
    middle = len(values) // 2
    return _bisect(values.slice(0, middle), kind, timestamp_format, offset, tz) + _bisect(
        values.slice(middle), kind, timestamp_format, offset + middle, tz
    )


def convert(
    batch: pa.RecordBatch, schema: pa.Schema, timestamp_format: str | None
) -> tuple[pa.RecordBatch, list[BadCell]]:
    """``batch`` (text columns) converted to ``schema``, without the rows that do not
    convert, and those rows' first bad cells."""
    bad: dict[int, BadCell] = {}
    converted: dict[int, pa.Array] = {}
    zones = {i: _assumed(f) for i, f in enumerate(schema)}
    unchecked = [i for i, f in enumerate(schema) if _unchecked_double(f)]
    schema = pa.schema([pa.field(f.name, f.type) for f in schema])
    for index, field in enumerate(schema):
        column = batch.column(index)
        if column.type.equals(field.type):
            converted[index] = column
            continue
        try:
            converted[index] = cast_text(column, field.type, timestamp_format, zones[index])
            continue  # the common case: one cast, nothing more
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        rows = _bad_rows(column, field.type, timestamp_format, zones[index])
        if not rows:  # not a per-value failure: report it as it is
            cast_text(column, field.type, timestamp_format, zones[index])
        for row in rows:
            bad.setdefault(row, BadCell(row, index, _shown(column[row].as_py())))
    for index in unchecked:
        # Doubles typed from the head of the file: a later number a double cannot hold.
        for row in _inexact_rows(batch.column(index)):
            bad.setdefault(row, BadCell(row, index, _shown(batch.column(index)[row].as_py())))
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
        else cast_text(batch.column(i).filter(mask), field.type, timestamp_format, zones[i])
        for i, field in enumerate(schema)
    ]
    good = pa.RecordBatch.from_arrays(arrays, schema=schema)
    return good, sorted(bad.values(), key=lambda cell: cell.row)


def _assumed(field: pa.Field) -> str | None:
    """The -assume-tz the scan recorded for a column that mixes naive and zoned times."""
    from colmig.backends.files.facts import NAIVE, of

    facts = of(field)
    if facts is None or not pa.types.is_timestamp(field.type) or field.type.tz is None:
        return None
    # Typed from the head of the file, naive values may still follow.
    return facts.assume_tz if facts.kinds & NAIVE or facts.partial else None


def _shown(value: object) -> str:
    """A bad value as text; bytes that are not UTF-8 as the csv module decodes them."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _unchecked_double(field: pa.Field) -> bool:
    return pa.types.is_floating(field.type) and _unchecked(field)


def _unchecked(field: pa.Field) -> bool:
    """A double or timestamp column typed from the head of its file: the read parses it as
    text and checks each value (a late number a double cannot hold, a late zone change)."""
    from colmig.backends.files.facts import of

    facts = of(field)
    kind = field.type
    checked = pa.types.is_floating(kind) or pa.types.is_timestamp(kind)
    return checked and facts is not None and facts.partial


def _inexact_rows(text: pa.Array) -> list[int]:
    """Rows of ``text`` (numbers as text or bytes) that no double holds exactly."""
    from colmig.backends.files.infer import DOUBLE_DIGITS, exact_double

    lengths = pc.binary_length(text)
    if (pc.max(lengths).as_py() or 0) <= DOUBLE_DIGITS:
        return []
    long = pc.fill_null(pc.greater(lengths, DOUBLE_DIGITS), False)
    rows = np.flatnonzero(long.to_numpy(zero_copy_only=False))
    return [int(r) for r in rows if not exact_double(_shown(text[int(r)].as_py()))]
