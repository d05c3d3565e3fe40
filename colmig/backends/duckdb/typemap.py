"""Arrow <-> DuckDB type mapping, the compatibility check of an existing table, checksum SQL.

DuckDB ingests Arrow natively, so the load schema is the data's own schema (made ingestible:
decimal256 -> decimal128, float16 -> float32, extension storage) and the ``INSERT ... SELECT``
casts to the column types. HUGEINT/UHUGEINT have no Arrow type: they read as decimal128(38, 0)
tagged with ``colmig.type`` so a DuckDB target recreates them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from colmig.backends.sql_common import SPLIT_SUM, SQL_TYPE_KEY, quote_name
from colmig.backends.sql_convert import convertible
from colmig.errors import TargetError

#: Field metadata key a source may set to force a SQL type family (shared with PostgreSQL).
COLMIG_TYPE = b"colmig.type"

_INTS = {
    "TINYINT": (-(2**7), 2**7 - 1),
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
    "HUGEINT": (-(2**127), 2**127 - 1),
    "UTINYINT": (0, 2**8 - 1),
    "USMALLINT": (0, 2**16 - 1),
    "UINTEGER": (0, 2**32 - 1),
    "UBIGINT": (0, 2**64 - 1),
    "UHUGEINT": (0, 2**128 - 1),
}
_ARROW_INTS = {
    (True, 8): "TINYINT",
    (True, 16): "SMALLINT",
    (True, 32): "INTEGER",
    (True, 64): "BIGINT",
    (False, 8): "UTINYINT",
    (False, 16): "USMALLINT",
    (False, 32): "UINTEGER",
    (False, 64): "UBIGINT",
}
_NAIVE_TS = {"s": "TIMESTAMP_S", "ms": "TIMESTAMP_MS", "us": "TIMESTAMP", "ns": "TIMESTAMP_NS"}


@dataclass(frozen=True)
class DuckColumn:
    name: str
    type_name: str  # duckdb_columns().data_type: "DECIMAL(12,3)", "TIMESTAMP WITH TIME ZONE"
    nullable: bool
    has_default: bool


def _hint(field: pa.Field) -> str:
    return (field.metadata or {}).get(COLMIG_TYPE, b"").decode()


def duckdb_type(field: pa.Field) -> str:
    """The DuckDB column type created for an Arrow field."""
    return _type_of(field.type, _hint(field), field.name)


def _type_of(t: pa.DataType, hint: str, name: str) -> str:
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.json":
            return "JSON"
        if t.extension_name == "arrow.uuid":
            return "UUID"
        if t.extension_name == "arrow.bool8":
            return "BOOLEAN"
        t = t.storage_type
    if pa.types.is_dictionary(t):
        t = t.value_type
    is_text = pa.types.is_string(t) or pa.types.is_large_string(t) or _is_string_view(t)
    if is_text and hint in {"json", "jsonb"}:
        return "JSON"
    if is_text and hint == "uuid":
        return "UUID"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return _ARROW_INTS[(pa.types.is_signed_integer(t), t.bit_width)]
    if pa.types.is_floating(t):
        return "DOUBLE" if t.bit_width == 64 else "FLOAT"
    if pa.types.is_decimal(t):
        if hint in {"hugeint", "uhugeint"} and t.scale == 0:
            return hint.upper()
        if t.precision > 38:
            raise TargetError(
                f"column {name}: {t} has more digits than DuckDB's DECIMAL(38) holds "
                "(cast it to a string or a narrower decimal in a transform)"
            )
        return f"DECIMAL({t.precision},{t.scale})"
    if is_text or pa.types.is_null(t):
        return "VARCHAR"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "BLOB"
    if getattr(pa.types, "is_binary_view", lambda _t: False)(t):
        return "BLOB"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        if t.tz:
            return "TIMESTAMPTZ_NS" if t.unit == "ns" else "TIMESTAMPTZ"
        return _NAIVE_TS[t.unit]
    if pa.types.is_time(t):
        return "TIME_NS" if t.unit == "ns" else "TIME"
    if pa.types.is_duration(t) or pa.types.is_interval(t):
        return "INTERVAL"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"{_type_of(t.value_type, '', name)}[]"
    if pa.types.is_fixed_size_list(t):
        return f"{_type_of(t.value_type, '', name)}[{t.list_size}]"
    if pa.types.is_map(t):
        return f"MAP({_type_of(t.key_type, '', name)}, {_type_of(t.item_type, '', name)})"
    if pa.types.is_struct(t):
        inner = ", ".join(
            f'"{t.field(i).name.replace(chr(34), chr(34) * 2)}" '
            f"{_type_of(t.field(i).type, _hint(t.field(i)), name)}"
            for i in range(t.num_fields)
        )
        return f"STRUCT({inner})"
    raise TargetError(
        f"column {name}: Arrow type {t} has no DuckDB mapping (cast it in a transform)"
    )


def _is_string_view(t: pa.DataType) -> bool:
    return bool(getattr(pa.types, "is_string_view", lambda _t: False)(t))


def ingestible(field: pa.Field) -> pa.Field:
    """The field as DuckDB's Arrow scan accepts it (same values, possibly another Arrow type)."""
    t = field.type
    if isinstance(t, pa.BaseExtensionType) and t.extension_name not in {"arrow.json", "arrow.uuid"}:
        t = pa.bool_() if t.extension_name == "arrow.bool8" else t.storage_type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_decimal(t) and t.bit_width == 256:
        t = pa.decimal128(min(t.precision, 38), t.scale)
    elif pa.types.is_float16(t):
        t = pa.float32()
    elif pa.types.is_date64(t):
        t = pa.date32()
    return pa.field(field.name, t, field.nullable, field.metadata)


