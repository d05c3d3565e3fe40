"""Values to the target column's MySQL/MariaDB type, exactly or not at all.

The table's own column types decide (whether colmig created it or a migration did): integers
narrow when every value fits, float64 goes into FLOAT when its decimal text survives, zoned
timestamps go into a plain DATETIME as UTC wall time, and sub-microsecond (or finer than the
column's fractional digits) timestamps and times are refused, never truncated.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from colmig.backends.target_fit import (
    Position,
    any_true,
    int_range,
    negative_zero,
    refuse,
    single_precision,
    whole_units,
)

_INT_BITS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}


def int_bounds(data_type: str, column_type: str) -> tuple[int, int] | None:
    bits = _INT_BITS.get(data_type.lower())
    if bits is None:
        return None
    if "unsigned" in column_type.lower():
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _digits(column_type: str) -> int:
    inside = column_type.split("(")[1].split(")")[0] if "(" in column_type else "0"
    return int(inside.split(",")[0] or 0)


def _fractional(column: pa.Array, digits: int, name: str, where: Position, sql: str) -> pa.Array:
    """Temporal values at microseconds, refusing digits the column's ``(p)`` cannot hold."""
    column = whole_units(column, "us", name, where, sql)
    if digits >= 6:
        return column
    step = 10 ** (6 - digits)
    micros = column.cast(pa.int64())
    rest = pc.subtract(micros, pc.multiply(pc.divide(micros, step), step))
    mask = pc.not_equal(rest, 0)
    if any_true(mask):
        raise refuse(
            where,
            name,
            column,
            mask,
            f"has more fractional digits than the target's {sql} holds (colmig never rounds)",
        )
    return column


def fit_column(column: pa.Array, row: tuple[Any, ...], name: str, where: Position) -> pa.Array:
    """``column`` converted for the target column described by an information_schema row
    ``(name, data_type, column_type, nullable, has_default, comment)``."""
    data_type, sql = str(row[1]).lower(), str(row[2])
    comment = str(row[5] or "")
    t = column.type
    if isinstance(t, pa.BaseExtensionType):
        return column
    if pa.types.is_floating(t):
        if pa.types.is_float16(t):
            column = column.cast(pa.float32())  # exact; compute kernels lack half floats
        bad = pc.or_(pc.is_nan(column), pc.is_inf(column))
        if any_true(bad):
            raise refuse(
                where,
                name,
                column,
                bad,
                "cannot be stored by MySQL/MariaDB (no NaN or infinity); cast the column to"
                " string to keep it as text, or filter it out",
            )
        negative = negative_zero(column)
        if any_true(negative):
            raise refuse(
                where,
                name,
                column,
                negative,
                "is negative zero, which MySQL/MariaDB store as 0; cast the column to string"
                " to keep it as text, or map it to 0.0 with a transform",
            )
        if data_type == "float" and pa.types.is_float64(t):
            return single_precision(column, name, where, sql)
        return column
    if pa.types.is_integer(t):
        bounds = int_bounds(data_type, sql)
        if bounds is None and data_type in {"float", "double", "real"}:
            limit = 2**24 if data_type == "float" else 2**53
            bounds = (-limit, limit)
        if bounds is None and data_type == "decimal":
            precision, _, scale = sql.split("(")[1].split(")")[0].partition(",")
            limit = 10 ** (int(precision) - int(scale or 0)) - 1
            bounds = (-limit, limit)
        if bounds is not None:
            int_range(column, bounds[0], bounds[1], name, where, sql)
        return column
    if pa.types.is_timestamp(t):
        if t.tz and "colmig:utc" not in comment and data_type == "datetime":
            # A DATETIME a migration created holds UTC wall time (documented): keep the instant.
            column = column.cast(pa.int64()).cast(pa.timestamp(t.unit))
        if data_type in {"datetime", "timestamp"}:
            return _fractional(column, _digits(sql), name, where, sql)
        return column
    if pa.types.is_time(t) and data_type == "time":
        return _fractional(column, _digits(sql), name, where, sql)
    return column


def fit_batch(
    batch: pa.RecordBatch, columns: dict[str, tuple[Any, ...]], where: Position
) -> pa.RecordBatch:
    """Every column of ``batch`` fitted to its target column (same names)."""
    arrays = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        row = columns.get(field.name)
        arrays.append(column if row is None else fit_column(column, row, field.name, where))
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
