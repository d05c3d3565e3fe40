"""Which column types each target file format can store, found by trying, before any data is
written: a type the format's writer refuses (a nested column in CSV, an empty struct or an
interval in Parquet) failed deep inside a partition, after other partitions were committed,
and Polars (JSON Lines) does not raise but panics."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from colmig.errors import TargetError

FORMATS = ("parquet", "csv", "jsonl", "arrow")


def panic_types() -> tuple[type[BaseException], ...]:
    """Polars' PanicException (a BaseException), when Polars is installed."""
    try:
        from polars.exceptions import PanicException

        return (PanicException,)
    except ImportError:
        return ()


def write_sample(fmt: str, table: pa.Table, sink: Any) -> None:
    """Write ``table`` as ``fmt`` to ``sink`` the way the files writer does."""
    if fmt == "parquet":
        writer: Any = pq.ParquetWriter(sink, table.schema)
    elif fmt == "csv":
        writer = pacsv.CSVWriter(sink, table.schema)
    elif fmt == "arrow":
        writer = pa.ipc.new_file(sink, table.schema)
    else:
        import polars as pl

        try:
            frame = pl.from_arrow(table)
        except pl.exceptions.PolarsError as exc:  # a type Polars cannot take (an interval)
            raise pa.ArrowNotImplementedError(str(exc).strip().splitlines()[0]) from None
        assert isinstance(frame, pl.DataFrame)
        frame.write_ndjson(sink)
        return
    writer.write_table(table)
    writer.close()


def _binary(kind: pa.DataType) -> bool:
    return (
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
        or pa.types.is_binary_view(kind)
    )


def _known_refusal(fmt: str, kind: pa.DataType) -> str | None:
    """Types a format's writer accepts but cannot give back: a silent change, not an error.

    CSV writes a duration as a bare number (its unit is lost) and bytes as raw text (not UTF-8:
    a failure mid-write; UTF-8: read back as a string). Polars panics (printing a Rust
    backtrace even when caught) on binary in JSON Lines, so that one is never tried."""
    if fmt == "csv" and pa.types.is_duration(kind):
        return "CSV has no duration type and the unit would be lost"
    if fmt in ("csv", "jsonl") and _binary(kind):
        return f"{fmt} text cannot hold arbitrary bytes"
    return None


def refusal(fmt: str, field: pa.Field) -> str | None:
    """Why ``fmt`` cannot store ``field`` (a one-row null sample of it), or None."""
    known = _known_refusal(fmt, field.type)
    if known is not None:
        return known
    try:
        sample = pa.table({field.name: pa.nulls(1, field.type)})
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        sample = pa.schema([field]).empty_table()
    try:
        write_sample(fmt, sample, io.BytesIO())
    except (pa.ArrowException, *panic_types()) as exc:
        lines = str(exc).strip().splitlines()
        return lines[0] if lines else type(exc).__name__
    return None


def check_storable(fmt: str, schema: pa.Schema, target: str) -> None:
    """Raise a TargetError naming every column ``fmt`` cannot store, with the formats that
    can store them."""
    refused = []
    for field in schema:
        why = refusal(fmt, field)
        if why is None:
            continue
        others = [other for other in FORMATS if other != fmt and refusal(other, field) is None]
        instead = (
            f"use -target-format {' or '.join(others)}"
            if others
            else "no target file format stores it"
        )
        refused.append(f"column {field.name!r} ({field.type}): {why}; {instead}")
    if refused:
        raise TargetError(
            f"{target}: {fmt} files cannot store "
            + "; ".join(refused)
            + " (or convert or drop the column with a transform)",
            column=refused,
        )


def _floats(kind: pa.DataType) -> bool:
    return pa.types.is_floating(kind)


def check_json_values(batch: pa.RecordBatch | pa.Table, target: str, first_row: int) -> None:
    """JSON has no NaN or infinity: Polars writes them as null, a silent change. Refuse the
    first such value, naming its column and row (counted from 1 within the output file)."""
    import pyarrow.compute as pc

    for index, field in enumerate(batch.schema):
        if not _floats(field.type):
            continue
        column = batch.column(index)
        values = column.cast(pa.float64()) if pa.types.is_float16(field.type) else column
        bad = pc.invert(pc.is_finite(values))
        if not pc.any(bad).as_py():
            continue
        row = pc.index(bad, True).as_py()
        value = values[row].as_py()
        raise TargetError(
            f"{target}: JSON Lines cannot hold {value!r} (column {field.name!r},"
            f" row {first_row + row + 1} of its output file): JSON has no NaN or infinity;"
            " use -target-format parquet or arrow, or replace the value with a transform",
            column=field.name,
        )


def _utc_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(kind) and kind.tz is not None and kind.tz not in ("UTC", "+00:00"):
        return pa.timestamp(kind.unit, "UTC")
    return kind


def utc_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with zoned timestamps as UTC, as :func:`utc_for_text` writes them."""
    return pa.schema([f.with_type(_utc_type(f.type)) for f in schema], metadata=schema.metadata)


def utc_for_text(table: pa.Table) -> pa.Table:
    """Zoned timestamps as UTC instants for text formats: the writers print local time with
    an offset rounded to minutes, which moves instants whose zone offset has seconds (local
    mean time before ~1900). The instant is kept; the zone name, which text cannot hold, is not."""
    columns = []
    changed = False
    for field, column in zip(table.schema, table.columns, strict=True):
        utc = _utc_type(field.type)
        if utc != field.type:
            column = column.cast(utc)
            changed = True
        columns.append(column)
    if not changed:
        return table
    return pa.Table.from_arrays(columns, names=table.schema.names)