def create_table_sql(
    table: str, schema: pa.Schema, keys: list[str], quote: Callable[[str], str]
) -> str:
    """CREATE TABLE for ``schema``; ``keys`` become the primary key (upsert)."""
    cols = [
        f"{quote_name(f.name)} {duckdb_type(f)}"
        + ("" if f.nullable and f.name not in keys else " NOT NULL")
        for f in schema
    ]
    if keys:
        cols.append(f"PRIMARY KEY ({', '.join(quote_name(k) for k in keys)})")
    return f"CREATE TABLE {quote(table)} ({', '.join(cols)})"


# --- compatibility ------------------------------------------------------------------------------


def family(type_name: str) -> str:
    """The family of a DuckDB type name: int, decimal, float, text, timestamptz, ..."""
    t = type_name.upper().strip()
    if t.endswith("]"):
        return "nested:" + re.sub(r'[\s"]+', "", t)
    base = t.split("(")[0].strip()
    if base in _INTS:
        return "int"
    if base in {"DECIMAL", "NUMERIC"}:
        return "decimal"
    if base in {"FLOAT", "DOUBLE", "REAL"}:
        return "float"
    if base in {"VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR"}:
        return "text"
    if base in {"BLOB", "BYTEA", "VARBINARY"}:
        return "blob"
    if base.startswith("TIMESTAMPTZ") or "WITH TIME ZONE" in t:
        return "timestamptz"
    if base.startswith("TIMESTAMP") or base == "DATETIME":
        return "timestamp"
    if base.startswith("TIME"):
        return "time"
    if base in {"STRUCT", "MAP", "UNION"}:
        return "nested:" + re.sub(r'[\s"]+', "", t)
    return {"BOOLEAN": "bool", "DATE": "date", "JSON": "json", "UUID": "uuid"}.get(
        base, base.lower()
    )


_ACCEPTS = {
    "int": {"int", "decimal", "float"},
    "decimal": {"decimal"},
    "float": {"float"},
    "bool": {"bool"},
    "text": {"text", "json", "uuid"},
    "blob": {"blob"},
    "date": {"date", "timestamp", "timestamptz"},
    "timestamp": {"timestamp"},
    "timestamptz": {"timestamptz"},
    "time": {"time"},
    "json": {"json", "text"},
    "uuid": {"uuid", "text"},
    "interval": {"interval"},
}


def _decimal_digits(type_name: str) -> tuple[int, int]:
    match = re.search(r"\((\d+)\s*,\s*(\d+)\)", type_name)
    return (int(match.group(1)), int(match.group(2))) if match else (18, 3)


