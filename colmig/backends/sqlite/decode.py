"""SQLite values as ADBC returns them (text, integers, doubles) back to the Arrow types the
declared column types stand for, exactly: times from ISO text, decimals from their exact text.
Used by the reader and by the writer's ``-validate`` statistics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from colmig.backends.sql_common import conform
from colmig.backends.sqlite.writer import arrow_type

_EPOCH = dt.datetime(1970, 1, 1)


def _time(column: pa.Array, to: pa.DataType) -> pa.Array:
    """'HH:MM:SS[.fffffffff]' text to ``to`` (time32/time64), via an ISO timestamp of day 0."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column.cast(to)
    stamped = pc.binary_join_element_wise(pa.scalar("1970-01-01T"), column, pa.scalar(""))
    since_midnight = stamped.cast(pa.timestamp("ns")).cast(pa.int64())
    return since_midnight.cast(pa.time64("ns")).cast(to)


def _timestamp(column: pa.Array, to: pa.DataType) -> pa.Array:
    """ISO text (UTC for a zoned column) to ``to``. Arrow's parser overflows on nanosecond
    values near the ends of the range (1677-09-21, 2262-04-11): those go through Python."""
    naive = pa.timestamp(to.unit)  # type: ignore[attr-defined]
    try:
        parsed = column.cast(naive)
    except pa.ArrowInvalid:
        unit = to.unit  # type: ignore[attr-defined]
        parsed = pa.array([_iso_units(v, unit) for v in column.to_pylist()], pa.int64())
    return parsed.cast(pa.int64()).cast(to)


_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _iso_units(text: str | None, unit: str) -> int | None:
    if text is None:
        return None
    whole, _, fraction = text.partition(".")
    seconds = int((dt.datetime.fromisoformat(whole) - _EPOCH).total_seconds())
    digits = len(str(_PER_SECOND[unit])) - 1
    part = int((fraction + "0" * digits)[:digits]) if digits else 0
    return seconds * _PER_SECOND[unit] + part  # the fraction counts up from the whole second


def decode(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` (same column names as ``schema``) converted to ``schema``'s types."""
    arrays = []
    for field in schema:
        column = batch.column(batch.schema.get_field_index(field.name))
        if column.null_count == len(column) and not column.type.equals(field.type):
            # ADBC types a column with no values in the batch as it likes (int64 for a BLOB).
            column = pa.nulls(len(column), field.type)
        elif pa.types.is_time(field.type) and not pa.types.is_time(column.type):
            column = _time(column, field.type)
        elif pa.types.is_timestamp(field.type) and pa.types.is_string(column.type):
            column = _timestamp(column, field.type)
        elif pa.types.is_decimal(field.type) and pa.types.is_floating(column.type):
            # A decimal a NUMERIC column stored as REAL: its shortest text is the decimal
            # (the double's binary expansion would add digits: 0.1 -> 0.1000000000000000055).
            column = column.cast(pa.string()).cast(field.type)
        arrays.append(column)
    names = [f.name for f in schema]
    fixed = pa.RecordBatch.from_arrays(arrays, names=names)
    return conform(fixed, schema)


def typed_select(
    quote: Callable[[str], str], source: str, columns: list[tuple[str, str]], where: str | None
) -> str:
    """``SELECT columns FROM source [WHERE where]`` with one storage class per column, after a
    first row of typed literals that the caller drops.

    ADBC types each column from the first batch and fails on any other type later ("Type
    mismatch in column 1: expected INT64 but got DOUBLE" for a NUMERIC column holding 1 and
    2.5, or a column whose first rows are NULL). Decimal columns are read as text, REAL ones
    as REAL; the literal row fixes every column's type. Decimal text goes through Arrow's
    parser, so a value the column's scale cannot hold fails loudly, never rounds."""
    selected, typed = [], []
    for name, declared in columns:
        col = quote(name)
        wanted = arrow_type(declared)
        expr, literal = col, "NULL"
        if wanted is None:
            pass
        elif pa.types.is_decimal(wanted):
            # A NUMERIC column keeps a decimal as REAL only when 15 digits hold it exactly
            # (see fit.py); %!.15g gives those digits back (CAST AS TEXT may print 17).
            real = f"printf('%!.15g', {col})"
            expr = f"CASE WHEN typeof({col}) = 'real' THEN {real} ELSE CAST({col} AS TEXT) END"
            literal = "''"
        elif pa.types.is_floating(wanted):
            expr, literal = f"CAST({col} AS REAL)", "0.0"
        elif pa.types.is_integer(wanted) or pa.types.is_boolean(wanted):
            literal = "0"
        elif pa.types.is_binary(wanted):
            literal = "X''"
        else:
            literal = "''"  # text, JSON, UUID, dates, times, timestamps: ISO text
        selected.append(f"{expr} AS {col}")
        typed.append(f"{literal} AS {col}")
    body = f"SELECT {', '.join(selected)} FROM {source}"
    body = f"{body} WHERE {where}" if where else body
    return f"SELECT {', '.join(typed)} UNION ALL {body}"
