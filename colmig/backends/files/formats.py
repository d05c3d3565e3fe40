"""File formats and compression: detection, schema sniffing and batch streams.

Every function here reads one file (or one byte range of it) and yields Arrow record batches;
nothing holds a whole file in memory except JSON array files, which have no streaming form.
"""

from __future__ import annotations

import io
import lzma
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from colmig.backends.files.convert import _assumed, _bad_rows, _unchecked
from colmig.errors import ConfigError, SourceDataError

FORMATS = ("csv", "tsv", "jsonl", "json", "parquet", "arrow")
_EXTENSIONS = {
    "csv": "csv",
    "txt": "csv",
    "tsv": "tsv",
    "tab": "tsv",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "json": "json",
    "parquet": "parquet",
    "pq": "parquet",
    "arrow": "arrow",
    "feather": "arrow",
    "ipc": "arrow",
}
_COMPRESSIONS = {
    "gz": "gzip",
    "gzip": "gzip",
    "zst": "zstd",
    "zstd": "zstd",
    "bz2": "bz2",
    "xz": "xz",
}
_FORMAT_ALIASES = {"ndjson": "jsonl", "feather": "arrow", "ipc": "arrow", "json_lines": "jsonl"}
CSV_BLOCK = 8 << 20
SNIFF_BLOCK = 1 << 20
NAMES_BLOCK = 64 << 10
#: Decompressed Parquet/Arrow files spill from memory to disk past this size.
SPOOL_BYTES = 64 << 20


def detect(
    path: str, forced_format: str | None, forced_compression: str | None
) -> tuple[str, str | None]:
    """(format, compression) of ``path`` from its extensions unless forced."""
    name = path.rsplit("/", 1)[-1].lower()
    parts = name.split(".")
    compression = None
    if len(parts) > 1 and parts[-1] in _COMPRESSIONS:
        compression = _COMPRESSIONS[parts[-1]]
        parts = parts[:-1]
    if forced_compression:
        compression = (
            None if forced_compression == "none" else _COMPRESSIONS.get(forced_compression)
        )
        if compression is None and forced_compression != "none":
            raise ConfigError(
                f"unknown compression {forced_compression!r}; use gz, zst, bz2, xz or none"
            )
    if forced_format:
        fmt = _FORMAT_ALIASES.get(forced_format.lower(), forced_format.lower())
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {forced_format!r}; formats: {', '.join(FORMATS)}")
        return fmt, compression
    ext = parts[-1] if len(parts) > 1 else ""
    fmt = _EXTENSIONS.get(ext)
    if fmt is None:
        raise ConfigError(
            f"{path}: cannot tell the format from the extension {('.' + ext) if ext else '(none)'};"
            f" add ?format=csv|tsv|jsonl|json|parquet|arrow to the URL or -format"
        )
    return fmt, compression


def is_data_file(path: str) -> bool:
    """True for names colmig would read in a directory (not hidden, not _SUCCESS or temp)."""
    name = path.rsplit("/", 1)[-1]
    if name.startswith((".", "_")) or name.endswith((".tmp", ".crc")):
        return False
    lowered = name.lower().split(".")
    if len(lowered) > 1 and lowered[-1] in _COMPRESSIONS:
        lowered = lowered[:-1]
    return len(lowered) > 1 and lowered[-1] in _EXTENSIONS


