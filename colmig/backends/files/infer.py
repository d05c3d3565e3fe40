"""Learn the facts of text columns from every value, one block at a time (vectorised).

A block's column is tried against Arrow's own parsers in the order Arrow's CSV inference uses
(integer, number, boolean, date, time, timestamp); the first that takes every value names the
block's kind. Numbers also record what the exactness rule in ``facts`` needs. A column known
to be text is not looked at again, so most of the cost is one cast per number column.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from colmig.backends.files.facts import Facts

ZONE = r"(Z|z|[+-]\d\d(:?\d\d)?)$"
_TIME = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?$"
#: Numbers with more significant digits than this may not be exact doubles: checked one by one.
DOUBLE_DIGITS = 15
SAMPLE = 512
_NUMBER = re.compile(r"\s*[+-]?(\d|\.\d|inf|nan)", re.IGNORECASE)
_DATE = re.compile(r"\s*\d{4}-\d\d-\d\d")
#: Arrow's CSV booleans.
_BOOLEANS = {"1", "0", "true", "false", "True", "False", "TRUE", "FALSE"}


def observe(facts: Facts, values: pa.Array, first_row: int, timestamp_format: str | None) -> None:
    """Add what the text ``values`` (rows ``first_row``...) show to ``facts``."""
    if "text" in facts.kinds:
        return
    present = values.drop_null() if values.null_count else values
    if not len(present):
        return
    seen_times = facts.kinds and facts.kinds <= {"ts", "tsz"}
    if seen_times and _timestamps(facts, values, first_row, timestamp_format):
        return
    # Every value must parse, so the first one rules kinds out for the price of a regex (a
    # failing Arrow cast costs about a millisecond, even on a small sample).
    first = str(present[0].as_py())
    number = _NUMBER.match(first) is not None
    if number and _try(present, pa.int64()):
        facts.kinds.add("int")
        _digits(facts, present, integers=True)
        return
    floats = _cast(present, pa.float64()) if number else None
    if floats is not None:
        _number(facts, present, floats)
        return
    if first in _BOOLEANS and _try(present, pa.bool_()):
        facts.kinds.add("bool")
        return
    if _DATE.match(first) and _try(present, pa.date32()):
        facts.kinds.add("date")
        return
    if _looks(present[0], _TIME) and pc.all(pc.match_substring_regex(present, _TIME)).as_py():
        facts.kinds.add("time")
        if pc.any(pc.match_substring(present, ".")).as_py():
            facts.finer("ns")
        return
    stamp = timestamp_format is not None or _DATE.match(first) is not None
    if stamp and _timestamps(facts, values, first_row, timestamp_format):
        return
    facts.kinds.add("text")


def _looks(value: pa.Scalar, pattern: str) -> bool:
    return re.search(pattern, str(value.as_py())) is not None


def _try(values: pa.Array, kind: pa.DataType) -> bool:
    return _cast(values, kind) is not None


def _cast(values: pa.Array, kind: pa.DataType, fmt: str | None = None) -> pa.Array | None:
    from colmig.backends.files.convert import cast_text

    try:
        if len(values) > 2 * SAMPLE:
            # A cast that fails still parses the whole block: a sample turns most away.
            cast_text(values.slice(0, SAMPLE), kind, fmt)
        return cast_text(values, kind, fmt)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _number(facts: Facts, text: pa.Array, floats: pa.Array) -> None:
    whole = pc.all(pc.equal(floats, pc.floor(floats))).as_py()
    if whole and pc.all(pc.match_substring_regex(text, r"^\s*[+-]?[0-9]+\s*$")).as_py():
        # Integers Arrow's int64 parser refused: beyond 64 bits.
        facts.kinds.add("bigint")
        _digits(facts, text, integers=True)
        return
    special = pc.any(pc.invert(pc.is_finite(floats))).as_py()
    exponent = _has_byte(text, b"eE")
    facts.kinds.add("float" if special or exponent else "decimal")
    _digits(facts, text, integers=False)


def _has_byte(text: pa.Array, chars: bytes) -> bool:
    """Whether the value bytes of ``text`` hold one of ``chars`` (a memchr, not a regex);
    bytes of a sliced-off neighbour can only make the answer a safe True."""
    data = text.buffers()[2]
    if data is None:
        return False
    raw = np.frombuffer(data, dtype=np.uint8)
    return any(bool((raw == char).any()) for char in chars)


def _digits(facts: Facts, text: pa.Array, integers: bool) -> None:
    """Digits before and after the point (a sign or leading zero counts: the bound only needs
    to be safe); and whether a long number is not an exact double."""
    lengths = pc.binary_length(text)
    longest = pc.max(lengths).as_py() or 0
    if integers:
        facts.int_digits = max(facts.int_digits, longest)
    else:
        dot = pc.find_substring(text, ".")
        has_dot = pc.greater_equal(dot, 0)
        before = pc.if_else(has_dot, dot, lengths)
        after = pc.if_else(has_dot, pc.subtract(pc.subtract(lengths, dot), 1), 0)
        facts.int_digits = max(facts.int_digits, pc.max(before).as_py() or 0)
        facts.scale = max(facts.scale, pc.max(after).as_py() or 0)
    if facts.inexact or longest <= DOUBLE_DIGITS:
        return
    digits = pc.replace_substring_regex(text, r"[eE].*$|[^0-9]", "")
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
    neither. Arrow's parser refuses a zone in a naive type and its absence in a zoned one, so
    one cast says which; only a column mixing both is split by pattern."""
    present = values.drop_null() if values.null_count else values
    for kind, zoned in (("tsz", True), ("ts", False)):
        unit = _unit(present, zoned, timestamp_format)
        if unit is not None:
            _add_times(facts, kind, unit, values, first_row, pc.is_valid(values))
            return True
    zoned_mask = pc.fill_null(pc.match_substring_regex(values, ZONE), False)
    naive_mask = pc.and_(pc.is_valid(values), pc.invert(zoned_mask))
    found = []
    for mask, kind in ((zoned_mask, "tsz"), (naive_mask, "ts")):
        unit = _unit(values.filter(mask), kind == "tsz", timestamp_format)
        if unit is None:
            return False
        found.append((kind, unit, mask))
    for kind, unit, mask in found:
        _add_times(facts, kind, unit, values, first_row, mask)
    return True


def _add_times(
    facts: Facts, kind: str, unit: str, values: pa.Array, first_row: int, mask: pa.Array
) -> None:
    facts.kinds.add(kind)
    facts.finer(unit)
    if (facts.zoned if kind == "tsz" else facts.naive) is not None:
        return
    index = pc.index(mask, True).as_py()
    sample = (str(values[index].as_py()), first_row + index)
    if kind == "tsz":
        facts.zoned = sample
    else:
        facts.naive = sample


def _unit(values: pa.Array, zoned: bool, timestamp_format: str | None) -> str | None:
    tz = "UTC" if zoned else None
    # The coarsest unit that holds every value exactly (Arrow's parser refuses to drop
    # digits); not nanoseconds first, whose range ends in 2262.
    for unit in ("s", "ms", "us", "ns"):
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
