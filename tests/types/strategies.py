"""Hypothesis strategies: random values for every type case of the matrix (nulls included)."""

from __future__ import annotations

import datetime as dt
from decimal import Context, Decimal
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

from tests.types.matrix import CASES, TypeCase

UTC = dt.UTC
NS_MIN, NS_MAX = -(2**63) + 1, 2**63 - 1
_UNITS = {"s": 10**6, "ms": 10**3, "us": 1}


def _decimal(precision: int, scale: int) -> st.SearchStrategy[Decimal]:
    bound = 10**precision - 1
    return st.integers(-bound, bound).map(lambda n: Decimal(n).scaleb(-scale, Context(prec=80)))


def _micros_datetime(unit: str, tz: dt.tzinfo | None) -> st.SearchStrategy[dt.datetime]:
    base = st.datetimes(
        min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.none()
    )
    step = _UNITS[unit]
    return base.map(
        lambda v: v.replace(microsecond=v.microsecond - v.microsecond % step, tzinfo=tz)
    )


def _time(unit: str) -> st.SearchStrategy[Any]:
    if unit == "ns":
        return st.integers(0, 86_400 * 10**9 - 1)
    step = _UNITS[unit]
    return st.times().map(lambda v: v.replace(microsecond=v.microsecond - v.microsecond % step))


def values(case: TypeCase) -> st.SearchStrategy[Any]:
    """Random non-null values of ``case.type``, edge values included by Hypothesis."""
    t = case.type
    if pa.types.is_boolean(t):
        return st.booleans()
    if pa.types.is_integer(t):
        info_bits = t.bit_width
        if pa.types.is_signed_integer(t):
            return st.integers(-(2 ** (info_bits - 1)), 2 ** (info_bits - 1) - 1)
        return st.integers(0, 2**info_bits - 1)
    if pa.types.is_floating(t):
        return st.floats(width=t.bit_width, allow_nan=True, allow_infinity=True)
    if pa.types.is_decimal(t):
        return _decimal(t.precision, t.scale)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if "NUL" in case.name:
            return st.text(alphabet=st.sampled_from("a\x00b"), min_size=1)
        return st.text(
            alphabet=st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r\x00")
        )
    if pa.types.is_binary(t):
        return st.binary()
    if pa.types.is_date(t):
        return st.dates()
    if pa.types.is_time(t):
        return _time(t.unit)
    if pa.types.is_timestamp(t):
        if t.unit == "ns":
            return st.integers(NS_MIN, NS_MAX)
        return _micros_datetime(t.unit, UTC if t.tz else None)
    if pa.types.is_duration(t):
        return st.integers(-(10**15), 10**15)
    raise AssertionError(f"no strategy for {t}")


#: The cases a random table draws its columns from.
RANDOM_CASES = [c for c in CASES if "(" not in c.name and "before" not in c.name]


@st.composite
def tables(draw: st.DrawFn, max_columns: int = 4, max_rows: int = 12) -> pa.Table:
    """A random table: an ``id`` and 1..max_columns columns of distinct type cases."""
    from tests.types.matrix import _array

    chosen = draw(
        st.lists(
            st.sampled_from(RANDOM_CASES),
            min_size=1,
            max_size=max_columns,
            unique_by=lambda c: c.name,
        )
    )
    rows = draw(st.integers(1, max_rows))
    columns: dict[str, pa.Array] = {"id": pa.array(range(rows), pa.int64())}
    for case in chosen:
        column = draw(st.lists(st.none() | values(case), min_size=rows, max_size=rows))
        columns[case.column] = _array(column, case.type)
    return pa.table(columns)