@dataclass(frozen=True)
class CsvOptions:
    """How CSV/TSV files are parsed (from flags or the URL query)."""

    delimiter: str | None = None
    header: bool = True
    null_values: tuple[str, ...] | None = None
    timestamp_format: str | None = None
    #: The zone of naive timestamps in a column that also has zoned ones (-assume-tz).
    assume_tz: str | None = None
    #: Column types given by -schema/-column-type: (name, type) pairs, not inferred.
    declared: tuple[tuple[str, pa.DataType], ...] = ()
    on_error: str = "fail"
    #: CSV types from every value (-infer all), not from the first block of each file.
    infer_all: bool = False
    #: The source URL's scheme, for file names in messages.
    scheme: str = "file"

    def shown(self, path: str) -> str:
        """``path`` as messages show it (as colmig.backends.files.fs.display does)."""
        from colmig.backends.files.fs import display
        from colmig.urls import parse

        return display(parse(f"{self.scheme}:///"), None, path)  # type: ignore[arg-type]

    def parse_options(
        self,
        fmt: str,
        invalid_row_handler: Callable[[Any], str] | None,
        newlines_in_values: bool = True,
    ) -> pacsv.ParseOptions:
        delimiter = self.delimiter or ("\t" if fmt == "tsv" else ",")
        if delimiter in ("\\t", "tab"):
            delimiter = "\t"
        return pacsv.ParseOptions(
            delimiter=delimiter,
            newlines_in_values=newlines_in_values,
            invalid_row_handler=invalid_row_handler,
        )

    def convert_options(
        self,
        column_types: dict[str, pa.DataType] | None,
        include_columns: list[str] | None = None,
    ) -> pacsv.ConvertOptions:
        kwargs: dict[str, Any] = {}
        if include_columns:
            # Only these columns are converted (fields are still counted per row).
            kwargs["include_columns"] = include_columns
        kwargs["strings_can_be_null"] = True
        # Only the empty field is null unless told otherwise: Arrow's default list ("NA",
        # "null", "n/a", "NaN", ...) would silently turn real values, such as the country
        # code NA, into nulls. -null-values adds markers to the empty field.
        kwargs["null_values"] = ["", *(self.null_values or ())]
        # A quoted empty field ("") is an empty string, as DuckDB and Arrow's writer see it.
        kwargs["quoted_strings_can_be_null"] = False
        if self.timestamp_format:
            kwargs["timestamp_parsers"] = [self.timestamp_format, pacsv.ISO8601]
        if column_types:
            kwargs["column_types"] = column_types
        return pacsv.ConvertOptions(**kwargs)


@dataclass
class BadRows:
    """Malformed CSV rows seen while reading (for -on-error skip|reject)."""

    mode: str
    rows: list[tuple[int | None, str]] = field(default_factory=list)

    def handler(self, row: Any) -> str:
        self.rows.append((row.number, row.text))
        return "skip" if self.mode in ("skip", "reject") else "error"


def open_binary(
    fs: Any, path: str, compression: str | None, start: int = 0, end: int | None = None
) -> Any:
    """A readable binary stream of ``path`` (decompressed), or of bytes [start, end) by lines."""
    raw = fs.open(path, "rb", block_size=CSV_BLOCK)
    if start or end is not None:
        return _LineRange(raw, start, end)
    if compression is None:
        return raw
    if compression == "xz":
        return lzma.open(raw, "rb")
    return pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), compression)


def open_seekable(fs: Any, path: str, compression: str | None) -> Any:
    """A seekable binary file of ``path``; a compressed one (``x.parquet.gz``) is decompressed
    into a temporary file first, because Parquet and Arrow IPC files are read from the end."""
    if compression is None:
        return fs.open(path, "rb")
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned
    try:
        with open_binary(fs, path, compression) as stream:
            shutil.copyfileobj(stream, spool, CSV_BLOCK)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


