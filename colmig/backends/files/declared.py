"""Declared column types for CSV and JSON sources: ``-schema FILE`` and ``-column-type``.

``-schema types.yaml`` holds ``column: type`` lines;
``-column-type "id=int32,amount=decimal(38,10)"``
gives the same inline and wins over the file. Type names are those of the ``cast`` transform
(colmig/transforms/types.py), plus ``timestamp[us, UTC]`` as Arrow prints it. A declared
column is not inferred: its values are parsed as the type, and one that does not fit stops
the run naming file, line, column and value (or is set aside under -on-error skip|reject).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from colmig.errors import ConfigError

_ARROW_FORM = re.compile(
    r"(timestamp|datetime)\s*\[\s*(s|ms|us|ns)\s*(?:,\s*(?:tz\s*=\s*)?([^\]]+))?\]\Z"
)


def arrow_type(text: str) -> pa.DataType | None:
    """The Arrow type a ``cast`` type name stands for, or None when unknown."""
    name = text.strip()
    match = _ARROW_FORM.match(name.lower())
    if match:
        # Arrow's spelling, timestamp[us, UTC]; seconds too, which Arrow's CSV parser gives.
        zone = name[match.start(3) : match.end(3)].strip() if match.group(3) else None
        return pa.timestamp(match.group(2), zone)
    # Polars is imported only when a type is declared (every reader would pay for it).
    import polars as pl

    from colmig.transforms.types import parse_type

    kind = parse_type(name)
    if kind is None:
        return None
    if isinstance(kind, pl.Decimal):
        precision = kind.precision or 38
        if not 1 <= precision <= 38:
            return None
        return pa.decimal128(precision, kind.scale)
    if isinstance(kind, pl.Datetime):
        return pa.timestamp(kind.time_unit, kind.time_zone)
    simple = {
        pl.Int8: pa.int8(),
        pl.Int16: pa.int16(),
        pl.Int32: pa.int32(),
        pl.Int64: pa.int64(),
        pl.UInt8: pa.uint8(),
        pl.UInt16: pa.uint16(),
        pl.UInt32: pa.uint32(),
        pl.UInt64: pa.uint64(),
        pl.Float32: pa.float32(),
        pl.Float64: pa.float64(),
        pl.String: pa.string(),
        pl.Boolean: pa.bool_(),
        pl.Date: pa.date32(),
        pl.Time: pa.time64("us"),
        pl.Binary: pa.binary(),
    }
    for polars_type, arrow in simple.items():
        if kind == polars_type:
            return arrow
    return None


def declared_types(schema_file: str | None, column_types: str | None) -> dict[str, pa.DataType]:
    """Column types from ``-schema`` and ``-column-type`` (the latter wins)."""
    pairs: list[tuple[str, Any, str]] = []
    if schema_file:
        path = Path(schema_file)
        try:
            loaded = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise ConfigError(f"-schema {schema_file}: cannot read: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"-schema {schema_file}: not YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"-schema {schema_file}: expected 'column: type' lines")
        pairs.extend((str(k), v, f"-schema {schema_file}") for k, v in loaded.items())
    for item in _split(column_types or ""):
        name, sep, kind = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"-column-type {item!r}: expected column=type")
        pairs.append((name.strip(), kind, "-column-type"))
    out: dict[str, pa.DataType] = {}
    for name, kind, where in pairs:
        arrow = arrow_type(str(kind)) if isinstance(kind, str) else None
        if arrow is None:
            from colmig.transforms.types import TYPE_NAMES

            raise ConfigError(
                f"{where}: column {name!r}: unknown type {kind!r} (types: {', '.join(TYPE_NAMES)},"
                " timestamp[us, UTC])"
            )
        out[name] = arrow
    return out


def _split(text: str) -> list[str]:
    """Comma-separated items; commas inside parentheses or brackets (decimal(38,10)) stay."""
    items, depth, current = [], 0, ""
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return [item.strip() for item in items if item.strip()]
