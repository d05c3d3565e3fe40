"""Type names accepted by ``cast:TYPE`` and their Polars types."""

from __future__ import annotations

import re

import polars as pl

_SIMPLE: dict[str, pl.DataType] = {
    "int8": pl.Int8(),
    "tinyint": pl.Int8(),
    "int16": pl.Int16(),
    "smallint": pl.Int16(),
    "int32": pl.Int32(),
    "int": pl.Int64(),
    "integer": pl.Int64(),
    "int64": pl.Int64(),
    "bigint": pl.Int64(),
    "uint8": pl.UInt8(),
    "uint16": pl.UInt16(),
    "uint32": pl.UInt32(),
    "uint64": pl.UInt64(),
    "float32": pl.Float32(),
    "real": pl.Float32(),
    "float": pl.Float64(),
    "float64": pl.Float64(),
    "double": pl.Float64(),
    "string": pl.String(),
    "str": pl.String(),
    "text": pl.String(),
    "varchar": pl.String(),
    "utf8": pl.String(),
    "bool": pl.Boolean(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "time": pl.Time(),
    "timestamp": pl.Datetime("us"),
    "datetime": pl.Datetime("us"),
    "timestamptz": pl.Datetime("us", "UTC"),
    "binary": pl.Binary(),
    "bytes": pl.Binary(),
}

TYPE_NAMES = [*sorted(_SIMPLE), "decimal(P,S)", "timestamp(TZ)", "timestamp[ms|us|ns](TZ)"]

_DECIMAL = re.compile(r"(?:decimal|numeric)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)\Z")
_TIMESTAMP = re.compile(
    r"(?:timestamp|datetime)\s*(?:\[\s*(ms|us|ns)\s*\])?\s*(?:\(\s*([^)]+?)\s*\))?\Z"
)


def parse_type(text: str) -> pl.DataType | None:
    """The Polars type named by ``text`` (case-insensitive), or None when unknown."""
    name = text.strip()
    lowered = name.lower()
    if lowered in _SIMPLE:
        return _SIMPLE[lowered]
    match = _DECIMAL.match(lowered)
    if match:
        return pl.Decimal(int(match.group(1)), int(match.group(2) or 0))
    match = _TIMESTAMP.match(name) or _TIMESTAMP.match(lowered)
    if match and (match.group(1) or match.group(2)):
        unit = (match.group(1) or "us").lower()
        return pl.Datetime(unit, match.group(2))  # type: ignore[arg-type]
    return None
