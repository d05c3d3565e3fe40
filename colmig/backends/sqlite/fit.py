"""Arrow columns to what SQLite stores exactly, or a refusal naming column, row and value.

SQLite keeps REAL values that have no fraction as integers on disk, so -0.0 reads back as 0.0,
and it stores NaN as NULL; its INTEGER is signed 64-bit. Those values are refused with the
nearest exact alternative instead of changing. Decimals go in as exact text (the declared type
has TEXT affinity, see writer.sqlite_type), times as ISO text at their own precision.

When the table exists (a migration created it), its declared types win: a zoned timestamp
goes into a plain TIMESTAMP/DATETIME column as UTC wall time, an integer into REAL only when
it is exact in a double.
"""

from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.compute as pc

from colmig.backends.target_fit import (
    Position,
    any_true,
    int_range,
    negative_zero,
    refuse,
    refuse_nan,
)

_INT64_MAX = 2**63 - 1


def affinity(declared: str) -> str:
    """SQLite's column affinity of a declared type (https://sqlite.org/datatype3.html 3.1)."""
    d = declared.upper()
    if "INT" in d:
        return "INTEGER"
    if any(word in d for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in d or not d:
        return "BLOB"
    if any(word in d for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def _fifteen_digits(text: pa.Array, name: str, declared: str, where: Position) -> None:
    """SQLite keeps a number's text in a NUMERIC/REAL column as a double: exact up to 15
    significant digits only."""
    digits = pc.replace_substring_regex(text, r"[-.]", "")
    significant = pc.utf8_rtrim(pc.utf8_ltrim(digits, "0"), "0")
    long = pc.greater(pc.utf8_length(significant), 15)
    if any_true(long):
        raise refuse(
            where,
            name,
            text,
            long,
            f"has more than 15 significant digits, and the target column's type {declared}"
            " makes SQLite store it as a double; declare the column TEXT (colmig creates"
            " DECIMAL_TEXT(p,s)) to keep decimals exact",
        )


def to_storage(column: pa.Array, name: str, declared: str, where: Position) -> pa.Array:
    """``column`` as ADBC SQLite ingests it into a column declared ``declared``."""
    t = column.type
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.uuid":
            raw = column.storage.to_pylist()
            return pa.array(
                [None if v is None else str(uuid.UUID(bytes=v)) for v in raw], pa.string()
            )
        return column.storage
    if pa.types.is_floating(t):
        if pa.types.is_float16(t):
            column = column.cast(pa.float32())  # exact; compute kernels lack half floats
        refuse_nan(column, name, where, "SQLite")
        negative = negative_zero(column)
        if any_true(negative):
            raise refuse(
                where,
                name,
                column,
                negative,
                "is negative zero, which SQLite stores as 0.0; cast the column to string to"
                " keep it as text, or map it to 0.0 with a transform",
            )
        return column.cast(pa.float64())
    if pa.types.is_integer(t):
        if t == pa.uint64():
            hint = "; cast the column to decimal(20,0) (stored as exact text) or to string"
            int_range(column, 0, _INT64_MAX, name, where, "INTEGER (signed 64-bit)", hint)
            column = column.cast(pa.int64())
        if affinity(declared) == "REAL":
            int_range(column, -(2**53), 2**53, name, where, f"{declared} (a double)")
        return column
    if pa.types.is_decimal(t):
        text = column.cast(pa.string())
        if affinity(declared) in ("NUMERIC", "REAL", "INTEGER") and declared:
            _fifteen_digits(text, name, declared, where)
        return text
    if pa.types.is_time(t):
        unit = "ns" if t == pa.time64("ns") else "us"
        return column.cast(pa.time64(unit)).cast(pa.string())
    d = declared.upper().replace(" ", "")
    if pa.types.is_timestamp(t) and t.tz and d and "TZ" not in d and "WITHTIMEZONE" not in d:
        # A plain TIMESTAMP/DATETIME column holds UTC wall time (documented).
        return column.cast(pa.int64()).cast(pa.timestamp(t.unit))
    return column


def storage_batch(
    batch: pa.RecordBatch, declared: dict[str, str], where: Position
) -> pa.RecordBatch:
    arrays = [
        to_storage(column, field.name, declared.get(field.name, ""), where)
        for field, column in zip(batch.schema, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
