"""Learn the facts of text columns from every value, one block at a time (vectorised).

A block's column is tried against Arrow's own parsers in the order Arrow's CSV inference uses
(integer, number, boolean, date, time, timestamp); the first that takes every value names the
block's kind. Numbers also record what the exactness rule in ``facts`` needs. A column known
to be text is not looked at again, so most of the cost is one cast per number column.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from colmig.backends.files.facts import Facts

ZONE = r"(Z|z|[+-]\d\d(:?\d\d)?)$"
_TIME = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?$"
#: Numbers with more significant digits than this may not be exact doubles: checked one by one.
DOUBLE_DIGITS = 15


def observe(facts: Facts, values: pa.Array, first_row: int, timestamp_format: str | None) -> None:
    """Add what the text ``values`` (rows ``first_row``...) show to ``facts``."""
    if "text" in facts.kinds:
        return
    present = values.drop_null() if values.null_count else values
    if not len(present):
        return
    if _try(present, pa.int64()):
        facts.kinds.add("int")
        _digits(facts, present, integers=True)
        return
    floats = _cast(present, pa.float64())
    if floats is not None:
        _number(facts, present, floats)
        return
    if _try(present, pa.bool_()):
        facts.kinds.add("bool")
        return
    if _try(present, pa.date32()):
        facts.kinds.add("date")
        return
    if _looks(present[0], _TIME) and pc.all(pc.match_substring_regex(present, _TIME)).as_py():
        facts.kinds.add("time")
        if pc.any(pc.match_substring(present, ".")).as_py():
            facts.finer("ns")
        return
    if _timestamps(facts, values, first_row, timestamp_format):
        return
    facts.kinds.add("text")


def _looks(value: pa.Scalar, pattern: str) -> bool:
    import re

    return re.search(pattern, str(value.as_py())) is not None


def _try(values: pa.Array, kind: pa.DataType) -> bool:
    return _cast(values, kind) is not None


def _cast(values: pa.Array, kind: pa.DataType, fmt: str | None = None) -> pa.Array | None:
    from colmig.backends.files.convert import cast_text

    try:
        return cast_text(values, kind, fmt)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _number(facts: Facts, text: pa.Array, floats: pa.Array) -> None:
    integral = pc.match_substring_regex(text, r"^\s*[+-]?[0-9]+\s*$")
    if pc.all(integral).as_py():
        # Integers Arrow's int64 parser refused: beyond 64 bits.
        facts.kinds.add("bigint")
        _digits(facts, text, integers=True)
        return
    special = pc.any(pc.or_(pc.is_nan(floats), pc.is_inf(floats))).as_py()
    exponent = pc.any(pc.greater_equal(pc.find_substring(text, "e", ignore_case=True), 0))
    facts.kinds.add("float" if special or exponent.as_py() else "decimal")
    _digits(facts, text, integers=False)


def _digits(facts: Facts, text: pa.Array, integers: bool) -> None:
    """Digits before and after the point; and whether a long number is not an exact double."""
    trimmed = pc.utf8_trim_whitespace(pc.utf8_ltrim(pc.utf8_trim_whitespace(text), "+-0"))
    lengths = pc.utf8_length(trimmed)
    longest = pc.max(lengths).as_py() or 0
    if integers:
        facts.int_digits = max(facts.int_digits, longest)
    else:
        dot = pc.find_substring(trimmed, ".")
        has_dot = pc.greater_equal(dot, 0)
        before = pc.if_else(has_dot, dot, lengths)
        after = pc.if_else(has_dot, pc.subtract(pc.subtract(lengths, dot), 1), 0)
        facts.int_digits = max(facts.int_digits, pc.max(before).as_py() or 0)
        facts.scale = max(facts.scale, pc.max(after).as_py() or 0)
    if facts.inexact or longest <= DOUBLE_DIGITS:
        return
    digits = pc.replace_substring_regex(trimmed, r"[eE].*$|[^0-9]", "")
    significant = pc.utf8_length(pc.utf8_trim(digits, "0"))
    suspects = text.filter(pc.greater(significant, DOUBLE_DIGITS))
    facts.inexact = any(not exact_double(str(v)) for v in suspects.to_pylist())


def exact_double(text: str) -> bool:
    """Whether ``text`` reads as a double that is the same number: its exact binary value, or
    its shortest decimal form (0.1 reads back as 0.1)."""
    try:
        number = Decimal(text.strip())
        double = float(text)
    except (InvalidOperation, ValueError):
        return False
    if not np.isfinite(double):
        return False
    return Decimal(double) == number or Decimal(repr(double)) == number


def _timestamps(
    facts: Facts, values: pa.Array, first_row: int, timestamp_format: str | None
) -> bool:
    """Classify timestamps as naive (``ts``) or zoned (``tsz``); False when some value is
    neither."""
    zoned = pc.fill_null(pc.match_substring_regex(values, ZONE), False)
    naive = pc.and_(pc.is_valid(values), pc.invert(zoned))
    parts: list[tuple[pa.Array, pa.Array, str]] = []
    if pc.any(zoned).as_py():
        parts.append((zoned, values.filter(zoned), "tsz"))
    if pc.any(naive).as_py():
        parts.append((naive, values.filter(naive), "ts"))
    found: list[tuple[str, str, int]] = []
    for mask, part, kind in parts:
        unit = _unit(part, kind == "tsz", timestamp_format)
        if unit is None:
            return False
        row = first_row + int(np.flatnonzero(mask.to_numpy(zero_copy_only=False))[0])
        found.append((kind, unit, row))
    for kind, unit, row in found:
        facts.kinds.add(kind)
        facts.finer(unit)
        sample = (str(values[row - first_row].as_py()), row)
        if kind == "tsz" and facts.zoned is None:
            facts.zoned = sample
        if kind == "ts" and facts.naive is None:
            facts.naive = sample
    return True


def _unit(values: pa.Array, zoned: bool, timestamp_format: str | None) -> str | None:
    tz = "UTC" if zoned else None
    for unit in ("s", "ns"):
        fmt = None if zoned else timestamp_format
        if _cast(values, pa.timestamp(unit, tz), fmt) is not None:
            return unit
    return None


def to_utc(values: pa.Array, kind: pa.DataType, assume_tz: str | None) -> pa.Array:
    """Text timestamps as the instants of ``kind`` (a zoned timestamp type): zoned values as
    written, naive ones read in ``assume_tz``. Raises ArrowInvalid on a value that is neither,
    on a naive value without ``assume_tz``, and on a wall time the zone skips or repeats."""
    zoned = pc.fill_null(pc.match_substring_regex(values, ZONE), False)
    out = pa.nulls(len(values), kind)
    if pc.any(zoned).as_py():
        out = pc.replace_with_mask(out, zoned, values.filter(zoned).cast(kind))
    naive = pc.and_(pc.is_valid(values), pc.invert(zoned))
    if pc.any(naive).as_py():
        if assume_tz is None:
            raise pa.ArrowInvalid(
                f"naive timestamp {values.filter(naive)[0].as_py()!r} in a zoned column"
            )
        local = values.filter(naive).cast(pa.timestamp(kind.unit))
        placed = pc.assume_timezone(local, assume_tz, ambiguous="raise", nonexistent="raise")
        out = pc.replace_with_mask(out, naive, placed.cast(kind))
    return out
