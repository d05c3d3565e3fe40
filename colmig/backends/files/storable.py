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


def refusal(fmt: str, field: pa.Field) -> str | None:
    """Why ``fmt`` cannot store ``field`` (a one-row null sample of it), or None."""
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
