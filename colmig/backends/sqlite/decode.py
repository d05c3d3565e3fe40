"""SQLite values as ADBC returns them (text, integers, doubles) back to the Arrow types the
declared column types stand for, exactly: times from ISO text, decimals from their exact text.
Used by the reader and by the writer's ``-validate`` statistics."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from colmig.backends.sql_common import conform


def _time(column: pa.Array, to: pa.DataType) -> pa.Array:
    """'HH:MM:SS[.fffffffff]' text to ``to`` (time32/time64), via an ISO timestamp of day 0."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column.cast(to)
    stamped = pc.binary_join_element_wise(pa.scalar("1970-01-01T"), column, pa.scalar(""))
    since_midnight = stamped.cast(pa.timestamp("ns")).cast(pa.int64())
    return since_midnight.cast(pa.time64("ns")).cast(to)


def decode(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` (same column names as ``schema``) converted to ``schema``'s types."""
    arrays = []
    for field in schema:
        column = batch.column(batch.schema.get_field_index(field.name))
        if pa.types.is_time(field.type) and not pa.types.is_time(column.type):
            column = _time(column, field.type)
        arrays.append(column)
    names = [f.name for f in schema]
    fixed = pa.RecordBatch.from_arrays(arrays, names=names)
    return conform(fixed, schema)
