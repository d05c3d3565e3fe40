"""Arrow <-> PostgreSQL type mapping, and the compatibility check of an existing table."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from colmig.backends.sql_common import SQL_TYPE_KEY, quote_name
from colmig.backends.sql_convert import DIGITS_KEY, NO_NUL_KEY, convertible
from colmig.errors import TargetError

#: Field metadata key a source may set to force a SQL type family (json, jsonb, uuid, numeric).
COLMIG_TYPE = b"colmig.type"


@dataclass(frozen=True)
class PgColumn:
    name: str
    type_name: str  # format_type(): "timestamp(3) with time zone", "numeric(12,3)", "jsonb"
    nullable: bool
    has_default: bool


def _hint(field: pa.Field) -> str | None:
    meta = field.metadata or {}
    value = meta.get(COLMIG_TYPE)
    return value.decode() if value else None


def _ts_precision(unit: str) -> int:
    return {"s": 0, "ms": 3, "us": 6, "ns": 6}[unit]


def pg_type(field: pa.Field) -> str:
    """The PostgreSQL column type created for an Arrow field."""
    t = field.type
    hint = _hint(field)
    if hint in {"json", "jsonb", "uuid", "numeric"} and (
        pa.types.is_string(t) or pa.types.is_large_string(t)
    ):
        return hint
    if isinstance(t, pa.BaseExtensionType):
        name = t.extension_name
        if name == "arrow.json":
            return "jsonb" if hint == "jsonb" else "json"
        if name == "arrow.uuid":
            return "uuid"
        t = t.storage_type
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "integer"
    if pa.types.is_int64(t) or pa.types.is_uint32(t):
        return "bigint"
    if pa.types.is_uint64(t):
        return "numeric(20,0)"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "real"
    if pa.types.is_float64(t):
        return "double precision"
    if pa.types.is_decimal(t):
        return f"numeric({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or _is_string_view(t):
        return "text"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "bytea"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        precision = _ts_precision(t.unit)
        zone = " with time zone" if t.tz else ""
        return f"timestamp({precision}){zone}"
    if pa.types.is_time(t):
        return f"time({_ts_precision(t.unit)})"
    if pa.types.is_duration(t) or pa.types.is_interval(t):
        return "interval"
    if pa.types.is_null(t):
        return "text"
    raise TargetError(
        f"column {field.name}: Arrow type {field.type} has no PostgreSQL mapping "
        "(cast it to a string or JSON in a transform)"
    )


def _is_string_view(t: pa.DataType) -> bool:
    return bool(getattr(pa.types, "is_string_view", lambda _t: False)(t))


def wire_type(type_name: str) -> pa.DataType:
    """The Arrow type ADBC's binary COPY needs to write into a column of ``type_name``."""
    base = type_name.split("(")[0].strip()
    if base in {"smallint"}:
        return pa.int16()
    if base in {"integer"}:
        return pa.int32()
    if base in {"bigint"}:
        return pa.int64()
    if base == "real":
        return pa.float32()
    if base == "double precision":
        return pa.float64()
    if base == "numeric":
        if "(" in type_name:
            precision, _, scale = type_name.split("(")[1].rstrip(")").partition(",")
            digits, places = int(precision), int(scale or 0)
            if digits > 38:
                return pa.decimal256(digits, places)
            return pa.decimal128(digits, places)
        return pa.decimal128(38, 10)
    if base == "boolean":
        return pa.bool_()
    if base in {"text", "character varying", "character", "name", "citext"}:
        return pa.string()
    if base == "bytea":
        return pa.binary()
    if base == "date":
        return pa.date32()
    if base.startswith("timestamp"):
        return pa.timestamp("us", tz="UTC" if "with time zone" in type_name else None)
    if base.startswith("time"):
        return pa.time64("us")
    if base in {"json", "jsonb"}:
        return pa.json_()
    if base == "uuid":
        return pa.uuid()
    if base == "interval":
        return pa.month_day_nano_interval()
    raise TargetError(f"colmig cannot load into PostgreSQL columns of type {type_name}")


def _family(type_name: str) -> str:
    base = type_name.split("(")[0].strip()
    if base.startswith("timestamp"):
        return "timestamptz" if "with time zone" in type_name else "timestamp"
    if base.startswith("time"):
        return "time"
    return {
        "smallint": "int",
        "integer": "int",
        "bigint": "int",
        "numeric": "numeric",
        "real": "float",
        "double precision": "float",
        "boolean": "bool",
        "text": "text",
        "character varying": "text",
        "character": "text",
        "citext": "text",
        "bytea": "bytes",
        "date": "date",
        "json": "json",
        "jsonb": "json",
        "uuid": "uuid",
        "interval": "interval",
    }.get(base, base)