def _fits(wanted: str, have: str) -> bool:
    """Whether every value of DuckDB type ``wanted`` fits a column of type ``have``."""
    source, target = family(wanted), family(have)
    if target not in _ACCEPTS.get(source, {source}):
        return False
    w, h = wanted.split("(")[0].upper(), have.split("(")[0].upper()
    if source == "int" and target == "int":
        (wlo, whi), (hlo, hhi) = _INTS[w], _INTS[h]
        return hlo <= wlo and whi <= hhi
    if source == "int" and target == "decimal":
        precision, scale = _decimal_digits(have)
        return len(str(max(abs(v) for v in _INTS[w]))) <= precision - scale
    if source == "decimal" and target == "decimal":
        (wp, ws), (hp, hs) = _decimal_digits(wanted), _decimal_digits(have)
        return ws <= hs and wp - ws <= hp - hs
    return True


_SCALAR_ARROW = {
    "TINYINT": pa.int8(),
    "SMALLINT": pa.int16(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "UTINYINT": pa.uint8(),
    "USMALLINT": pa.uint16(),
    "UINTEGER": pa.uint32(),
    "UBIGINT": pa.uint64(),
    "FLOAT": pa.float32(),
    "REAL": pa.float32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP_S": pa.timestamp("s"),
    "TIMESTAMP_MS": pa.timestamp("ms"),
    "TIMESTAMP": pa.timestamp("us"),
    "DATETIME": pa.timestamp("us"),
    "TIMESTAMP_NS": pa.timestamp("ns"),
    "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC"),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "TIME": pa.time64("us"),
    "TIME_NS": pa.time64("ns"),
    # Microseconds: a duration with sub-microsecond digits is refused, never truncated.
    "INTERVAL": pa.month_day_nano_interval(),
}


def target_arrow_type(type_name: str) -> pa.DataType | None:
    """The Arrow type holding exactly the values of a DuckDB column type (scalars only)."""
    t = type_name.upper().strip()
    if t in _SCALAR_ARROW:
        return _SCALAR_ARROW[t]
    if t.startswith(("DECIMAL", "NUMERIC")):
        precision, scale = _decimal_digits(t)
        return pa.decimal128(precision, scale)
    return None


def check_compatible(schema: pa.Schema, columns: list[DuckColumn], table: str) -> pa.Schema:
    """Check ``schema`` against an existing table; return the schema to load with.

    The target's schema wins: a scalar column loads with the Arrow type of the target
    column, and every value is converted exactly at load time (colmig.backends.sql_convert)
    or the partition stops naming it. Other columns (text, JSON, nested) load as they are
    and DuckDB casts them. Raises TargetError listing every incompatible column.
    """
    by_name = {c.name: c for c in columns}
    problems: list[str] = []
    fields: list[pa.Field] = []
    for field in schema:
        column = by_name.get(field.name)
        if column is None:
            problems.append(f"  {field.name}: missing in the target table")
            continue
        target = target_arrow_type(column.type_name)
        source = ingestible(field)
        if target is not None and convertible(source.type, target):
            meta = {SQL_TYPE_KEY: column.type_name.encode()}
            fields.append(pa.field(field.name, target, True, meta))
            continue
        try:
            wanted = duckdb_type(field)
        except TargetError as exc:
            problems.append(f"  {field.name}: {exc}")
            continue
        if not _fits(wanted, column.type_name):
            problems.append(
                f"  {field.name}: source {field.type} has no exact conversion to the target's"
                f" {column.type_name}"
            )
            continue
        fields.append(source)
    problems.extend(
        f"  {c.name}: NOT NULL without default in the target, absent from the source"
        for c in columns
        if c.name not in schema.names and not c.nullable and not c.has_default
    )
    if problems:
        raise TargetError(
            f"table {table} is incompatible with the data:\n" + "\n".join(problems), table=table
        )
    return pa.schema(fields)


def load_schema(schema: pa.Schema) -> pa.Schema:
    """The Arrow schema batches are conformed to before DuckDB scans them."""
    return pa.schema([ingestible(f) for f in schema])


# --- reading ------------------------------------------------------------------------------------


