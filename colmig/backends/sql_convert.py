"""Exact conversion of source values to an existing table's column types (the target wins).

A value is converted only when the conversion is exact: an int64 into ``integer`` when it
fits, a float64 into ``real`` when the float32 reads back as the same number, a decimal into a
narrower ``numeric(p,s)`` when no digit is lost, nanoseconds into microseconds when they are
whole microseconds. Zoned timestamps go into a column without time zone as UTC wall time;
naive timestamps go into a zoned column as UTC instants (colmig's sessions run in UTC). A
value that does not fit raises :class:`ValueDoesNotFit` naming column, value and row; nothing
is ever truncated or rounded on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from colmig.errors import TargetError

_CHUNK = 512
#: Load-schema field metadata: fractional-second digits of a timestamp(p)/time(p) column.
DIGITS_KEY = b"colmig.digits"
#: Load-schema field metadata: the target's text cannot hold NUL (PostgreSQL).
NO_NUL_KEY = b"colmig.nonul"


class ValueDoesNotFit(TargetError):
    """One source value has no exact representation in its target column."""


@dataclass(frozen=True)
class Misfit:
    column: str
    row: int
    value: str
    target: str
    reason: str
    source: str = ""

    def describe(self, where: str) -> str:
        return (
            f"column {self.column}: value {self.value} at row {self.row + 1} of {where} does"
            f" not fit the target column type {self.target} (source type {self.source}:"
            f" {self.reason})"
        )


def _kind(t: pa.DataType) -> str:
    if isinstance(t, pa.BaseExtensionType):
        return "ext:" + t.extension_name
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_duration(t):
        return "duration"
    if pa.types.is_interval(t):
        return "interval"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_null(t):
        return "null"
    return str(t)


#: Which source kinds convert (value by value, exactly) to which target kinds.
_CONVERTIBLE = {
    "int": {"int", "float", "decimal"},
    "float": {"float", "decimal", "int"},
    "decimal": {"decimal", "int"},
    "timestamp": {"timestamp"},
    "date": {"date", "timestamp"},
    "time": {"time"},
    "duration": {"duration", "interval"},
    "text": {"text", "decimal"},
    "binary": {"binary"},
}


def convertible(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether values of ``source`` can be converted value-checked into ``target``."""
    if source.equals(target):
        return True
    s, t = _kind(source), _kind(target)
    return s == "null" or t in _CONVERTIBLE.get(s, {s})


def needs_check(source: pa.DataType, target: pa.DataType) -> bool:
    """True when some values of ``source`` may not fit ``target`` (checked at load time)."""
    return not source.equals(target)


def convert(
    array: pa.Array, to: pa.DataType, digits: int | None = None, no_nul: bool = False
) -> pa.Array:
    """Convert ``array`` to ``to`` exactly; raises ValueError/ArrowInvalid on any loss.

    ``digits``: fractional-second digits the target column keeps (``timestamp(3)``) when
    fewer than ``to``'s unit holds; a value with more is refused, not rounded."""
    out = _convert(array, to)
    if no_nul and _kind(out.type) == "text" and pc.any(pc.match_substring(out, "\x00")).as_py():
        raise ValueError("contains a NUL character (\\x00), which the target's text cannot hold")
    if digits is not None and (pa.types.is_timestamp(to) or pa.types.is_time(to)):
        _check_digits(out, digits)
    return out


_UNIT_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def _check_digits(array: pa.Array, digits: int) -> None:
    step = 10 ** (_UNIT_DIGITS[array.type.unit] - digits)
    if step <= 1:
        return
    ticks = array.cast(pa.int64())
    whole = pc.multiply(pc.divide(ticks, step), step)  # integer division truncates
    if not pc.all(pc.equal(whole, ticks).fill_null(True)).as_py():
        raise ValueError(
            f"has digits below the column's {digits} fractional-second digits; the target"
            " would round it (widen the column or round the value in a transform)"
        )


def _convert(array: pa.Array, to: pa.DataType) -> pa.Array:
    source = array.type
    if source.equals(to):
        return array
    s, t = _kind(source), _kind(to)
    if s == "duration" and t == "interval":
        return _duration_to_interval(array)
    if s == "timestamp" and t == "timestamp":
        if source.tz and not to.tz:
            # UTC wall time: Arrow keeps the UTC instant's value when the zone is dropped.
            array = array.cast(pa.timestamp(source.unit))
        return _unit_cast(array, to)
    if s == "time" and t == "time":
        return _unit_cast(array, to)
    if s == "int" and t == "decimal":
        return array.cast(pa.decimal128(38, 0)).cast(to, safe=True)
    if s == "float" and t == "float" and to.bit_width < source.bit_width:
        out = array.cast(to, safe=False)
        exact = out.cast(source)
        # Documented rule: a double fits real when it is exactly a float32, or when its
        # value is the float32's shortest decimal text (0.983 stays 0.983, as psql \copy of
        # the same text stores it); 0.1234567891 does not fit.
        shortest = out.cast(pa.string()).cast(source)
        same = pc.or_kleene(_same(array, exact), _same(array, shortest))
        if not pc.all(same.fill_null(True)).as_py():
            raise ValueError("the value changes in the target type")
        return out
    if s == "float" and t == "decimal":
        out = array.cast(to, safe=False)
        _same_or_raise(array, out.cast(source))
        return out
    return array.cast(to, safe=True)


_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def _unit_cast(array: pa.Array, to: pa.DataType) -> pa.Array:
    try:
        return array.cast(to, safe=True)
    except pa.ArrowInvalid:
        if to.unit == array.type.unit:
            raise
        raise ValueError(_not_whole(to.unit)) from None