#: Which target families accept a source family.
_ACCEPTS = {
    "int": {"int", "numeric", "float"},
    "numeric": {"numeric"},
    "float": {"float", "numeric"},
    "bool": {"bool"},
    "text": {"text", "json", "uuid", "numeric"},
    "bytes": {"bytes"},
    "date": {"date", "timestamp", "timestamptz"},
    "timestamp": {"timestamp"},
    "timestamptz": {"timestamptz"},
    "time": {"time"},
    "json": {"json", "text"},
    "uuid": {"uuid", "text"},
    "interval": {"interval"},
}


def check_compatible(schema: pa.Schema, columns: list[PgColumn], table: str) -> pa.Schema:
    """Check ``schema`` against an existing table; return the Arrow schema to load with.

    The target's schema wins: the load schema has the target columns' types, and each value
    is converted exactly at load time (colmig.backends.sql_convert) or the partition stops
    naming it. Only a source type with no exact conversion at all is refused here. Raises
    TargetError listing every incompatible column.
    """
    by_name = {c.name: c for c in columns}
    problems: list[str] = []
    load_fields: list[pa.Field] = []
    for field in schema:
        column = by_name.get(field.name)
        if column is None:
            problems.append(f"  {field.name}: missing in the target table")
            continue
        wanted = pg_type(field) if _mappable(field) else "?"
        source, target = _family(wanted), _family(column.type_name)
        try:
            wire = _wire_for(field.type, column.type_name)
        except TargetError as exc:
            problems.append(f"  {field.name}: {exc}")
            continue
        ok = target in _ACCEPTS.get(source, {source}) or convertible(field.type, wire)
        if not ok:
            problems.append(
                f"  {field.name}: source {field.type} has no exact conversion to the target's"
                f" {column.type_name}"
            )
            continue
        load_fields.append(_load_field(field.name, wire, column.type_name))
    problems.extend(
        f"  {column.name}: NOT NULL without default in the target, absent from the source"
        for column in columns
        if column.name not in schema.names and not column.nullable and not column.has_default
    )
    if problems:
        raise TargetError(
            f"table {table} is incompatible with the data:\n" + "\n".join(problems), table=table
        )
    return pa.schema(load_fields)


def _wire_for(source: pa.DataType, type_name: str) -> pa.DataType:
    """The wire type for loading ``source`` values into a column of ``type_name``."""
    wire = wire_type(type_name)
    if type_name.strip() == "numeric":
        # Unconstrained numeric holds any decimal exactly: keep the source's digits.
        if pa.types.is_decimal(source):
            return source
        if pa.types.is_integer(source):
            return pa.decimal128(38, 0)
    return wire


def _load_field(name: str, wire: pa.DataType, type_name: str) -> pa.Field:
    meta = {SQL_TYPE_KEY: type_name.encode()}
    match = re.match(r"^(timestamp|time)\((\d)\)", type_name)
    if match and int(match.group(2)) < 6:
        # PostgreSQL rounds to the column's precision: check the digits instead.
        meta[DIGITS_KEY] = match.group(2).encode()
    if pa.types.is_string(wire):
        meta[NO_NUL_KEY] = b"1"  # PostgreSQL text cannot hold NUL
    return pa.field(name, wire, metadata=meta)


def _mappable(field: pa.Field) -> bool:
    try:
        pg_type(field)
    except TargetError:
        return False
    return True


def create_table_sql(table: str, schema: pa.Schema, quote: object) -> str:
    """CREATE TABLE for ``schema`` (columns nullable unless the Arrow field says not null)."""
    q = quote  # type: ignore[assignment]
    cols = ", ".join(
        f"{quote_name(f.name)} {pg_type(f)}{'' if f.nullable else ' NOT NULL'}" for f in schema
    )
    return f"CREATE TABLE {q(table)} ({cols})"  # type: ignore[operator]


def load_schema(schema: pa.Schema) -> pa.Schema:
    """The Arrow schema to load a table created by :func:`create_table_sql` with."""
    fields = []
    for f in schema:
        name = pg_type(f)
        fields.append(_load_field(f.name, _wire_for(f.type, name), name))
    return pa.schema(fields)
