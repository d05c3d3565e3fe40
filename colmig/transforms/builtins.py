"""The built-in transforms: each compiles to a vectorized Polars expression.

Every built-in declares its parameters, so a config's arguments are checked when the file is
loaded (before any data moves), and its input types, checked against the source schema.
Transforms whose result can be null for a non-null input (a string that is not a number, a
time that does not exist in a time zone) are *fallible*: those rows are routed by -on-error.
"""

from __future__ import annotations

import difflib
import os
import threading
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

import polars as pl

from colmig.transforms.context import Built, StepContext, type_name
from colmig.transforms.model import Step
from colmig.transforms.registry import TransformSpec, register
from colmig.transforms.types import TYPE_NAMES, parse_type

REQUIRED: Any = object()
KEEP: Any = object()


@dataclass(frozen=True)
class Param:
    """One argument of a built-in: name, kind (int, number, str, choice, any) and default."""

    name: str
    kind: str = "str"
    default: Any = REQUIRED
    choices: tuple[str, ...] = ()
    optional_number: bool = False

    def text(self) -> str:
        shown = f"{self.name}" if self.default is REQUIRED else f"{self.name}={self.default}"
        return shown if not self.choices else f"{self.name}={'|'.join(self.choices)}"


def builtin(
    name: str,
    *params: Param,
    split: str = "all",
    summary: str,
    fallible: bool = False,
) -> Callable[[Callable[..., Built | pl.Expr]], Callable[..., Built | pl.Expr]]:
    """Register a built-in. ``split`` says how ``name:text`` is cut: all commas, none, last."""

    def decorate(func: Callable[..., Built | pl.Expr]) -> Callable[..., Built | pl.Expr]:
        def check(step: Step) -> None:
            parse_arguments(name, params, split, step)

        def build(ctx: StepContext, step: Step) -> Built:
            result = func(ctx, **parse_arguments(name, params, split, step))
            return result if isinstance(result, Built) else Built(result, fallible)

        signature = ", ".join(p.text() for p in params)
        register(
            TransformSpec(
                name=name,
                check=check,
                build=build,
                kind="built-in",
                origin="colmig",
                summary=summary,
                signature=f"({signature})",
                fallible=fallible,
            )
        )
        return func

    return decorate


def parse_arguments(name: str, params: tuple[Param, ...], split: str, step: Step) -> dict[str, Any]:
    """Match a step's arguments to ``params`` and convert them, or raise a ConfigError."""
    names = [p.name for p in params]
    usage = f"{name}({', '.join(p.text() for p in params)})"
    values: dict[str, Any] = {}
    if step.text is not None:
        text = step.text
        if split == "none" or not params:
            raw = [text]
        elif split == "last":
            raw = text.rsplit(",", 1) if "," in text else [text]
        else:
            raw = text.split(",")
        if not params:
            raise step.pos.error(f"{name} takes no arguments, found {text!r}")
        if len(raw) > len(params):
            raise step.pos.error(f"{name} takes at most {len(params)} argument(s): {usage}")
        values.update(zip(names, raw, strict=False))
    else:
        if len(step.args) > len(params):
            raise step.pos.error(
                f"{name} takes at most {len(params)} argument(s), found {len(step.args)}: {usage}"
            )
        values.update(zip(names, step.args, strict=False))
        for key, value in step.kwargs:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                allowed = ", ".join(names) or "none"
                raise step.pos.error(f"{name} has no argument {key!r}{hint} (arguments: {allowed})")
            values[key] = value
    out: dict[str, Any] = {}
    for param in params:
        if param.name not in values:
            if param.default is REQUIRED:
                raise step.pos.error(f"{name} needs the argument {param.name!r}: {usage}")
            out[param.name] = param.default
            continue
        out[param.name] = _convert(name, param, values[param.name], step)
    return out