def _not_whole(unit: str) -> str:
    name = _UNIT_NAMES[unit]
    return (
        f"not whole {name}: the target holds {name}; keep the value exactly by casting the"
        " column to string (ISO text) or to int64 nanoseconds in a transform"
    )


def _same(original: pa.Array, back: pa.Array) -> pa.Array:
    """Per row: equal (NaN equals NaN) with the same sign (-0.0 is not 0.0)."""
    equal = pc.or_kleene(pc.equal(original, back), pc.and_(pc.is_nan(original), pc.is_nan(back)))
    return pc.and_kleene(equal, pc.equal(_signbit(original), _signbit(back)))


def _same_or_raise(original: pa.Array, back: pa.Array) -> None:
    if not pc.all(_same(original, back).fill_null(True)).as_py():
        raise ValueError("the value changes in the target type")


def _signbit(array: pa.Array) -> pa.Array:
    return pc.less(pc.divide(pa.scalar(1.0, array.type), array), 0)


def _duration_to_interval(array: pa.Array) -> pa.Array:
    nanos = array.cast(pa.duration("ns")).cast(pa.int64())
    values = nanos.to_pylist()
    for value in values:
        if value is not None and value % 1000:
            raise ValueError(_not_whole("us"))
    return pa.array(
        [None if v is None else (0, 0, v) for v in values], pa.month_day_nano_interval()
    )


def first_misfits(
    array: pa.Array,
    to: pa.DataType,
    column: str,
    target_name: str,
    limit: int,
    digits: int | None = None,
    no_nul: bool = False,
) -> list[Misfit]:
    """Rows of ``array`` (up to ``limit``) whose values do not convert to ``to``."""
    out: list[Misfit] = []
    for start in range(0, len(array), _CHUNK):
        chunk = array.slice(start, _CHUNK)
        if _converts(chunk, to, digits, no_nul) is None:
            continue
        for offset in range(len(chunk)):
            reason = _converts(chunk.slice(offset, 1), to, digits, no_nul)
            if reason is not None:
                value = _shown(chunk.slice(offset, 1))
                misfit = Misfit(column, start + offset, value, target_name, reason, str(array.type))
                out.append(misfit)
                if len(out) >= limit:
                    return out
    return out


def _shown(one: pa.Array) -> str:
    """One value as the user would write it (nanoseconds kept; text quoted)."""
    if pa.types.is_duration(one.type):
        return f"{one.cast(pa.int64())[0].as_py()} {_UNIT_NAMES[one.type.unit]}"
    try:
        value = one[0].as_py()
    except (ValueError, OverflowError):
        return str(one.cast(pa.string())[0].as_py())
    if isinstance(value, str | bytes):
        return repr(value)
    if pa.types.is_temporal(one.type) or pa.types.is_decimal(one.type):
        return str(one.cast(pa.string())[0].as_py())
    return str(value)


def _converts(
    array: pa.Array, to: pa.DataType, digits: int | None, no_nul: bool = False
) -> str | None:
    try:
        convert(array, to, digits, no_nul)
    except (pa.ArrowInvalid, ValueError, OverflowError) as exc:
        return _reason(exc)
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text


def fit_batch(
    batch: pa.RecordBatch,
    schema: pa.Schema,
    target_names: dict[str, str] | None = None,
    *,
    lenient: bool = False,
    fallback: Callable[[pa.Array, pa.DataType], pa.Array] | None = None,
) -> tuple[pa.RecordBatch, list[Misfit]]:
    """``batch`` with each column converted exactly to ``schema``'s type.

    Returns the converted batch and the misfits: with ``lenient`` the rows holding them are
    dropped from the batch; otherwise the first misfit is returned and the batch is None-like
    (empty). Columns whose conversion is not a known exact one go through ``fallback``.
    """
    names = target_names or {}
    arrays: dict[str, pa.Array] = {}
    misfits: list[Misfit] = []
    for field in schema:
        column = batch.column(batch.schema.get_field_index(field.name))
        raw_digits = (field.metadata or {}).get(DIGITS_KEY)
        digits = int(raw_digits) if raw_digits is not None else None
        no_nul = NO_NUL_KEY in (field.metadata or {})
        if column.type.equals(field.type) and digits is None and not no_nul:
            arrays[field.name] = column
            continue
        if not _known(column.type, field.type) and fallback is not None:
            arrays[field.name] = fallback(column, field.type)
            continue
        try:
            arrays[field.name] = convert(column, field.type, digits, no_nul)
        except (pa.ArrowInvalid, ValueError, OverflowError):
            limit = len(column) if lenient else 1
            target = names.get(field.name, str(field.type))
            found = first_misfits(column, field.type, field.name, target, limit, digits, no_nul)
            if not found:
                raise  # no single value fails: not a value problem, keep the original error
            misfits.extend(found)
            if not lenient:
                return batch.slice(0, 0), misfits[:1]
    if misfits:
        bad = sorted({m.row for m in misfits})
        keep = pc.invert(pc.is_in(pa.array(range(batch.num_rows)), pa.array(bad)))
        fitted, _ = fit_batch(batch.filter(keep), schema, names, fallback=fallback)
        return fitted, misfits
    return pa.RecordBatch.from_arrays([arrays[f.name] for f in schema], schema=schema), []


def _known(source: pa.DataType, target: pa.DataType) -> bool:
    s, t = _kind(source), _kind(target)
    if s.startswith("ext:") or t.startswith("ext:"):
        return False
    return t in _CONVERTIBLE.get(s, set())