class _LineRange(io.RawIOBase):
    """Bytes of whole lines starting in [start, end): the line running across ``start`` belongs
    to the previous range, the line running across ``end`` to this one.

    Both borders are moved to line starts up front, so reads never stop short inside a line
    (Arrow's CSV reader takes a short read of its first block as the whole header)."""

    def __init__(self, raw: Any, start: int, end: int | None) -> None:
        self.raw = raw
        self.begin = _line_start(raw, start)
        self.stop = _line_start(raw, end) if end is not None else None
        raw.seek(self.begin)
        self.pos = self.begin

    @property
    def empty(self) -> bool:
        """True when no line starts inside the range."""
        return self.stop is not None and self.stop <= self.begin

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        if self.stop is not None:
            want = min(want, self.stop - self.pos)
        filled = 0
        view = memoryview(buffer)
        while filled < want:
            chunk = self.raw.read(want - filled)
            if not chunk:
                break
            view[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
        self.pos += filled
        return filled

    def close(self) -> None:
        self.raw.close()
        super().close()


def _line_start(raw: Any, offset: int) -> int:
    """The first line start at or after ``offset`` (the file size past the last line)."""
    if offset <= 0:
        return 0
    raw.seek(offset - 1)
    byte = raw.read(1)
    if byte == b"\n":
        return offset
    if not byte:  # past the end of the file
        raw.seek(0, io.SEEK_END)
        return int(raw.tell())
    raw.readline()
    return int(raw.tell())


def csv_stream(
    stream: Any,
    fmt: str,
    options: CsvOptions,
    column_names: list[str] | None,
    column_types: dict[str, pa.DataType] | None,
    bad_rows: BadRows | None,
    block_size: int = CSV_BLOCK,
    newlines_in_values: bool = True,
    include_columns: list[str] | None = None,
) -> pacsv.CSVStreamingReader:
    """A streaming CSV reader; ``column_names`` given means the stream has no header line."""
    if column_names is not None:
        read = pacsv.ReadOptions(
            column_names=column_names, block_size=block_size, use_threads=False
        )
    elif options.header:
        read = pacsv.ReadOptions(block_size=block_size, use_threads=False)
    else:
        read = pacsv.ReadOptions(
            autogenerate_column_names=True, block_size=block_size, use_threads=False
        )
    handler = bad_rows.handler if bad_rows is not None else None
    return pacsv.open_csv(
        stream,
        read_options=read,
        parse_options=options.parse_options(fmt, handler, newlines_in_values),
        convert_options=options.convert_options(column_types, include_columns),
    )


def sniff_schema(
    fs: Any,
    path: str,
    fmt: str,
    compression: str | None,
    options: CsvOptions,
    block_size: int = 0,
) -> pa.Schema:
    """The schema of one file, reading at most about a megabyte of it (all of a JSON array);
    ``block_size`` reads more, for files whose first lines are longer than that."""
    block_size = block_size or SNIFF_BLOCK
    if fmt == "parquet":
        with open_seekable(fs, path, compression) as f:
            return pq.ParquetFile(f).schema_arrow
    if fmt == "arrow":
        with open_seekable(fs, path, compression) as f:
            return _open_ipc(f).schema
    with open_binary(fs, path, compression) as stream:
        if fmt in ("csv", "tsv"):
            # Malformed rows do not change the schema; reading them reports them with lines.
            tolerant = BadRows("skip")
            # Only the names are needed here: a small block holds the header of most files.
            try:
                schema = csv_stream(
                    stream, fmt, options, None, None, tolerant, block_size=NAMES_BLOCK
                ).schema
            except pa.ArrowInvalid:
                with open_binary(fs, path, compression) as again:
                    schema = csv_stream(
                        again, fmt, options, None, None, tolerant, block_size=block_size
                    ).schema
            if options.header is False:
                schema = pa.schema([f.with_name(_generated_name(i)) for i, f in enumerate(schema)])
            # The head gave the names; the types come from the first block (later values
            # are checked by the read) or, with -infer all, from every value.
            from colmig.backends.files.scan import scan_csv

            block = max(block_size, CSV_BLOCK if options.infer_all else SNIFF_BLOCK)
            return scan_csv(fs, path, fmt, compression, options, schema, block)
        if fmt != "jsonl":
            return _read_json_array(stream, path).schema
    from colmig.backends.files.jsonscan import scan_jsonl

    return scan_jsonl(fs, path, compression, options)


def _placed(
    batch: pa.RecordBatch, late: dict[str, pa.Field], timestamp_format: str | None
) -> pa.RecordBatch:
    """``batch`` with its text timestamp columns converted as ``late`` says."""
    from colmig.backends.files.convert import _assumed, cast_text

    arrays, fields = [], []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if name in late:
            kind = late[name].type
            text, zone = column, _assumed(late[name])
            try:
                column = cast_text(column, kind, timestamp_format, zone)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                rows = _bad_rows(text, kind, timestamp_format, zone)
                if not rows:
                    raise
                raise _Inexact(name, str(text[rows[0]].as_py())) from None
            if pa.types.is_floating(kind):
                _check_exact(name, text)
        arrays.append(column)
        fields.append(pa.field(name, column.type))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


class _Inexact(Exception):
    def __init__(self, column: str, value: str) -> None:
        super().__init__(value)
        self.column, self.value = column, value


def _first_misfit(
    batches: Iterator[pa.RecordBatch], fields: dict[str, pa.Field], timestamp_format: str | None
) -> _Inexact | None:
    """The first value of text ``batches`` that does not parse as its field's type."""
    from colmig.backends.files.convert import cast_text

    for batch in batches:
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            field = fields.get(name)
            if field is None or pa.types.is_string(field.type):
                continue
            zone = _assumed(field)
            try:
                cast_text(column, field.type, timestamp_format, zone)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                rows = _bad_rows(column, field.type, timestamp_format, zone)
                if rows:
                    return _Inexact(name, str(column[rows[0]].as_py()))
    return None


def _check_exact(name: str, text: pa.Array) -> None:
    """Raise _Inexact for the first number of ``text`` a double does not hold exactly."""
    from colmig.backends.files.infer import DOUBLE_DIGITS, exact_double

    lengths = pc.binary_length(text)
    if (pc.max(lengths).as_py() or 0) <= DOUBLE_DIGITS:
        return  # the common case: one cheap pass
    for value in text.filter(pc.greater(lengths, DOUBLE_DIGITS)).to_pylist():
        if not exact_double(value):
            raise _Inexact(name, value)


def _generated_name(index: int) -> str:
    return f"column_{index + 1}"


def _open_ipc(f: Any) -> Any:
    try:
        return pa.ipc.open_file(f)
    except pa.ArrowInvalid:
        f.seek(0)
        return pa.ipc.open_stream(f)


def _read_json_array(stream: Any, path: str) -> pa.Table:
    import polars as pl

    try:
        frame = pl.read_json(stream.read())
    except Exception as exc:
        raise SourceDataError(
            f"{path}: not a JSON array of objects: {str(exc).splitlines()[0]}"
        ) from None
    return frame.to_arrow()


def iter_batches(
    fs: Any,
    path: str,
    fmt: str,
    compression: str | None,
    options: CsvOptions,
    spec: dict[str, Any],
    file_schema: pa.Schema,
    bad_rows: BadRows | None,
    columns: list[str] | None = None,
    block_size: int = CSV_BLOCK,
    wrap: Callable[[Any], Any] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Batches of one partition of one file, in the file's own column types; with ``columns``
    only those of them the file has (projection pushdown: unread columns cost nothing).
    CSV and JSON Lines are parsed in blocks of ``block_size`` bytes, from the decompressed
    stream passed through ``wrap`` (the reader measures line lengths there)."""
    present = [c for c in columns if c in file_schema.names] if columns else []
    if fmt == "parquet":
        with open_seekable(fs, path, compression) as f:
            pf = pq.ParquetFile(f)
            groups = spec.get("row_groups")
            yield from pf.iter_batches(
                batch_size=1 << 17,
                row_groups=groups,
                columns=present or None,
                use_threads=False,
            )
        return
    if fmt == "arrow":
        with open_seekable(fs, path, compression) as f:
            reader = _open_ipc(f)
            if isinstance(reader, pa.ipc.RecordBatchFileReader):
                for i in range(reader.num_record_batches):
                    yield reader.get_batch(i)
            else:
                yield from reader
        return
    start, end = spec.get("start", 0), spec.get("end")
    if fmt in ("csv", "tsv"):
        types = {f.name: f.type for f in file_schema}
        # Naive and zoned timestamps in one column (-assume-tz): parsed as text, then placed.
        # And doubles typed from the head of the file: parsed as text, checked to be exact.
        late = {
            f.name: f
            for f in file_schema
            if _assumed(f) or (_unchecked(f) and pa.types.is_floating(f.type))
        }
        types.update({name: pa.string() for name in late})
        # A range after the first starts mid-file, without the header line.
        names = list(file_schema.names) if (start > 0 or not options.header) else None
        ranged = start > 0 or end is not None
        wanted = {k: v for k, v in types.items() if not present or k in present}

        def batches(as_text: bool) -> Iterator[pa.RecordBatch]:
            with open_binary(fs, path, compression, start, end) as stream:
                if ranged and stream.empty:
                    return
                source = wrap(stream) if wrap is not None and not as_text else stream
                # A byte range cannot hold a quoted newline safely: fail loudly rather than
                # split a record (the planner only splits files it found no quotes in).
                yield from csv_stream(
                    source,
                    fmt,
                    options,
                    names,
                    dict.fromkeys(wanted, pa.string()) if as_text else wanted,
                    bad_rows if not as_text else BadRows("skip"),
                    newlines_in_values=not ranged,
                    include_columns=present or None,
                    block_size=block_size,
                )

        try:
            for batch in batches(as_text=False):
                yield _placed(batch, late, options.timestamp_format) if late else batch
        except pa.ArrowInvalid:
            # Typed from the head of the file, a later value did not parse: find it (read
            # again as text; the error path only) to name its column, value and line.
            from colmig.backends.files.scan import invalid_utf8, utf8_error

            located = invalid_utf8(fs, path, compression)
            if located is not None:
                raise utf8_error(path, options, located) from None
            typed = {f.name: f for f in file_schema if f.name in wanted}
            misfit = _first_misfit(batches(as_text=True), typed, options.timestamp_format)
            if misfit is None:
                raise
            inexact = misfit
        except _Inexact as caught:
            inexact = caught
        else:
            return
        from colmig.backends.files.scan import inexact_error

        raise inexact_error(fs, path, fmt, compression, options, file_schema, inexact) from None
    with open_binary(fs, path, compression) as stream:
        if fmt == "jsonl":
            from colmig.backends.files.jsonscan import exact_batches, needs_exact

            if needs_exact(file_schema):
                yield from exact_batches(fs, path, compression, file_schema, options)
                return
            # Arrow's JSON parser would take a naive time into a zoned column (and the other
            # way round) without a word: timestamps are parsed as text and converted here.
            stamps = {f.name: f for f in file_schema if pa.types.is_timestamp(f.type)}
            parse = pa.schema(
                [pa.field(f.name, pa.string() if f.name in stamps else f.type) for f in file_schema]
            )
            explicit = pajson.ParseOptions(
                explicit_schema=parse, unexpected_field_behavior="ignore"
            )
            reader = pajson.open_json(
                wrap(stream) if wrap is not None else stream,
                read_options=pajson.ReadOptions(block_size=block_size),
                parse_options=explicit,
            )
            for batch in reader:
                try:
                    # Arrow's JSON parser does not check UTF-8: a text column would carry
                    # bytes no target can decode.
                    batch.validate(full=True)
                except pa.ArrowInvalid:
                    from colmig.backends.files.scan import invalid_utf8, utf8_error

                    located = invalid_utf8(fs, path, compression)
                    if located is None:
                        raise
                    raise utf8_error(path, options, located) from None
                yield _placed(batch, stamps, None) if stamps else batch
        else:
            yield from _read_json_array(stream, path).to_batches()