def read_expression(column: str, type_name: str) -> str | None:
    """A SQL expression that turns a DuckDB column into a faithful Arrow type, or None for as is.

    HUGEINT/UHUGEINT would come out as an opaque extension (or silently wrapped without
    lossless conversion): cast to DECIMAL(38,0), which raises on a value out of range.
    """
    base = type_name.upper().split("(")[0].strip()
    if base in {"HUGEINT", "UHUGEINT"}:
        return f"CAST({column} AS DECIMAL(38,0))"
    if base in {"TIME WITH TIME ZONE", "TIMETZ", "BIT", "BITSTRING", "VARINT", "BIGNUM"}:
        return f"CAST({column} AS VARCHAR)"
    return None


def arrow_field(field: pa.Field, type_name: str) -> pa.Field:
    """The Arrow field colmig reports for a DuckDB column streamed as ``field``."""
    t = field.type
    base = type_name.upper().split("(")[0].strip()
    meta = None
    if isinstance(t, pa.BaseExtensionType) and t.extension_name == "arrow.bool8":
        t = pa.bool_()
    elif isinstance(t, pa.BaseExtensionType) and t.extension_name not in {
        "arrow.json",
        "arrow.uuid",
    }:
        t = t.storage_type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if base in {"HUGEINT", "UHUGEINT"}:
        meta = {COLMIG_TYPE: base.lower().encode()}
    if pa.types.is_null(t):
        t = pa.string()
    return pa.field(field.name, t, True, meta)


# --- validation ---------------------------------------------------------------------------------


def checksum_expr(col: str, kind: str, arrow_type: pa.DataType | None = None) -> str:
    """DuckDB aggregate of the canonical checksum of one column (see pg_checksum_expr)."""
    if kind == "timestamp" and _is_ns(arrow_type):
        # The canonical sum casts ns to us truncating toward zero (Arrow's cast), as DuckDB's
        # integer // does; epoch_us would floor. ns values always fit epoch_ns.
        return f"CAST(SUM(epoch_ns({col}) // 1000) AS VARCHAR)"
    if kind == "exact" and _is_wide_decimal(arrow_type):
        # SUM of DECIMAL(38, s) overflows HUGEINT past 38 digits: sum the unscaled value's
        # high and low 19 digits apart; stats_from_row recombines them exactly.
        unscaled = f"CAST(replace(CAST({col} AS VARCHAR), '.', '') AS HUGEINT)"
        step = "CAST('10000000000000000000' AS HUGEINT)"
        high = f"CAST(SUM({unscaled} // {step}) AS VARCHAR)"
        low = f"CAST(SUM({unscaled} % {step}) AS VARCHAR)"
        return f"'{SPLIT_SUM}' || {high} || ':' || {low} || ':{arrow_type.scale}'"  # type: ignore[union-attr]
    if kind == "exact":
        return f"CAST(SUM({col}) AS VARCHAR)"
    if kind == "bool":
        return f"CAST(SUM(CASE WHEN {col} THEN 1 ELSE 0 END) AS VARCHAR)"
    if kind == "float":
        return f"CAST(SUM({col}) AS DOUBLE)"
    if kind == "timestamp":
        return f"CAST(SUM(epoch_us({col})) AS VARCHAR)"
    if kind == "date":
        return f"CAST(SUM(epoch_us(CAST({col} AS TIMESTAMP))) AS VARCHAR)"
    if kind == "time":
        return f"CAST(SUM(epoch_us({col})) AS VARCHAR)"
    if kind in ("hash", "hash_bytes"):
        text = f"CAST({col} AS {'BLOB' if kind == 'hash_bytes' else 'VARCHAR'})"
        digits = f"CAST('0x' || substr(md5({text}), 1, 15) AS BIGINT)"
        return f"CAST(SUM({digits}) AS VARCHAR)"
    return "NULL"


def _is_wide_decimal(t: pa.DataType | None) -> bool:
    return t is not None and pa.types.is_decimal(t) and t.precision > 18


def _is_ns(t: pa.DataType | None) -> bool:
    return t is not None and pa.types.is_timestamp(t) and t.unit == "ns"
