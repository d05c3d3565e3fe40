"""Arrow <-> MySQL/MariaDB type mapping and the compatibility check of an existing table.

Column comments carry what MySQL types cannot: ``colmig:utc`` (zoned timestamp stored as
UTC in DATETIME), ``colmig:json`` (MariaDB's JSON is LONGTEXT) and ``colmig:uuid`` (CHAR(36)).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from colmig.errors import TargetError

_TS_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 6}


def mysql_type(field: pa.Field, key: bool = False) -> tuple[str, str]:
    """(column type, comment) created for an Arrow field."""
    t = field.type
    hint = (field.metadata or {}).get(b"colmig.type", b"").decode()
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.json":
            return "JSON", "colmig:json"
        if t.extension_name == "arrow.uuid":
            return "CHAR(36)", "colmig:uuid"
        t = t.storage_type
    if hint in {"json", "jsonb"}:
        return "JSON", "colmig:json"
    if pa.types.is_boolean(t):
        return "BOOLEAN", ""
    if pa.types.is_integer(t):
        name = {8: "TINYINT", 16: "SMALLINT", 32: "INT", 64: "BIGINT"}[t.bit_width]
        return (name + (" UNSIGNED" if pa.types.is_unsigned_integer(t) else "")), ""
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "FLOAT", ""
    if pa.types.is_float64(t):
        return "DOUBLE", ""
    if pa.types.is_decimal(t):
        if t.precision > 65:
            raise TargetError(f"column {field.name}: DECIMAL precision {t.precision} exceeds 65")
        return f"DECIMAL({t.precision},{t.scale})", ""
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return ("VARCHAR(255)" if key else "LONGTEXT"), ""
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return ("VARBINARY(255)" if key else "LONGBLOB"), ""
    if pa.types.is_date(t):
        return "DATE", ""
    if pa.types.is_timestamp(t):
        return f"DATETIME({_TS_DIGITS[t.unit]})", ("colmig:utc" if t.tz else "")
    if pa.types.is_time(t):
        return "TIME(6)", ""
    raise TargetError(
        f"column {field.name}: Arrow type {field.type} has no MySQL mapping; cast it in a"
        " transform (a duration to int64 of its unit, a list or struct to JSON text)",
        column=field.name,
    )


def arrow_type(data_type: str, column_type: str, comment: str) -> pa.DataType | None:
    """The Arrow type a MySQL column stands for (None: keep what the driver gives)."""
    d, c = data_type.lower(), column_type.lower()
    if "colmig:json" in comment or d == "json":
        return pa.json_()
    if "colmig:uuid" in comment or d == "uuid":
        return pa.uuid()
    if d in {"datetime", "timestamp"}:
        digits = int(c.split("(")[1].rstrip(")")) if "(" in c else 0
        unit = "s" if digits == 0 else "ms" if digits <= 3 else "us"
        zoned = "colmig:utc" in comment or d == "timestamp"
        return pa.timestamp(unit, tz="UTC" if zoned else None)
    if c.startswith("tinyint(1)") or d in {"bool", "boolean"}:
        return pa.bool_()
    if d == "decimal":
        precision, _, scale = c.split("(")[1].split(")")[0].partition(",")
        maker = pa.decimal128 if int(precision) <= 38 else pa.decimal256
        return maker(int(precision), int(scale or 0))
    unsigned = "unsigned" in c
    ints = {"tinyint": 8, "smallint": 16, "mediumint": 32, "int": 32, "bigint": 64}
    if d in ints:
        width = ints[d]
        return getattr(pa, f"{'u' if unsigned else ''}int{width}")()
    if d == "float":
        return pa.float32()
    if d in {"double", "real"}:
        return pa.float64()
    if d in {"char", "varchar", "text", "tinytext", "mediumtext", "longtext", "enum", "set"}:
        return pa.string()
    if d in {"binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob"}:
        return pa.binary()
    if d == "date":
        return pa.date32()
    if d == "time":
        return pa.time64("us")
    return None


def _family(t: pa.DataType | None) -> str:
    if t is None:
        return "?"
    if isinstance(t, pa.BaseExtensionType):
        return t.extension_name
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_timestamp(t):
        return f"timestamp{'tz' if t.tz else ''}"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_time(t):
        # time32[s] and TIME(6) are one family: the load refuses digits the column cannot hold.
        return "time"
    if pa.types.is_date(t):
        return "date"
    return str(t)


_ACCEPTS = {
    "int": {"int", "decimal", "float"},
    "float": {"float", "decimal"},
    "string": {"string", "arrow.json", "arrow.uuid"},
    "arrow.json": {"arrow.json", "string"},
    "arrow.uuid": {"arrow.uuid", "string"},
    "date": {"date", "timestamp"},
    # A zoned source into a DATETIME a migration created: stored as UTC wall time.
    "timestamptz": {"timestamp"},
}


def check_compatible(schema: pa.Schema, columns: list[tuple[Any, ...]], table: str) -> pa.Schema:
    """Check ``schema`` against ``(name, data_type, column_type, nullable, has_default,
    comment)`` rows of an existing table; raise TargetError listing every mismatch."""
    by_name = {str(r[0]): r for r in columns}
    problems = []
    for field in schema:
        row = by_name.get(field.name)
        if row is None:
            problems.append(f"  {field.name}: missing in the target table")
            continue
        have = _family(arrow_type(str(row[1]), str(row[2]), str(row[5] or "")))
        want = _family(field.type)
        if have != want and have not in _ACCEPTS.get(want, set()) and have != "?":
            problems.append(
                f"  {field.name}: source {field.type} needs {mysql_type(field)[0]}, target has "
                f"{row[2]}"
            )
    problems.extend(
        f"  {row[0]}: NOT NULL without default in the target, absent from the source"
        for row in columns
        if str(row[0]) not in schema.names and not row[3] and not row[4]
    )
    if problems:
        raise TargetError(
            f"table {table} is incompatible with the data:\n" + "\n".join(problems), table=table
        )
    return schema


def create_table_sql(
    table: str, schema: pa.Schema, keys: list[str], quote: Callable[[str], str]
) -> str:
    """CREATE TABLE (InnoDB, utf8mb4) for ``schema``."""
    cols = []
    for field in schema:
        sql_type, comment = mysql_type(field, key=field.name in keys)
        null = "" if field.nullable and field.name not in keys else " NOT NULL"
        note = f" COMMENT '{comment}'" if comment else ""
        cols.append(f"{quote(field.name)} {sql_type}{null}{note}")
    if keys:
        cols.append(f"PRIMARY KEY ({', '.join(quote(k) for k in keys)})")
    return (
        f"CREATE TABLE {quote(table)} ({', '.join(cols)}) ENGINE=InnoDB"
        " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    )