def _convert(name: str, param: Param, value: Any, step: Step) -> Any:
    def bad(wanted: str) -> Exception:
        return step.pos.error(f"{name}: argument {param.name} must be {wanted}, found {value!r}")

    if param.optional_number and (value is None or (isinstance(value, str) and not value.strip())):
        return None
    if param.kind == "int":
        if isinstance(value, bool):
            raise bad("an integer")
        try:
            number = int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise bad("an integer") from None
        if number < 0:
            raise bad("zero or more")
        return number
    if param.kind == "number":
        if isinstance(value, bool):
            raise bad("a number")
        try:
            return float(value) if not isinstance(value, int | float) else value
        except (TypeError, ValueError):
            raise bad("a number") from None
    if param.kind == "choice":
        text = str(value).strip()
        if text not in param.choices:
            raise bad("one of " + ", ".join(param.choices))
        return text
    if param.kind == "tz":
        text = str(value).strip()
        check_time_zone(text, step, allow_none=param.default in (None, "UTC"))
        return text
    if param.kind == "any":
        return value
    if param.kind == "regex":
        text = str(value)
        check_regex(text, step, name)
        return text
    if isinstance(value, dict | list):
        raise bad("a single value")
    return None if value is None else str(value)


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_time_zone(tz: str, step: Step, *, allow_none: bool = False) -> None:
    """Raise a ConfigError at ``step`` unless ``tz`` is an IANA time zone name."""
    if allow_none and tz.lower() == "none":
        return
    if tz in _time_zones() or tz == "UTC":
        return
    close = difflib.get_close_matches(tz, sorted(_time_zones()), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise step.pos.error(
        f"{step.name}: unknown time zone {tz!r}{hint} (use an IANA name such as UTC or "
        "Europe/Berlin)"
    )


def check_regex(pattern: str, step: Step, name: str) -> None:
    """Raise a ConfigError unless Polars (Rust regex syntax) accepts ``pattern``."""
    try:
        pl.Series([""]).str.contains(pattern)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()
        raise step.pos.error(
            f"{name}: invalid regular expression {pattern!r}: {first[-1] if first else exc}"
        ) from None


def _tz_of(ctx: StepContext) -> str | None:
    return ctx.dtype.time_zone if isinstance(ctx.dtype, pl.Datetime) else None


# --- time ---------------------------------------------------------------------------------

_US_PER = {"s": 1_000_000, "ms": 1_000, "us": 1}
_INT64_MAX = 2**63 - 1
# Magnitude thresholds for unit inference: |v| < 1e12 is seconds (up to year 33658),
# < 1e15 milliseconds, < 1e18 microseconds, else nanoseconds (all of them after 2001-09-09).
_AUTO_LIMITS = ((1e12, "s"), (1e15, "ms"), (1e18, "us"))


def _int_epoch_to_us(v: pl.Expr, unit: str) -> tuple[pl.Expr, bool]:
    if unit == "ns":
        return v // 1000, False
    if unit in _US_PER:
        factor = _US_PER[unit]
        if factor == 1:
            return v, False
        limit = _INT64_MAX // factor
        return pl.when(v.abs() <= limit).then(v * factor), True
    magnitude = v.abs()
    out = pl.when(magnitude < 1e12).then(v * 1_000_000)
    out = out.when(magnitude < 1e15).then(v * 1_000).when(magnitude < 1e18).then(v)
    return out.otherwise(v // 1000), False


def _float_epoch_to_us(v: pl.Expr, unit: str) -> pl.Expr:
    if unit == "auto":
        magnitude = v.abs()
        factor = (
            pl.when(magnitude < 1e12)
            .then(1e6)
            .when(magnitude < 1e15)
            .then(1e3)
            .when(magnitude < 1e18)
            .then(1.0)
            .otherwise(1e-3)
        )
    else:
        factor = pl.lit({"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}[unit])
    # NaN, ±inf and out-of-range values become null here, which marks the row as failed.
    return (v * factor).round(0).cast(pl.Int64, strict=False)


def _localise(us: pl.Expr, tz: str | None) -> pl.Expr:
    ts = us.cast(pl.Datetime("us"))
    if tz is None or tz.lower() == "none":
        return ts
    ts = ts.dt.replace_time_zone("UTC")
    return ts if tz == "UTC" else ts.dt.convert_time_zone(tz)


@builtin(
    "unix_to_timestamp",
    Param("unit", "choice", "auto", ("auto", "s", "ms", "us", "ns")),
    Param("tz", "tz", "UTC"),
    summary="epoch number -> timestamp (unit s/ms/us/ns or auto from magnitude; tz, default UTC)",
)
def unix_to_timestamp(ctx: StepContext, unit: str, tz: str) -> Built:
    ctx.require(
        ctx.is_numeric or ctx.is_string, "a number (seconds/ms/us/ns since 1970) or a string of one"
    )
    if ctx.is_string:
        text = ctx.expr.str.strip_chars()
        as_int = text.cast(pl.Int64, strict=False)
        int_us, _ = _int_epoch_to_us(as_int, unit)
        float_us = _float_epoch_to_us(text.cast(pl.Float64, strict=False), unit)
        return Built(
            _localise(pl.when(as_int.is_not_null()).then(int_us).otherwise(float_us), tz), True
        )
    if ctx.dtype.is_integer():
        value = ctx.expr if ctx.dtype == pl.Int64 else ctx.expr.cast(pl.Int64, strict=False)
        us, fallible = _int_epoch_to_us(value, unit)
        return Built(_localise(us, tz), fallible or ctx.dtype == pl.UInt64)
    return Built(_localise(_float_epoch_to_us(ctx.expr.cast(pl.Float64), unit), tz), True)


@builtin(
    "timestamp_to_unix",
    Param("unit", "choice", "s", ("s", "ms", "us", "ns")),
    summary="timestamp -> epoch integer (unit s/ms/us/ns, default s)",
)
def timestamp_to_unix(ctx: StepContext, unit: str) -> Built:
    ctx.require(ctx.is_datetime or ctx.dtype == pl.Date, "a timestamp or date")
    value = ctx.expr.cast(pl.Datetime("us")) if ctx.dtype == pl.Date else ctx.expr
    # Nanoseconds overflow int64 outside 1677..2262: those become null -> failed row.
    return Built(value.dt.epoch(unit), unit == "ns")  # type: ignore[arg-type]


_HAS_OFFSET = r"(?:[Zz]|[+-]\d\d(?::?\d\d)?)\s*$"


@builtin(
    "parse_timestamp",
    Param("format", "str", None),
    Param("tz", "tz", "UTC"),
    split="none",
    summary="string -> timestamp with a strftime FORMAT (default ISO 8601); naive values in tz",
    fallible=True,
)
def parse_timestamp(ctx: StepContext, format: str | None, tz: str) -> Built:
    ctx.require(ctx.is_string, "a string column (use convert_tz for timestamps)")
    fmt = format or None
    zone = None if tz.lower() == "none" else tz

    def aware(text: pl.Expr) -> pl.Expr:
        # Offset-aware text: parse to UTC, then show it in the zone (or drop the zone).
        parsed = text.str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False)
        if zone is None:
            return parsed.dt.replace_time_zone(None)
        return parsed if zone == "UTC" else parsed.dt.convert_time_zone(zone)

    def naive(text: pl.Expr) -> pl.Expr:
        # Wall-clock text: read it as local time in the zone; DST gaps become failed values.
        parsed = text.str.to_datetime(fmt, time_unit="us", strict=False)
        if zone is None:
            return parsed
        return parsed.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")

    if fmt is not None:
        with_offset = any(code in fmt for code in ("%z", "%:z", "%#z", "%Z"))
        return Built(aware(ctx.expr) if with_offset else naive(ctx.expr), True)
    # ISO 8601 without a format: some values may carry an offset and others not.
    has_offset = ctx.expr.str.contains(_HAS_OFFSET)
    parsed_aware = aware(pl.when(has_offset).then(ctx.expr))
    parsed_naive = naive(pl.when(~has_offset).then(ctx.expr))
    return Built(pl.when(has_offset).then(parsed_aware).otherwise(parsed_naive), True)


@builtin(
    "convert_tz",
    Param("tz", "tz"),
    Param("from", "tz", "UTC"),
    summary="timestamp -> the same instant in time zone tz (naive input taken as 'from', UTC)",
)
def convert_tz(ctx: StepContext, tz: str, **kwargs: str) -> Built:
    ctx.require(ctx.is_datetime, "a timestamp (use parse_timestamp or unix_to_timestamp first)")
    source_tz = kwargs["from"]
    fallible = False
    value = ctx.expr
    if _tz_of(ctx) is None:
        value = value.dt.replace_time_zone(source_tz, ambiguous="earliest", non_existent="null")
        fallible = source_tz != "UTC"
    if tz.lower() == "none":
        return Built(value.dt.convert_time_zone("UTC").dt.replace_time_zone(None), fallible)
    return Built(value.dt.convert_time_zone(tz), fallible)


# --- numbers ------------------------------------------------------------------------------


def _require_number(ctx: StepContext) -> None:
    ctx.require(ctx.is_numeric, "a numeric column")


@builtin(
    "float_precision",
    Param("digits", "int"),
    summary="round to N decimal places (half away from zero); result is float",
)
def float_precision(ctx: StepContext, digits: int) -> pl.Expr:
    _require_number(ctx)
    value = ctx.expr if ctx.is_float else ctx.expr.cast(pl.Float64)
    return value.round(digits, mode="half_away_from_zero")


@builtin("round", Param("digits", "int", 0), summary="round to N decimal places (integers kept)")
def round_(ctx: StepContext, digits: int) -> pl.Expr:
    _require_number(ctx)
    if ctx.dtype.is_integer():
        return ctx.expr
    return ctx.expr.round(digits, mode="half_away_from_zero")


@builtin("scale", Param("factor", "number"), summary="multiply by K")
def scale(ctx: StepContext, factor: float) -> pl.Expr:
    _require_number(ctx)
    return ctx.expr * factor


@builtin("offset", Param("amount", "number"), summary="add K")
def offset(ctx: StepContext, amount: float) -> pl.Expr:
    _require_number(ctx)
    return ctx.expr + amount


@builtin(
    "clip",
    Param("min", "number", None, optional_number=True),
    Param("max", "number", None, optional_number=True),
    summary="limit to [MIN, MAX]; leave one empty for a one-sided limit (clip:,100)",
)
def clip(ctx: StepContext, **bounds: float | None) -> pl.Expr:
    _require_number(ctx)
    low, high = bounds["min"], bounds["max"]
    if low is None and high is None:
        raise ctx.fail("needs a minimum, a maximum or both (clip:0,100 or clip:,100)")
    if low is not None and high is not None and low > high:
        raise ctx.fail(f"minimum {low} is greater than maximum {high}")
    return ctx.expr.clip(low, high)


@builtin(
    "nan_to_null",
    summary="turn NaN into null (so default: and filters treat it as missing)",
)
def nan_to_null(ctx: StepContext) -> pl.Expr:
    _require_number(ctx)
    return ctx.expr.fill_nan(None) if ctx.is_float else ctx.expr


# Linear unit conversions common in sensor data: out = in * a + b.
_LINEAR: dict[str, tuple[float, float, str]] = {
    "celsius_to_fahrenheit": (1.8, 32.0, "°C -> °F"),
    "fahrenheit_to_celsius": (1 / 1.8, -32.0 / 1.8, "°F -> °C"),
    "kelvin_to_celsius": (1.0, -273.15, "K -> °C"),
    "celsius_to_kelvin": (1.0, 273.15, "°C -> K"),
    "fahrenheit_to_kelvin": (1 / 1.8, 273.15 - 32.0 / 1.8, "°F -> K"),
    "kelvin_to_fahrenheit": (1.8, -459.67, "K -> °F"),
    "pa_to_hpa": (0.01, 0.0, "Pa -> hPa"),
    "hpa_to_pa": (100.0, 0.0, "hPa -> Pa"),
    "kpa_to_hpa": (10.0, 0.0, "kPa -> hPa"),
    "psi_to_hpa": (68.947572932, 0.0, "psi -> hPa"),
    "hpa_to_psi": (1 / 68.947572932, 0.0, "hPa -> psi"),
    "inhg_to_hpa": (33.8638866667, 0.0, "inHg -> hPa"),
    "mps_to_kmh": (3.6, 0.0, "m/s -> km/h"),
    "kmh_to_mps": (1 / 3.6, 0.0, "km/h -> m/s"),
    "mph_to_kmh": (1.609344, 0.0, "mph -> km/h"),
    "kmh_to_mph": (1 / 1.609344, 0.0, "km/h -> mph"),
    "knots_to_mps": (0.514444, 0.0, "knots -> m/s"),
    "m_to_ft": (1 / 0.3048, 0.0, "m -> ft"),
    "ft_to_m": (0.3048, 0.0, "ft -> m"),
    "mm_to_in": (1 / 25.4, 0.0, "mm -> in"),
    "in_to_mm": (25.4, 0.0, "in -> mm"),
    "wh_to_kwh": (0.001, 0.0, "Wh -> kWh"),
    "kwh_to_wh": (1000.0, 0.0, "kWh -> Wh"),
    "percent_to_ratio": (0.01, 0.0, "% -> 0..1"),
    "ratio_to_percent": (100.0, 0.0, "0..1 -> %"),
}


def _register_linear(name: str, a: float, b: float, text: str) -> None:
    def convert(ctx: StepContext) -> pl.Expr:
        _require_number(ctx)
        value = ctx.expr.cast(pl.Float64) * a
        return value + b if b else value

    builtin(name, summary=f"unit conversion {text} (float)")(convert)


for _name, (_a, _b, _text) in _LINEAR.items():
    _register_linear(_name, _a, _b, _text)


# --- types and values ---------------------------------------------------------------------

_TRUE = ["true", "t", "yes", "y", "1", "on"]
_FALSE = ["false", "f", "no", "n", "0", "off"]


@builtin(
    "cast",
    Param("type", "str"),
    split="none",
    summary="convert to TYPE (int64, float64, string, bool, date, timestamp(TZ), decimal(P,S), …)",
    fallible=True,
)
def cast(ctx: StepContext, type: str) -> Built:
    target = parse_type(type)
    if target is None:
        close = difflib.get_close_matches(type.lower(), TYPE_NAMES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ctx.fail(f"unknown type {type!r}{hint} (types: {', '.join(TYPE_NAMES)})")
    if target == pl.String:
        return Built(ctx.expr.cast(pl.String), False)
    if ctx.is_string:
        text = ctx.expr.str.strip_chars()
        if isinstance(target, pl.Datetime):
            parsed = text.str.to_datetime(time_unit=target.time_unit, strict=False)
            parsed = parsed.dt.replace_time_zone(None)
            if target.time_zone:
                parsed = parsed.dt.replace_time_zone(
                    target.time_zone, ambiguous="earliest", non_existent="null"
                )
            return Built(parsed, True)
        if target == pl.Date:
            return Built(text.str.to_date(strict=False), True)
        if target == pl.Time:
            return Built(text.str.to_time(strict=False), True)
        if target == pl.Boolean:
            lowered = text.str.to_lowercase()
            mapping = dict.fromkeys(_TRUE, True) | dict.fromkeys(_FALSE, False)
            return Built(
                lowered.replace_strict(mapping, default=None, return_dtype=pl.Boolean), True
            )
        return Built(text.cast(target, strict=False), True)
    if isinstance(target, pl.Datetime) and ctx.is_numeric:
        raise ctx.fail("use unix_to_timestamp to turn numbers into timestamps")
    if isinstance(target, pl.Datetime) and ctx.is_datetime and target.time_zone:
        value = ctx.expr
        if _tz_of(ctx) is None:
            value = value.dt.replace_time_zone("UTC")
        return Built(value.dt.convert_time_zone(target.time_zone).cast(target), False)
    return Built(ctx.expr.cast(target, strict=False), True)


def literal_for(ctx: StepContext, value: Any, what: str) -> pl.Expr:
    """``value`` (YAML value or text) as a literal of the column's type, or a ConfigError."""
    return typed_literal(value, ctx.dtype, lambda msg: ctx.fail(f"{what}: {msg}"))


def typed_literal(value: Any, dtype: pl.DataType, fail: Callable[[str], Exception]) -> pl.Expr:
    """A Polars literal of ``dtype`` from a YAML value, checking it fits the type."""
    return pl.lit(convert_value(value, dtype, fail), dtype=dtype)


def convert_value(value: Any, dtype: pl.DataType, fail: Callable[[str], Exception]) -> Any:
    """A Python value of ``dtype``'s kind from a YAML value or text; ``fail(msg)`` on mismatch."""
    if value is None:
        return None
    kind = type_name(dtype)
    if dtype.is_integer():
        if isinstance(value, bool):
            raise fail(f"{value!r} is not an integer (column is {kind})")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise fail(f"{value!r} is not an integer (column is {kind})") from None
    if dtype.is_float() or dtype.is_decimal():
        if isinstance(value, bool):
            raise fail(f"{value!r} is not a number (column is {kind})")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise fail(f"{value!r} is not a number (column is {kind})") from None
    if dtype == pl.Boolean:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise fail(f"{value!r} is not true/false (column is boolean)")
    if isinstance(dtype, pl.Datetime):
        return _to_datetime(value, dtype, fail)
    if dtype == pl.Date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            raise fail(f"{value!r} is not a date YYYY-MM-DD (column is date)") from None
    if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        if isinstance(value, dict | list):
            raise fail(f"{value!r} is not a single value")
        if not isinstance(value, str):
            raise fail(
                f"{value!r} is a {type(value).__name__} but the column is a string; quote it"
            )
        return value
    if isinstance(value, dict | list):
        raise fail(f"{value!r} is not a single value")
    return value


def _to_datetime(value: Any, dtype: pl.Datetime, fail: Callable[[str], Exception]) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise fail(
                f"{value!r} is not an ISO 8601 timestamp (column is {type_name(dtype)})"
            ) from None
    zone = dtype.time_zone
    if zone:
        tzinfo = zoneinfo.ZoneInfo(zone)
        return moment.astimezone(tzinfo) if moment.tzinfo else moment.replace(tzinfo=tzinfo)
    if moment.tzinfo:
        return moment.astimezone(zoneinfo.ZoneInfo("UTC")).replace(tzinfo=None)
    return moment


@builtin(
    "default",
    Param("value", "any"),
    split="none",
    summary="replace nulls with VALUE (of the column's type)",
)
def default(ctx: StepContext, value: Any) -> pl.Expr:
    if value is None:
        raise ctx.fail("needs a value (default:0)")
    return ctx.expr.fill_null(literal_for(ctx, value, "default value"))


# --- strings ------------------------------------------------------------------------------


def _require_string(ctx: StepContext) -> pl.Expr:
    ctx.require(ctx.is_string, "a string column")
    return ctx.expr if ctx.dtype == pl.String else ctx.expr.cast(pl.String)


@builtin("lowercase", summary="lower-case text (Unicode aware)")
def lowercase(ctx: StepContext) -> pl.Expr:
    return _require_string(ctx).str.to_lowercase()


@builtin("uppercase", summary="upper-case text (Unicode aware)")
def uppercase(ctx: StepContext) -> pl.Expr:
    return _require_string(ctx).str.to_uppercase()


@builtin(
    "trim",
    Param("chars", "str", None),
    split="none",
    summary="strip whitespace (or the given characters) from both ends",
)
def trim(ctx: StepContext, chars: str | None) -> pl.Expr:
    return _require_string(ctx).str.strip_chars(chars)


@builtin(
    "regex_replace",
    Param("pattern", "regex"),
    Param("replacement", "str", ""),
    split="last",
    summary="replace every match of PATTERN (Rust regex) with REPL ($1 for groups)",
)
def regex_replace(ctx: StepContext, pattern: str, replacement: str) -> pl.Expr:
    return _require_string(ctx).str.replace_all(pattern, replacement or "")


@builtin(
    "json_extract",
    Param("path", "str"),
    split="none",
    summary="the value at JSONPath PATH ($.a.b) of a JSON string, as a string",
)
def json_extract(ctx: StepContext, path: str) -> pl.Expr:
    if not path.startswith("$"):
        raise ctx.fail(f"path must be a JSONPath starting with '$' (e.g. $.{path}), found {path!r}")
    return _require_string(ctx).str.json_path_match(path)


def _map_values_build(ctx: StepContext, step: Step) -> Built:
    if step.text is not None or step.args:
        raise ctx.fail("needs a dictionary: transform: {map_values: {old: new, ...}}")
    table = dict(step.kwargs)
    default_value: Any = KEEP
    if set(table) <= {"mapping", "default"} and isinstance(table.get("mapping"), dict):
        default_value = table.get("default", KEEP)
        table = table["mapping"]
    if not table:
        raise ctx.fail("needs at least one old: new pair")
    old = [convert_value(k, ctx.dtype, lambda m: ctx.fail(f"key {m}")) for k in table]
    new = list(table.values())
    try:
        new_series = pl.Series(new, strict=False)
    except (TypeError, pl.exceptions.PolarsError):
        raise ctx.fail("the new values must all have one type") from None
    if default_value is KEEP:
        fallback: Any = ctx.expr
    else:
        fallback = (
            pl.lit(default_value, dtype=new_series.dtype) if default_value is not None else None
        )
    return Built(ctx.expr.replace_strict(old, new_series, default=fallback))


register(
    TransformSpec(
        name="map_values",
        check=lambda step: _check_map_values(step),
        build=_map_values_build,
        kind="built-in",
        origin="colmig",
        summary="replace values by a dictionary {old: new}; unmapped kept (or mapping:/default:)",
        signature="({old: new, ...})",
    )
)


def _check_map_values(step: Step) -> None:
    if step.text is not None or step.args or not step.kwargs:
        raise step.pos.error(
            "map_values needs a dictionary: transform: {map_values: {old: new, ...}}"
        )


# --- privacy ------------------------------------------------------------------------------

_duckdb_local = threading.local()


def _sha256_batch(series: pl.Series, salt: str) -> pl.Series:
    import duckdb

    # One connection per thread and process: a connection inherited through fork is unsafe.
    owner = (os.getpid(), threading.get_ident())
    if getattr(_duckdb_local, "owner", None) != owner:
        _duckdb_local.con = duckdb.connect()
        _duckdb_local.owner = owner
    con = _duckdb_local.con
    frame = series.to_frame("v").to_arrow()  # noqa: F841 - read by DuckDB's replacement scan
    result = con.sql("SELECT sha256($salt || v) AS h FROM frame", params={"salt": salt})
    return pl.Series(series.name, result.to_arrow_table().column(0), dtype=pl.String)


@builtin(
    "hash_sha256",
    Param("salt_env", "str", None),
    summary="hex SHA-256 of salt + value; salt read from the env var salt_env (never logged)",
)
def hash_sha256(ctx: StepContext, salt_env: str | None) -> pl.Expr:
    from colmig.urls import add_secret

    salt = ""
    if salt_env:
        if salt_env not in os.environ:
            raise ctx.fail(f"environment variable {salt_env} (the salt) is not set")
        salt = os.environ[salt_env]
        add_secret(salt)
    value = ctx.expr if ctx.dtype == pl.String else ctx.expr.cast(pl.String)
    # One DuckDB call per batch (vectorized sha256); Polars has no cryptographic hash.
    return value.map_batches(
        lambda s: _sha256_batch(s, salt), return_dtype=pl.String, is_elementwise=True
    )


@builtin(
    "mask",
    Param("keep_last", "int", 4),
    Param("keep_first", "int", 0),
    Param("char", "str", "*"),
    summary="replace all but the first/last N characters with char (all of a short value)",
)
def mask(ctx: StepContext, keep_last: int, keep_first: int, char: str) -> pl.Expr:
    if len(char) != 1:
        raise ctx.fail(f"char must be a single character, found {char!r}")
    text = ctx.expr if ctx.dtype == pl.String else ctx.expr.cast(pl.String)
    length = text.str.len_chars().cast(pl.Int64)
    kept = keep_first + keep_last

    def stars(n: pl.Expr) -> pl.Expr:
        return pl.lit("").str.pad_start(n, char)

    # Clip: Polars evaluates both branches, and a negative pad length must not reach pad_start.
    hidden = (length - kept).clip(0, None)
    parts = [text.str.head(keep_first), stars(hidden), text.str.tail(keep_last)]
    masked = pl.concat_str(parts)
    return pl.when(length > kept).then(masked).otherwise(stars(length))


@builtin("drop", summary="leave this column out of the output")
def drop(ctx: StepContext) -> pl.Expr:
    return ctx.expr


@builtin("null", summary="replace every value with null (keeps the column and its type)")
def null(ctx: StepContext) -> pl.Expr:
    return pl.when(pl.lit(False)).then(ctx.expr)
