"""What the PostgreSQL, MySQL/MariaDB and SQLite data backends share.

Table selection, partition planning (key ranges and time windows, deterministic ids), the
``colmig_ledger`` DDL, staging-table naming, identifier quoting, re-chunking of Arrow streams
and the canonical formatting of SQL-side validation sums.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute

from colmig.backends.base import Partition
from colmig.config import Settings
from colmig.errors import ConfigError

LEDGER_TABLE = "colmig_ledger"
#: Prefix of a checksum a dialect returns as ``split:HIGH:LOW:SCALE`` (exact sums of wide
#: decimals: HIGH * 10**19 + LOW unscaled), recombined by :func:`canonical_decimal`.
SPLIT_SUM = "split:"
#: Load-schema field metadata: the target column's SQL type, for error messages.
SQL_TYPE_KEY = b"colmig.sqltype"
STAGING_PREFIX = "colmig_stage_"


# --- identifiers ------------------------------------------------------------------------------


def quote_ident(name: str, quote: str = '"') -> str:
    """Quote one identifier, or a dotted ``schema.table`` part by part."""
    return ".".join(quote + part.replace(quote, quote * 2) + quote for part in name.split("."))


def quote_name(name: str, quote: str = '"') -> str:
    """Quote one identifier as a whole: a column name, or a table name with a dot in it."""
    return quote + name.replace(quote, quote * 2) + quote


def sql_string(value: str, backslash_escapes: bool = False) -> str:
    """A SQL string literal; MySQL also needs backslashes doubled."""
    if backslash_escapes:
        value = value.replace("\\", "\\\\")
    return "'" + value.replace("'", "''") + "'"


def short_hash(*parts: object, length: int = 12) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:length]


def staging_table(target: str, job_id: str, kind: str) -> str:
    """A stable staging-table name for ``target`` and ``job_id`` (the same on every re-run)."""
    base = re.sub(r"[^a-z0-9_]", "_", target.split(".")[-1].lower())[:24]
    name = f"{STAGING_PREFIX}{kind}_{base}_{short_hash(job_id, target, length=10)}"
    schema = target.rsplit(".", 1)[0] + "." if "." in target else ""
    return schema + name


def default_table_name(source_redacted: str) -> str:
    """Target table name derived from the source path when no -table/-target-table is given.

    ``file://./data/2024`` -> ``data_2024``; ``s3://b/iot/readings.parquet`` -> ``readings``.
    A last component that does not start with a letter is prefixed with its parent's name.
    """
    path = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", source_redacted).split("?")[0]
    parts = [p for p in re.split(r"[/\\]", path) if p not in ("", ".", "..") and "*" not in p]
    if not parts:
        return "colmig_data"
    stem = re.sub(
        r"(\.(csv|tsv|jsonl|json|ndjson|parquet|arrow|feather|gz|zst|bz2))+$",
        "",
        parts[-1],
        flags=re.IGNORECASE,
    )
    name = _identifierish(stem)
    if not name[:1].isalpha() and len(parts) > 1:
        name = f"{_identifierish(parts[-2])}_{name}"
    if not name[:1].isalpha():
        name = f"t_{name}"
    return name


def _identifierish(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", text.lower())).strip("_") or "data"


# --- table selection --------------------------------------------------------------------------


@dataclass(frozen=True)
class TableChoice:
    """One source table (or query) and the table its rows go to."""

    source: str | None
    query: str | None
    target: str | None


def choose_sources(settings: Settings, list_tables: Callable[[], list[str]]) -> list[TableChoice]:
    """Resolve -query / -source-table / -table (name, comma list or glob) to source tables."""
    if settings.query:
        return [TableChoice(None, settings.query.strip().rstrip(";"), settings.target_table)]
    spec = settings.source_table or settings.table
    if not spec:
        raise ConfigError("a database source needs -table, -source-table or -query")
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if len(names) == 1 and not _is_glob(names[0]):
        target = settings.target_table or (settings.table if not settings.source_table else None)
        return [TableChoice(names[0], None, target or names[0])]
    available = list_tables()
    chosen: list[str] = []
    for name in names:
        matches = (
            [t for t in available if fnmatch.fnmatchcase(t, name)] if _is_glob(name) else [name]
        )
        if not matches:
            raise ConfigError(f"-table pattern {name!r} matches no table in the source")
        chosen.extend(m for m in sorted(matches) if m not in chosen)
    if settings.target_table and len(chosen) > 1:
        raise ConfigError("-target-table names one table; a list or glob of tables keeps names")
    return [TableChoice(t, None, settings.target_table or t) for t in chosen]


def _is_glob(name: str) -> bool:
    return any(ch in name for ch in "*?[")


# --- partition planning -----------------------------------------------------------------------

_WINDOW_RE = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
EPOCH = dt.datetime(1970, 1, 1)


def parse_window(text: str) -> dt.timedelta:
    """'1h', '1d', '7d', '15m' -> timedelta; ConfigError otherwise."""
    match = _WINDOW_RE.match(text)
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"-partition-window must look like 15m, 1h, 1d or 7d, got {text!r}")
    return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).lower()])


def _naive_utc(value: dt.datetime | dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def plan_ranges(
    *,
    source_key: str,
    target_table: str | None,
    column: str | None,
    low: Any,
    high: Any,
    parts: int,
    window: str | None,
    base_spec: dict[str, Any],
    estimated_rows: int | None = None,
) -> list[Partition]:
    """Split [low, high] of ``column`` into ranges (count or time windows) as partitions.

    Bounds are half-open ``[lo, hi)``; the last range is closed (``hi_inclusive``). Ids hash
    the source, the column and the bounds, so the same table and bounds give the same ids.
    """
    if column is None or low is None or high is None:
        spec = {**base_spec, "column": None}
        pid = f"{_label(source_key)}-all-{short_hash(source_key, 'all')}"
        return [Partition(pid, f"{_label(source_key)} (all rows)", spec, estimated_rows)]
    bounds: list[tuple[Any, Any]]
    kind: str
    if isinstance(low, dt.datetime | dt.date) and not isinstance(high, int):
        kind = "timestamptz" if getattr(low, "tzinfo", None) is not None else "timestamp"
        lo_ts, hi_ts = _naive_utc(low), _naive_utc(high)
        if window:
            step = parse_window(window)
            start = EPOCH + ((lo_ts - EPOCH) // step) * step
            edges = [start]
            while edges[-1] <= hi_ts:
                edges.append(edges[-1] + step)
        else:
            span = (hi_ts - lo_ts) / max(parts, 1)
            span = max(span, dt.timedelta(microseconds=1))
            edges = [lo_ts + span * i for i in range(parts)] + [hi_ts]
            edges = sorted(set(edges))
            if len(edges) == 1:
                edges.append(hi_ts)
        bounds = [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]
        bounds = [(a.isoformat(sep=" "), b.isoformat(sep=" ")) for a, b in bounds]
    elif isinstance(low, int | Decimal | float) and not isinstance(low, bool):
        if window:
            raise ConfigError(f"-partition-window needs a timestamp column; {column} is numeric")
        kind = "int"
        lo_i, hi_i = int(low), int(high) if float(high) == int(high) else int(high) + 1
        count = max(1, min(parts, hi_i - lo_i + 1))
        step = (hi_i - lo_i + 1) / count
        edges_i = sorted({lo_i + int(step * i) for i in range(count)} | {hi_i})
        bounds = [(edges_i[i], edges_i[i + 1]) for i in range(len(edges_i) - 1)] or [(lo_i, hi_i)]
    else:
        raise ConfigError(
            f"-partition-on {column}: only numeric and timestamp/date columns can be split, "
            f"got {type(low).__name__}"
        )
    out = []
    for index, (lo, hi) in enumerate(bounds):
        last = index == len(bounds) - 1
        spec = {
            **base_spec,
            "column": column,
            "kind": kind,
            "lo": lo,
            "hi": hi,
            "hi_inclusive": last,
        }
        pid = f"{_label(source_key)}-{short_hash(source_key, column, lo, hi, last)}"
        label = f"{_label(source_key)} {column} [{lo}, {hi}{']' if last else ')'}"
        rows = estimated_rows // len(bounds) if estimated_rows else None
        out.append(Partition(pid, label, spec, rows))
    _ = target_table
    return out


def _label(source_key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", source_key)[:40]


def range_predicate(
    spec: dict[str, Any] | Any, quote: Callable[[str], str], literal: Callable[[Any, str], str]
) -> str | None:
    """The SQL WHERE condition of a range partition, or None for a whole-table partition."""
    column = spec.get("column")
    if not column or "lo" not in spec:
        return None
    col = quote(column)
    lo, hi = literal(spec["lo"], spec["kind"]), literal(spec["hi"], spec["kind"])
    upper = "<=" if spec.get("hi_inclusive") else "<"
    return f"{col} >= {lo} AND {col} {upper} {hi}"


# --- Arrow helpers ----------------------------------------------------------------------------


def rechunk(batches: Iterable[pa.RecordBatch], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Re-cut a stream into batches of at most ``batch_rows`` rows (no empty batches)."""
    for batch in batches:
        if batch.num_rows == 0:
            continue
        if batch.num_rows <= batch_rows:
            yield batch
            continue
        for offset in range(0, batch.num_rows, batch_rows):
            yield batch.slice(offset, batch_rows)


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Cast ``batch`` column-wise to ``schema`` (same names, possibly other types)."""
    if batch.schema.equals(schema, check_metadata=False):
        return batch
    arrays = []
    for field in schema:
        column = batch.column(batch.schema.get_field_index(field.name))
        if not column.type.equals(field.type):
            column = _cast(column, field.type)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def cast_column(column: pa.Array, to: pa.DataType) -> pa.Array:
    """The cast of :func:`conform` for one column (text timestamps, UUID text, extensions)."""
    return _cast(column, to)


def _cast(column: pa.Array, to: pa.DataType) -> pa.Array:
    if isinstance(to, pa.BaseExtensionType):
        if isinstance(column.type, pa.BaseExtensionType):
            column = column.storage
        if pa.types.is_fixed_size_binary(to.storage_type) and pa.types.is_string(column.type):
            import uuid

            values = [None if v is None else uuid.UUID(v).bytes for v in column.to_pylist()]
            column = pa.array(values, to.storage_type)
        return pa.ExtensionArray.from_storage(to, column.cast(to.storage_type))
    if isinstance(column.type, pa.BaseExtensionType):
        column = column.storage
    if pa.types.is_timestamp(to):
        if to.tz and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            # Text timestamps of a zoned column are stored in UTC without an offset.
            naive = column.cast(pa.timestamp(to.unit))
            return pa.compute.assume_timezone(naive, "UTC").cast(to)
        return column.cast(to, safe=False)
    return column.cast(to)


# --- validation -------------------------------------------------------------------------------


def canonical_decimal(value: Any) -> str:
    """The exact sum as a plain decimal string, no exponent, no trailing zeros ('0' for none)."""
    if value is None:
        return "0"
    if isinstance(value, str) and value.startswith(SPLIT_SUM):
        high, low, scale = value[len(SPLIT_SUM) :].split(":")
        value = f"{int(high) * 10**19 + int(low)}E-{int(scale)}"
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return str(int(number))
    text = format(number.normalize(Context(prec=400)), "f")  # the default rounds at 28 digits
    return text


def canonical_float(value: Any) -> str:
    return repr(float(value)) if value is not None else "0.0"


def stats_kind(arrow_type: pa.DataType) -> str:
    """Which canonical checksum family a column belongs to."""
    if isinstance(arrow_type, pa.BaseExtensionType):
        return "hash"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type) or pa.types.is_decimal(arrow_type):
        return "exact"
    if pa.types.is_floating(arrow_type):
        return "float"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_time(arrow_type):
        return "time"
    if (
        pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
        or pa.types.is_fixed_size_binary(arrow_type)
    ):
        return "hash_bytes"
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or getattr(pa.types, "is_string_view", lambda _t: False)(arrow_type)
    ):
        return "hash"
    return "none"


def names(schema: pa.Schema) -> Sequence[str]:
    return [f.name for f in schema]
