"""Exact conversion of Arrow columns to an existing target column's type ("the target wins").

A value is converted only when the conversion cannot change it; the first value that does not
fit stops the load with a TargetError naming the table, column, row and value. Used by the
MySQL/MariaDB and SQLite writers when they load into a table they did not create.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from colmig.errors import TargetError


class Position:
    """Where a batch starts within its partition, for row numbers in messages."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.offset = 0


def refuse(where: Position, column: str, values: pa.Array, mask: Any, why: str) -> TargetError:
    """The error for the first row of ``values`` where ``mask`` is true."""
    index = int(pc.index(pc.fill_null(mask, False), True).as_py())
    value: Any
    if pa.types.is_temporal(values.type):
        value = values.slice(index, 1).cast(pa.string())[0].as_py()  # ns-safe ISO text
    else:
        value = values[index].as_py()
    return TargetError(
        f"table {where.table}, column {column}, row {where.offset + index + 1} of the partition:"
        f" value {value!r} {why}",
        table=where.table,
        column=column,
    )


def any_true(mask: Any) -> bool:
    return bool(pc.any(pc.fill_null(mask, False)).as_py())


def int_range(
    column: pa.Array, low: int, high: int, name: str, where: Position, sql: str, hint: str = ""
) -> None:
    """Refuse integers outside ``[low, high]`` (the target column's range)."""
    if len(column) == column.null_count:
        return
    bounds = pc.min_max(column).as_py()
    if bounds["min"] >= low and bounds["max"] <= high:
        return
    as_dec = column.cast(pa.decimal128(20, 0)) if pa.types.is_integer(column.type) else column
    mask = pc.or_(
        pc.less(as_dec, pa.scalar(low).cast(as_dec.type)),
        pc.greater(as_dec, pa.scalar(high).cast(as_dec.type)),
    )
    why = f"does not fit the target's {sql} ({low}..{high}){hint}"
    raise refuse(where, name, column, mask, why)


def single_precision(column: pa.Array, name: str, where: Position, sql: str) -> pa.Array:
    """float64 -> float32 when every value keeps its shortest decimal text (0.983 stays 0.983).

    Reading such a value back gives the float32 nearest to it; its shortest text is the text
    that was loaded, which is the rule documented for FLOAT/REAL targets."""
    narrow = column.cast(pa.float32(), safe=False)
    same = pc.equal(column.cast(pa.string()), narrow.cast(pa.string()))
    if not pc.all(pc.fill_null(same, True)).as_py():
        raise refuse(
            where,
            name,
            column,
            pc.invert(same),
            f"loses digits in the target's single-precision {sql}; use a DOUBLE column",
        )
    return narrow


def whole_units(column: pa.Array, unit: str, name: str, where: Position, sql: str) -> pa.Array:
    """Timestamps/times to ``unit`` when no value has finer digits (never truncate)."""
    target = (
        pa.timestamp(unit, tz=column.type.tz)  # type: ignore[attr-defined]
        if pa.types.is_timestamp(column.type)
        else pa.time64(unit)
        if unit in ("us", "ns")
        else pa.time32(unit)
    )
    if column.type == target:
        return column
    try:
        return column.cast(target, safe=True)
    except pa.ArrowInvalid:
        rounded = column.cast(target, safe=False).cast(column.type)
        raise refuse(
            where,
            name,
            column,
            pc.not_equal(rounded, column),
            f"has digits below {_unit_words[unit]}, which the target's {sql} cannot hold"
            " (colmig never truncates; round it first with a transform)",
        ) from None


_unit_words = {"s": "a second", "ms": "a millisecond", "us": "a microsecond", "ns": "a nanosecond"}


def utc_wall_time(column: pa.Array) -> pa.Array:
    """A zoned timestamp as naive UTC wall time (its instant, read in UTC)."""
    unit = column.type.unit  # type: ignore[attr-defined]
    return column.cast(pa.int64()).cast(pa.timestamp(unit))


def refuse_nan(column: pa.Array, name: str, where: Position, target: str) -> None:
    """Refuse NaN where the target cannot store it."""
    if pa.types.is_floating(column.type) and any_true(pc.is_nan(column)):
        raise refuse(
            where,
            name,
            column,
            pc.is_nan(column),
            f"is NaN, which {target} cannot store (it would become NULL); cast the column to"
            " string to keep it as text, or filter NaN out",
        )


def negative_zero(column: pa.Array) -> pa.Array:
    """True where a float is -0.0 (equal to 0.0, but 1/x is negative)."""
    zero = pc.equal(column, pa.scalar(0.0, column.type))
    return pc.and_(zero, pc.less(pc.divide(pa.scalar(1.0, column.type), column), 0))


def _scalar_kind(t: pa.DataType | None) -> str | None:
    if t is None or isinstance(t, pa.BaseExtensionType):
        return None
    for kind, test in (
        ("int", pa.types.is_integer),
        ("float", pa.types.is_floating),
        ("decimal", pa.types.is_decimal),
        ("timestamp", pa.types.is_timestamp),
        ("time", pa.types.is_time),
        ("date", pa.types.is_date),
    ):
        if test(t):
            return kind
    return None


def load_field(source: pa.Field, target: pa.DataType | None, sql_type: str) -> pa.Field:
    """The field the shared writer converts ``source`` to before loading (sql_convert; with
    -on-error skip/reject a value that does not fit drops its row): the target column's Arrow
    type for numbers and times, the source's own type otherwise (text, JSON, UUID, binary go
    in as they are)."""
    from colmig.backends.sql_common import SQL_TYPE_KEY

    if _scalar_kind(source.type) is None or _scalar_kind(target) is None or target is None:
        return source
    if source.type.equals(target):
        return source
    if pa.types.is_float16(source.type) or pa.types.is_float16(target):
        return source
    return pa.field(source.name, target, True, {SQL_TYPE_KEY: sql_type.encode()})
