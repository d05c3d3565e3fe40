"""Filters (``field operator value``, ``any:``/``all:`` groups) compiled to Polars predicates.

Semantics follow SQL: a comparison with a null is not true, so the row is dropped; NaN never
matches a comparison either (Polars would otherwise order NaN above every number).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping as MappingABC
from datetime import date, datetime
from functools import reduce
from typing import Any

import polars as pl

from colmig.transforms.builtins import convert_value
from colmig.transforms.context import type_name
from colmig.transforms.model import Condition, Filter, Group, Pos

_REGEX_META = set("\\.^$|?*+()[]{}-#&~")


def like_to_regex(pattern: str) -> str:
    """SQL LIKE (``%`` any run, ``_`` one character) as an anchored Rust regex."""
    out = []
    for char in pattern:
        if char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        elif char in _REGEX_META:
            out.append("\\" + char)
        else:
            out.append(char)
    return "(?s)^" + "".join(out) + "$"


def unknown_column(name: str, available: list[str], pos: Pos, what: str) -> Exception:
    """The ConfigError for a column that is not there, with the nearest name and the list."""
    close = difflib.get_close_matches(name, available, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return pos.error(f"unknown {what} {name!r}{hint} (available: {', '.join(available)})")


def compile_filters(
    filters: list[Filter], dtypes: MappingABC[str, pl.DataType], what: str
) -> pl.Expr | None:
    """AND of ``filters`` as one predicate over columns with ``dtypes``; None when empty."""
    exprs = [_compile(f.test, dtypes, what) for f in filters]
    return reduce(lambda a, b: a & b, exprs) if exprs else None


def _compile(test: Condition | Group, dtypes: MappingABC[str, pl.DataType], what: str) -> pl.Expr:
    if isinstance(test, Group):
        parts = [_compile(item, dtypes, what) for item in test.items]
        if test.kind == "any":
            return reduce(lambda a, b: a | b, parts)
        return reduce(lambda a, b: a & b, parts)
    return _condition(test, dtypes, what)


def _condition(c: Condition, dtypes: MappingABC[str, pl.DataType], what: str) -> pl.Expr:
    if c.field not in dtypes:
        raise unknown_column(c.field, list(dtypes), c.field_pos, what)
    dtype = dtypes[c.field]
    col = pl.col(c.field)
    op = c.operator
    if op == "is_null":
        return col.is_null()
    if op == "not_null":
        return col.is_not_null()
    where = c.value_pos or c.pos

    def fail(message: str) -> Exception:
        return where.error(f"filter on {c.field!r} ({op}): value {message}")

    if op in ("like", "regex"):
        if not (dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)):
            raise c.operator_pos.error(
                f"operator {op} needs a string column, but {c.field!r} is {type_name(dtype)}"
            )
        text = col if dtype == pl.String else col.cast(pl.String)
        pattern = like_to_regex(c.value) if op == "like" else c.value
        return text.str.contains(pattern)
    if op in ("in", "not_in"):
        values = [_literal_value(v, dtype, fail) for v in c.value if v is not None]
        test = col.is_in(pl.Series(values, dtype=_literal_dtype(values, dtype)).implode())
        test = ~test if op == "not_in" else test
    elif op == "between":
        low, high = (_literal(v, dtype, fail) for v in c.value)
        test = col.is_between(low, high, closed="both")
    else:
        value = _literal(c.value, dtype, fail)
        test = {
            "==": col == value,
            "!=": col != value,
            ">": col > value,
            ">=": col >= value,
            "<": col < value,
            "<=": col <= value,
        }[op]
    if dtype.is_float():
        test = test & col.is_not_nan()
    return test


def _literal_value(value: Any, dtype: pl.DataType, fail: Any) -> Any:
    if dtype.is_numeric() and not dtype.is_decimal():
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise fail(f"{value!r} is not a number (column is {type_name(dtype)})")
        if isinstance(value, str):
            try:
                return int(value) if value.strip().lstrip("-").isdigit() else float(value)
            except ValueError:
                raise fail(f"{value!r} is not a number (column is {type_name(dtype)})") from None
        return value
    if isinstance(value, date | datetime) and dtype == pl.String:
        return value.isoformat()
    return convert_value(value, dtype, fail)


def _literal_dtype(values: list[Any], dtype: pl.DataType) -> pl.DataType | None:
    if dtype.is_numeric() and not dtype.is_decimal():
        return pl.Float64 if any(isinstance(v, float) for v in values) else dtype
    return dtype


def _literal(value: Any, dtype: pl.DataType, fail: Any) -> pl.Expr:
    converted = _literal_value(value, dtype, fail)
    if dtype.is_numeric() and not dtype.is_decimal():
        return pl.lit(converted)
    return pl.lit(converted, dtype=dtype)
