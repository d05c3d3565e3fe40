"""Hive output layout: ``-partition-by`` keys, computed vectorized, escaped safely.

``-partition-by`` takes a comma list of plain columns (``sensor_id``) and derived time keys
(``day(timestamp)``, ``month(ts)``, ``year(ts)``, ``hour(ts)``); zoned timestamps are bucketed
in UTC. Values are percent-escaped so no value can add a directory level or climb out of the
target (``/``, ``\\``, ``=``, ``%``, a leading ``.``), and null becomes
``__HIVE_DEFAULT_PARTITION__`` as in Hive and Spark.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from colmig.errors import ConfigError

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_DERIVED = {"year": "%Y", "month": "%Y-%m", "day": "%Y-%m-%d", "hour": "%Y-%m-%d-%H"}
_KEY = re.compile(r"^\s*(?:(year|month|day|hour)\s*\(\s*([^()]+?)\s*\)|([^(),]+?))\s*$")
_ESCAPES = [("%", "%25"), ("/", "%2F"), ("\\", "%5C"), ("=", "%3D"), ("\n", "%0A"), (":", "%3A")]


@dataclass(frozen=True)
class PartitionKey:
    """One level of the output layout: a directory name and how to compute its value."""

    name: str  # the directory key, e.g. "day" or "sensor_id"
    column: str  # the source column
    derived: str | None  # year/month/day/hour, or None for the column's own value

    @property
    def drops_column(self) -> bool:
        """Plain column keys live in the path only, as Hive readers expect."""
        return self.derived is None


def parse_partition_by(text: str | None) -> list[PartitionKey]:
    """Parse ``-partition-by``."""
    if not text:
        return []
    keys = []
    for part in _split_top_level(text):
        match = _KEY.match(part)
        if not match:
            raise ConfigError(
                f"-partition-by: cannot read {part!r}; use columns or day(col), month(col),"
                " year(col), hour(col)"
            )
        func, inner, plain = match.groups()
        keys.append(PartitionKey(func, inner, func) if func else PartitionKey(plain, plain, None))
    names = [k.name for k in keys]
    if len(set(names)) != len(names):
        raise ConfigError(f"-partition-by: a key appears twice in {text!r}")
    return keys


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += char == "("
        depth -= char == ")"
        current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def check_keys(keys: list[PartitionKey], schema: pa.Schema) -> None:
    """Every key's column exists and derived keys are on timestamps or dates."""
    for key in keys:
        if key.column not in schema.names:
            raise ConfigError(
                f"-partition-by: no column {key.column!r}; columns: {', '.join(schema.names)}"
            )
        kind = schema.field(key.column).type
        if key.derived and not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
            raise ConfigError(
                f"-partition-by: {key.derived}({key.column}) needs a timestamp or date column,"
                f" {key.column!r} is {kind}"
            )
    for key in keys:
        # The key's name is a directory name as it stands (readers match it to the column).
        if not key.name or key.name.startswith(".") or any(c in key.name for c in "/\\=%"):
            raise ConfigError(
                f"-partition-by: {key.name!r} cannot be a directory name (no '/', '\\', '=',"
                " '%' or leading '.'); rename the column first, e.g. with a transform"
            )
    plain = [k for k in keys if k.drops_column]
    if plain and len(plain) == len(schema):
        raise ConfigError("-partition-by: every column is a partition key; files would be empty")


def escape(values: pa.Array) -> pa.Array:
    """Percent-escape path-unsafe characters of a string array (vectorized)."""
    out = values
    for raw, replacement in _ESCAPES:
        out = pc.replace_substring(out, raw, replacement)
    # A value of "." or ".." or starting with "." must not be a relative directory.
    out = pc.replace_substring_regex(out, r"^\.", "%2E")
    # An empty value stays empty ("key="): pyarrow, DuckDB and Spark read that back as "".
    return pc.fill_null(out, NULL_PARTITION)


def _groups(key: PartitionKey, column: pa.Array) -> tuple[pa.Array, list[str]]:
    """(group index per row, escaped directory value per group) for one key.

    Rows are grouped on cheap values (integer time buckets, the column's own values) and only
    the few distinct groups are formatted and escaped, not every row."""
    if key.derived:
        if pa.types.is_timestamp(column.type) and column.type.tz:
            column = pc.cast(column, pa.timestamp(column.type.unit, "UTC"))
        if pa.types.is_timestamp(column.type):
            column = pc.cast(column, pa.timestamp(column.type.unit))  # UTC wall time
        elif pa.types.is_date(column.type):
            column = pc.cast(column, pa.timestamp("s"))
        column = pc.floor_temporal(column, unit=key.derived)
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    dictionary = encoded.dictionary
    if key.derived:
        text = pc.strftime(dictionary, format=_DERIVED[key.derived])
    else:
        text = pc.cast(dictionary, pa.string())
    return encoded.indices, escape(text).to_pylist()


def split(batch: pa.RecordBatch, keys: list[PartitionKey]) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Cut ``batch`` into (relative directory, rows) groups; plain key columns are dropped."""
    if not keys:
        yield "", batch
        return
    code: pa.Array | None = None
    names: list[list[str]] = []
    for key in keys:
        indices, values = _groups(key, batch.column(batch.schema.get_field_index(key.column)))
        names.append([f"{key.name}={v}" for v in values])
        indices = pc.cast(indices, pa.int64())
        code = indices if code is None else pc.add(pc.multiply(code, len(values)), indices)
    assert code is not None
    dropped = [k.column for k in keys if k.drops_column]
    body = batch.drop_columns(dropped) if dropped else batch

    def path_of(group: int) -> str:
        parts = []
        for level in reversed(names):
            group, index = divmod(group, len(level))
            parts.append(level[index])
        return "/".join(reversed(parts))

    low, high = pc.min_max(code).values()
    if low.as_py() == high.as_py():
        yield path_of(int(low.as_py())), body
        return
    if pc.all(pc.less_equal(code.slice(0, len(code) - 1), code.slice(1))).as_py():
        # Time-ordered data arrives grouped already: slice it, no sort and no copy.
        sorted_code, sorted_body = code, body
    else:
        order = pc.sort_indices(code)
        sorted_code = code.take(order)
        sorted_body = body.take(order)
    runs = pc.run_end_encode(sorted_code)
    start = 0
    for value, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
        yield path_of(int(value)), sorted_body.slice(start, end - start)
        start = end


def decode(value: str) -> str | None:
    """The original value of an escaped directory value."""
    if value == NULL_PARTITION:
        return None
    from urllib.parse import unquote

    return unquote(value)
