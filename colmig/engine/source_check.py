"""The source side of ``-validate``, recomputed without colmig's read path.

Files are read again by DuckDB's own readers (read_csv, read_json, read_parquet with
union_by_name and whole-input type detection), streamed as Arrow batches, cast to the job's
input types, passed through the same compiled transformation when there is one, and summed
with the canonical checksums. Database tables are summed by SQL aggregates in the source
database. Neither touches colmig's readers, so a reader that drops a late key or a last row
shows up as a mismatch against the target.

Everything here is bounded in memory: DuckDB streams the files, databases aggregate.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from colmig.backends.base import ColumnStats, Reader
from colmig.backends.sql_common import stats_kind
from colmig.engine.checksums import FOLD_ROWS, StatsAccumulator, add_stats
from colmig.engine.validate import IndependentSource

log = logging.getLogger("colmig")

#: Rows per Arrow batch DuckDB hands over.
BATCH_ROWS = 65_536
#: Compressions DuckDB's readers open themselves.
_DUCKDB_COMPRESSIONS = {None, "gzip", "zstd"}
_CSV = ("csv", "tsv")
#: The column DuckDB adds with the file each row came from (per-file statistics).
FILE_COLUMN = "__colmig_file"


class NotAvailable(Exception):
    """The source cannot be recomputed independently (the reason is the message)."""


def independent_source(
    reader: Reader, input_schema: pa.Schema, output_schema: pa.Schema, compiled: Any | None
) -> IndependentSource:
    """Whole-source statistics in ``output_schema`` terms; raises NotAvailable with a reason."""
    if hasattr(reader, "files") and hasattr(reader, "csv"):
        return _files(reader, input_schema, output_schema, compiled)
    if hasattr(reader, "choices") and hasattr(reader, "_fetch_one"):
        if compiled is not None:
            raise NotAvailable("a transformation over a database source is not re-run in SQL")
        return _database(reader, output_schema)
    raise NotAvailable(f"no independent reader for {reader.describe()}")


# --- files --------------------------------------------------------------------------------------


def _files(
    reader: Any, input_schema: pa.Schema, output_schema: pa.Schema, compiled: Any | None
) -> IndependentSource:
    import duckdb

    files = reader.files()
    formats = {f.format for f in files}
    if len(formats) != 1:
        raise NotAvailable(f"the source mixes formats ({', '.join(sorted(formats))})")
    fmt = formats.pop()
    bad = sorted({str(f.compression) for f in files} - {str(c) for c in _DUCKDB_COMPRESSIONS})
    if bad:
        raise NotAvailable(f"DuckDB cannot read {', '.join(bad)}-compressed {fmt} files")
    if fmt == "parquet" and any(f.compression for f in files):
        raise NotAvailable("compressed Parquet files")
    con = duckdb.connect()
    paths = _paths(con, reader.fs, [f.path for f in files])
    hive = any(f.hive for f in files)
    # Read as text what the job reads as text or decimals: DuckDB would turn '007' into 7 and
    # a 38-digit number into a double.
    text = [
        f.name for f in input_schema if pa.types.is_string(f.type) or pa.types.is_decimal(f.type)
    ]
    function, how = _reader_sql(fmt, paths, reader.csv, hive, text if fmt in _CSV else [])
    try:
        described = _describe(con, function)
    except duckdb.Error:  # a text column missing from one of the files: let DuckDB detect
        function, how = _reader_sql(fmt, paths, reader.csv, hive, [])
        described = _describe(con, function)
    described.pop(FILE_COLUMN, None)
    if fmt in ("jsonl", "json") and set(text) & set(described):
        # read_json takes explicit types only for every column at once.
        retyped = {n: ("VARCHAR" if n in text else t) for n, t in described.items()}
        try:
            function, how = _reader_sql(fmt, paths, reader.csv, hive, [], retyped)
            described = _describe(con, function)
            described.pop(FILE_COLUMN, None)
        except duckdb.Error:
            function, how = _reader_sql(fmt, paths, reader.csv, hive, [])
    columns = list(described)
    alias = {c: c for c in columns}
    if fmt in _CSV and not reader.csv.header:
        # Headerless: DuckDB names columns column0, ...; the job names them its own way.
        from colmig.backends.files.formats import _generated_name

        keys = {key for f in files for key, _ in f.hive}
        alias = {c: (_generated_name(i) if c not in keys else c) for i, c in enumerate(columns)}
    extra = [alias[c] for c in columns if alias[c] not in input_schema.names]
    by_name = {name: duck for duck, name in alias.items()}
    names = [n for n in input_schema.names if n in by_name]
    unchecked: dict[str, str] = {}
    for name in input_schema.names:
        if name not in by_name:
            unchecked[name] = f"{how} does not see this column"
    select = "".join(f"{_quote(by_name[n])} AS {_quote(n)}, " for n in names) + _quote(FILE_COLUMN)
    assume_tz = getattr(reader.settings, "assume_tz", None)
    stream = con.sql(f"SELECT {select} FROM {function}").to_arrow_reader(BATCH_ROWS)
    original = dict(zip(paths, (f.path for f in files), strict=True))
    per_file: dict[str, StatsAccumulator] = {}
    for batch in stream:
        table = _conform(batch, input_schema, unchecked, how, assume_tz)
        for name, rows in _by_file(batch.column(FILE_COLUMN), table):
            if compiled is not None:
                rows, _rejects = compiled.apply(rows)
            path = original.get(name, name)
            per_file.setdefault(path, StatsAccumulator(output_schema)).add(rows)
        if sum(acc.pending_rows for acc in per_file.values()) > FOLD_ROWS:
            for acc in per_file.values():  # many small files: memory stays bounded
                acc.flush()
    con.close()
    per_path = {path: (acc.rows, acc.result()) for path, acc in per_file.items()}
    total_rows = sum(rows for rows, _ in per_path.values())
    stats: dict[str, ColumnStats] = {}
    for _, file_stats in per_path.values():
        stats = add_stats(stats, file_stats)
    if compiled is not None:
        # Which output column a broken input column feeds is the transformation's business:
        # with a transformation, an input column that could not be read makes no output column
        # trustworthy, so say so instead of comparing.
        if unchecked:
            raise NotAvailable("; ".join(f"{name}: {reason}" for name, reason in unchecked.items()))
    else:
        for name in extra:
            # A key the source holds and colmig's schema lacks: its values were never written.
            stats[name] = ColumnStats(total_rows, 0, "present in the source")
            for rows, file_stats in per_path.values():
                file_stats[name] = ColumnStats(rows, 0, "present in the source")
    return IndependentSource(how, total_rows, stats, unchecked, per_path)


def _by_file(files: pa.Array, table: pa.Table) -> list[tuple[str, pa.Table]]:
    """The rows of ``table`` grouped by the file they came from (usually one per batch)."""
    names = pc.unique(files).to_pylist()
    if len(names) == 1:
        return [(names[0], table)]
    return [(name, table.filter(pc.equal(files, name))) for name in names]


def _paths(con: Any, fs: Any, paths: list[str]) -> list[str]:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if protocol in ("file", "local"):
        return [p if os.path.isabs(p) else os.path.abspath(p) for p in paths]
    con.register_filesystem(fs)
    return [f"{protocol}://{p}" for p in paths]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _reader_sql(
    fmt: str,
    paths: list[str],
    csv: Any,
    hive: bool,
    text: list[str],
    json_columns: dict[str, str] | None = None,
) -> tuple[str, str]:
    files = "[" + ", ".join(_literal(p) for p in paths) + "]"
    common = (
        f"union_by_name = true, hive_partitioning = {str(hive).lower()},"
        f" filename = {_literal(FILE_COLUMN)}"
    )
    if fmt == "parquet":
        return f"read_parquet({files}, {common})", "DuckDB read_parquet"
    if fmt in ("csv", "tsv"):
        delimiter = csv.delimiter or ("\t" if fmt == "tsv" else ",")
        if delimiter in ("\\t", "tab"):
            delimiter = "\t"
        nulls = "[" + ", ".join(_literal(v) for v in ("", *(csv.null_values or ()))) + "]"
        options = (
            f"delim = {_literal(delimiter)}, header = {str(bool(csv.header)).lower()},"
            f" nullstr = {nulls}, allow_quoted_nulls = false, sample_size = -1, {common}"
        )
        if csv.timestamp_format:
            options += f", timestampformat = {_literal(csv.timestamp_format)}"
        if text:
            # Text stays text ('007' is not 7): the job reads these columns as strings.
            types = ", ".join(f"{_literal(name)}: 'VARCHAR'" for name in text)
            options += f", types = {{{types}}}"
        return f"read_csv({files}, {options})", "DuckDB read_csv"
    if fmt in ("jsonl", "json"):
        layout = "newline_delimited" if fmt == "jsonl" else "auto"
        options = f"format = {_literal(layout)}, sample_size = -1, {common}"
        if json_columns:
            listed = ", ".join(f"{_literal(n)}: {_literal(t)}" for n, t in json_columns.items())
            options += f", columns = {{{listed}}}"
        return f"read_json({files}, {options})", "DuckDB read_json"
    raise NotAvailable(f"DuckDB has no reader for {fmt} files here")


def _describe(con: Any, function: str) -> dict[str, str]:
    """Column name -> DuckDB type of what ``function`` reads."""
    return {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {function}").fetchall()}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _naive_to_zoned(have: pa.DataType, want: pa.DataType) -> bool:
    return (
        pa.types.is_timestamp(have)
        and pa.types.is_timestamp(want)
        and not have.tz  # type: ignore[attr-defined]
        and bool(want.tz)  # type: ignore[attr-defined]
    )


def _conform(
    batch: pa.RecordBatch,
    schema: pa.Schema,
    unchecked: dict[str, str],
    how: str,
    assume_tz: str | None = None,
) -> pa.Table:
    """DuckDB's columns in the job's input types (exact casts only); a column DuckDB reads as
    something that does not cast exactly is named as not checked, never compared."""
    arrays = []
    for field in schema:
        if field.name in unchecked or field.name not in batch.schema.names:
            arrays.append(pa.nulls(batch.num_rows, field.type))
            continue
        column = batch.column(batch.schema.get_field_index(field.name))
        if not column.type.equals(field.type):
            if pa.types.is_floating(column.type) and not pa.types.is_floating(field.type):
                unchecked[field.name] = f"{how} reads it as {column.type}, not exact"
                arrays.append(pa.nulls(batch.num_rows, field.type))
                continue
            try:
                if _naive_to_zoned(column.type, field.type):
                    # Wall times the job reads in -assume-tz (UTC unless told otherwise).
                    column = pc.assume_timezone(column, assume_tz or "UTC")
                column = column.cast(field.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                unchecked[field.name] = f"{how} reads it as {column.type}, not {field.type}"
                column = pa.nulls(batch.num_rows, field.type)
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=schema)


# --- databases ----------------------------------------------------------------------------------


def _database(reader: Any, schema: pa.Schema) -> IndependentSource:
    choices = reader.choices
    if len(choices) != 1:
        raise NotAvailable("several source tables")
    expr = _checksum_function(reader.dialect)
    padded = _padded_chars(reader, choices[0])
    parts = ["COUNT(*)"]
    kinds = []
    for field in schema:
        kind = stats_kind(field.type)
        if kind == "none":
            continue
        col = reader.quote(field.name)
        checksum = expr(col, kind, field.type)
        if field.name in padded:
            # char(n)::text drops the padding the job reads (and writes): hash it padded.
            checksum = checksum.replace(f"{col}::text", f"rpad({col}::text, {padded[field.name]})")
        parts += [f"COUNT(*) - COUNT({col})", checksum]
        kinds.append((field.name, kind))
    sql = f"SELECT {', '.join(parts)} FROM {reader._from(choices[0])}"
    row = reader._fetch_one(sql)
    from colmig.backends.sql_writer import stats_from_row

    chosen = pa.schema([schema.field(name) for name, _ in kinds])
    stats = stats_from_row(chosen, row)
    return IndependentSource(f"SQL aggregates in the {reader.dialect} source", int(row[0]), stats)


def _padded_chars(reader: Any, choice: Any) -> dict[str, int]:
    """PostgreSQL char(n) columns of the source table and their n."""
    if reader.dialect != "postgres" or not choice.source:
        return {}
    table = reader.quote(choice.source).replace("'", "''")
    row = reader._fetch_one(
        "SELECT json_object_agg(attname, atttypmod - 4)::text FROM pg_attribute"
        f" WHERE attrelid = to_regclass('{table}') AND atttypid = 'bpchar'::regtype"
        " AND attnum > 0 AND NOT attisdropped AND atttypmod > 4"
    )
    return {str(k): int(v) for k, v in json.loads(row[0]).items()} if row and row[0] else {}


def _checksum_function(dialect: str) -> Any:
    if dialect == "postgres":
        from colmig.backends.postgres.writer import pg_checksum_expr

        return lambda col, kind, _t: pg_checksum_expr(col, kind)
    if dialect == "mysql":
        from colmig.backends.mysql.writer import mysql_checksum_expr

        return lambda col, kind, _t: mysql_checksum_expr(col, kind)
    if dialect == "duckdb":
        from colmig.backends.duckdb.typemap import checksum_expr

        return checksum_expr
    raise NotAvailable(f"no checksum SQL for a {dialect} source")
