"""Read files and object storage (file://, s3://, gs://, az://, memory://) as Arrow batches.

The source URL names a file, a directory (read recursively unless ``-no-recursive``), a glob
(``data/*.csv.gz``) or an object prefix. Hive-style directories (``day=2024-03-01/``) become
columns. A partition is one file, a range of row groups of a large Parquet file, or a byte
range of a large uncompressed CSV file, so big inputs spread over the workers.
"""

from __future__ import annotations

import gzip
import logging
import lzma
import re
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq

from colmig.backends.base import Capabilities, Partition, Reader
from colmig.backends.files import fs as fsmod
from colmig.backends.files.convert import BadCell, convert, text_schema
from colmig.backends.files.declared import declared_types
from colmig.backends.files.diagnose import (
    bad_json_line,
    bad_lines,
    decode,
    json_lines,
    lines_before,
    longest_record,
)
from colmig.backends.files.formats import (
    CSV_BLOCK,
    SNIFF_BLOCK,
    BadRows,
    CsvOptions,
    detect,
    is_data_file,
    iter_batches,
    open_binary,
    sniff_schema,
)
from colmig.backends.files.layout import NULL_PARTITION
from colmig.backends.files.lines import (
    DropLines,
    LineTooLong,
    first_block,
    fitting_block,
    grown_batches,
    longest_line,
    too_long_error,
)
from colmig.backends.files.links import resolve_links
from colmig.backends.files.unify import unify
from colmig.backends.sql_common import short_hash
from colmig.config import Settings, parse_size
from colmig.engine.rejects import Malformed
from colmig.errors import ColmigError, ConfigError, SourceDataError
from colmig.urls import URL

#: Uncompressed CSV files larger than this are split into byte ranges of CSV_RANGE bytes.
CSV_SPLIT = 256 << 20
CSV_RANGE = 128 << 20
#: The smallest -max-line-bytes: a CSV/JSON Lines parse block is never smaller.
MIN_LINE_LIMIT = 1 << 20
#: Parquet files are split into sets of row groups of about this many rows.
PARQUET_ROWS = 2_000_000
#: Bytes sampled for quotes before splitting a CSV: the start, and a window at each border.
QUOTE_SAMPLE = 1 << 20
QUOTE_WINDOW = 64 << 10
log = logging.getLogger("colmig")
_GLOB = re.compile(r"[*?\[]")
_CONVERSION = re.compile(r"In CSV column #(\d+): .*?invalid value '(.*)'", re.S)


@dataclass(frozen=True)
class InputFile:
    """One file of the source, with what planning learned about it."""

    path: str
    shown: str
    size: int
    format: str
    compression: str | None
    hive: tuple[tuple[str, str], ...]


class FileReader(Reader):
    """Files under one URL, unified into one schema."""

    capabilities = Capabilities(partitionable=True)

    def __init__(self, url: URL, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self.fs, self.root = fsmod.filesystem(url)
        query = url.query
        nulls = query.get("null_values", settings.null_values)
        header = query.get("header")
        self.csv = CsvOptions(
            delimiter=query.get("delimiter", settings.delimiter),
            header=settings.header if header is None else header.lower() in ("1", "true", "yes"),
            null_values=tuple(nulls.split(",")) if nulls is not None else None,
            timestamp_format=query.get("timestamp_format", settings.timestamp_format),
            assume_tz=query.get("assume_tz", settings.assume_tz),
            declared=tuple(declared_types(settings.schema, settings.column_type).items()),
            on_error=settings.on_error,
            infer_all=query.get("infer", settings.infer) == "all",
            scheme=url.scheme,
        )
        self.forced_format = query.get("format", settings.format)
        self.max_line_bytes = parse_size(settings.max_line_bytes)
        if self.max_line_bytes < MIN_LINE_LIMIT:
            # Lines are measured where they cross a block border; blocks are at least this.
            raise ConfigError(
                f"-max-line-bytes {settings.max_line_bytes}: use at least 1MiB (the default"
                " is 1GiB)"
            )
        self.forced_compression = query.get("compression")
        self._files: list[InputFile] | None = None
        self._index: dict[str, InputFile] | None = None
        self._file_schemas: dict[str, pa.Schema] = {}
        self._schema: pa.Schema | None = None
        self._projection: list[str] | None = None
        self._hive_types: dict[str, pa.DataType] = {}
        self._rejects: list[tuple[str, str]] = []

    def describe(self) -> str:
        return f"files {self.url.redacted}"

    def _shown(self, path: str) -> str:
        return fsmod.display(self.url, self.fs, path)

    # --- listing ------------------------------------------------------------------------------

    def files(self) -> list[InputFile]:
        """Every input file, sorted by path."""
        if self._files is None:
            self._files = self._list()
        return self._files

    def _by_path(self) -> dict[str, InputFile]:
        if self._index is None:
            self._index = {f.path: f for f in self.files()}
        return self._index

    def _list(self) -> list[InputFile]:
        where = self.url.redacted
        try:
            # Listings with details give every size at once: one request per file (isdir,
            # info) would cost minutes on an object store holding thousands of files.
            if _GLOB.search(self.root):
                base = self.root[: _GLOB.search(self.root).start()].rsplit("/", 1)[0]  # type: ignore[union-attr]
                entries = self.fs.glob(self.root, detail=True)
            elif self.fs.isdir(self.root):
                base = self.root
                if self.settings.recursive:
                    entries = self.fs.find(self.root, detail=True)
                else:
                    entries = {e["name"]: e for e in self.fs.ls(self.root, detail=True)}
            elif self.fs.exists(self.root):
                base = self.root.rsplit("/", 1)[0]
                entries = {self.root: self.fs.info(self.root)}
            else:
                raise ConfigError(f"source not found: {where}")
            if self.url.scheme == "file":
                entries = resolve_links(
                    entries,
                    base,
                    self.settings.follow_symlinks,
                    self._shown,
                    recursive=self.settings.recursive,
                    walked_root=not _GLOB.search(self.root) and self.settings.recursive,
                )
            details = {
                path: int(info.get("size") or 0)
                for path, info in entries.items()
                if info.get("type") == "file"
            }
            if len(details) == 1 and self.root in details:
                paths = [self.root]  # a named file is read whatever its name
            else:
                paths = [p for p in details if self._wanted(p) and _visible(base, p)]
        except ColmigError:
            raise
        except Exception as exc:
            raise fsmod.classify(exc, f"cannot list {where}") from None
        if not paths:
            raise ConfigError(f"no data files found at {where} (looked for {_EXAMPLES})")
        # A zero-byte file (an export that wrote nothing) holds no rows and no columns.
        empty = [p for p in paths if details.get(p, 1) == 0]
        if empty and len(empty) == len(paths):
            raise ConfigError(f"every data file at {where} is empty ({len(empty)} file(s))")
        for path in empty:
            log.warning("skipping empty file %s", self._shown(path))
        paths = [p for p in paths if details.get(p, 1) != 0]
        out = []
        for path in sorted(paths):
            fmt, compression = detect(path, self.forced_format, self.forced_compression)
            out.append(
                InputFile(
                    path=path,
                    shown=self._shown(path),
                    size=details.get(path, 0),
                    format=fmt,
                    compression=compression,
                    hive=_hive_parts(base, path),
                )
            )
        self._check_hive(out)
        return out

    def _wanted(self, path: str) -> bool:
        """A data file by its extension, or any ordinary file when the format is given."""
        if is_data_file(path):
            return True
        name = path.rsplit("/", 1)[-1]
        ordinary = not name.startswith((".", "_")) and not name.endswith((".tmp", ".crc"))
        return bool(self.forced_format) and ordinary

    def _check_hive(self, files: list[InputFile]) -> None:
        keys = {tuple(k for k, _ in f.hive) for f in files}
        if len(keys) != 1:
            # Not a consistent hive layout: no partition columns, but say why.
            if any(k for k in keys):
                shown = sorted("/".join(k) or "(none)" for k in keys)
                log.warning(
                    "hive directories ignored: files differ in their keys (%s)", ", ".join(shown)
                )
            for i, f in enumerate(files):
                files[i] = InputFile(f.path, f.shown, f.size, f.format, f.compression, ())
            return
        values: dict[str, list[str]] = {}
        for f in files:
            for key, value in f.hive:
                values.setdefault(key, []).append(value)
        for key, seen in values.items():
            present = [v for v in seen if v != NULL_PARTITION]
            numeric = bool(present) and all(re.fullmatch(r"-?\d{1,18}", v) for v in present)
            self._hive_types[key] = pa.int64() if numeric else pa.string()

    # --- schema -------------------------------------------------------------------------------

    def project(self, columns: list[str]) -> bool:
        """Read only ``columns`` from now on (the engine's projection pushdown)."""
        full = self._full_schema()
        if not set(columns) <= set(full.names):
            return False
        self._projection = [name for name in full.names if name in set(columns)]
        return True

    def schema(self) -> pa.Schema:
        full = self._full_schema()
        if self._projection is None:
            return full
        return pa.schema([full.field(name) for name in self._projection])

    def _full_schema(self) -> pa.Schema:
        if self._schema is None:
            files = self.files()
            with ThreadPoolExecutor(max_workers=8) as pool:
                schemas = list(pool.map(self._sniff, files))
            self._file_schemas = {f.path: s for f, s in zip(files, schemas, strict=True)}
            unified = unify([(f.shown, s) for f, s in zip(files, schemas, strict=True)])
            for key, kind in self._hive_types.items():
                if key not in unified.names:
                    unified = unified.append(pa.field(key, kind))
            self._schema = unified
        return self._schema

    def _sniff(self, f: InputFile) -> pa.Schema:
        try:
            schema = self._sniff_lines(f)
        except ColmigError:
            raise
        except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError, lzma.LZMAError) as exc:
            if isinstance(exc, OSError) and not _bad_bytes(exc):
                raise fsmod.classify(exc, f"cannot read {f.shown}") from None
            located = self._json_line(f, exc, first_block=True)
            if located is not None:
                raise located from None
            raise SourceDataError(
                f"{f.shown}: cannot read as {f.format}"
                f"{' (' + f.compression + ')' if f.compression else ''}: {_first_line(exc)}",
                file=f.shown,
            ) from None
        seen: set[str] = set()
        for name in schema.names:
            if name in seen:
                # Columns are matched by name: a second one would silently vanish.
                raise SourceDataError(
                    f"{f.shown}: column {name!r} appears twice; rename one"
                    + (" (or read with -no-header)" if f.format in ("csv", "tsv") else ""),
                    file=f.shown,
                    column=name,
                )
            seen.add(name)
        return schema

    def _sniff_lines(self, f: InputFile) -> pa.Schema:
        """The file's schema; a CSV or JSON Lines file with lines longer than the sniffing
        block is sniffed again with a block holding them, and under -on-error skip|reject
        a JSON Lines file without the lines that are not JSON objects."""
        lenient_json = f.format == "jsonl" and self.settings.on_error in ("skip", "reject")
        try:
            return sniff_schema(self.fs, f.path, f.format, f.compression, self.csv)
        except (pa.ArrowInvalid, SourceDataError) as exc:
            if isinstance(exc, SourceDataError) and not lenient_json:
                raise
            if f.format not in ("csv", "tsv", "jsonl"):
                raise
            if lenient_json:
                dropped = {
                    line
                    for line, _, reason in json_lines(self.fs, f.path, f.compression)
                    if reason is not None
                }
                if dropped:
                    clean = _WithoutLines(self.fs, f.compression, dropped)
                    return sniff_schema(clean, f.path, f.format, None, self.csv)
            if isinstance(exc, SourceDataError):
                raise
            with open_binary(self.fs, f.path, f.compression) as stream:
                meter = longest_line(stream, self.max_line_bytes)
            longest, line = meter.longest, meter.longest_line
            if f.format != "jsonl" and meter.quoted and longest <= self.max_line_bytes:
                # Quoted line breaks make a record longer than its lines.
                longest, line = max(
                    (longest, line),
                    longest_record(
                        self.fs,
                        f.path,
                        f.format,
                        f.compression,
                        self.csv,
                        1 << 62,
                        self.max_line_bytes,
                    ),
                )
            if longest > self.max_line_bytes:
                raise too_long_error(f.shown, line, self.max_line_bytes) from None
            if longest < SNIFF_BLOCK // 2:
                raise
            block = fitting_block(longest, SNIFF_BLOCK)
            log.debug("%s: long lines, schema read in %d-byte blocks", f.shown, block)
            return sniff_schema(self.fs, f.path, f.format, f.compression, self.csv, block)

    def _json_line(
        self, f: InputFile, exc: BaseException, first_block: bool
    ) -> SourceDataError | None:
        """A JSON Lines error naming file:line, when the line can be found."""
        if f.format != "jsonl":
            return None
        try:
            found = bad_json_line(self.fs, f.path, f.compression, _first_line(exc), first_block)
        except Exception:
            return None
        if found is None:
            return None
        line, text, reason = found
        return SourceDataError(
            f"{f.shown}:{line}: {reason}: {text[:200]!r}", file=f.shown, line=line
        )

    # --- planning -----------------------------------------------------------------------------

    def plan(self, max_partitions: int) -> list[Partition]:
        self.schema()
        out: list[Partition] = []
        for f in self.files():
            out.extend(self._plan_file(f))
        return out

    def _plan_file(self, f: InputFile) -> list[Partition]:
        base = {"path": f.path}
        if f.format == "parquet" and f.compression is None:
            with self.fs.open(f.path, "rb") as handle:
                meta = pq.ParquetFile(handle).metadata
            rows = meta.num_rows
            if rows > PARQUET_ROWS and meta.num_row_groups > 1:
                groups: list[list[int]] = [[]]
                count = 0
                for i in range(meta.num_row_groups):
                    if count >= PARQUET_ROWS:
                        groups.append([])
                        count = 0
                    groups[-1].append(i)
                    count += meta.row_group(i).num_rows
                return [
                    Partition(
                        id=short_hash(f.shown, "rg", g[0], g[-1]),
                        label=f"{f.shown} row groups {g[0]}-{g[-1]}",
                        spec={**base, "row_groups": g},
                        estimated_rows=sum(meta.row_group(i).num_rows for i in g),
                        estimated_bytes=sum(meta.row_group(i).total_byte_size for i in g),
                    )
                    for g in groups
                ]
            return [Partition(short_hash(f.shown), f.shown, base, rows, f.size)]
        if (
            f.format in ("csv", "tsv")
            and f.compression is None
            and f.size > CSV_SPLIT
            and not self._has_quotes(f)
        ):
            return [
                Partition(
                    id=short_hash(f.shown, "bytes", start),
                    label=f"{f.shown} bytes {start}-{min(start + CSV_RANGE, f.size)}",
                    spec={**base, "start": start, "end": min(start + CSV_RANGE, f.size)},
                    estimated_bytes=min(CSV_RANGE, f.size - start),
                )
                for start in range(0, f.size, CSV_RANGE)
            ]
        return [Partition(short_hash(f.shown), f.shown, base, None, f.size)]

    def _has_quotes(self, f: InputFile) -> bool:
        """Whether the start of the file or the bytes around any range border hold a quote.

        Quoted fields may hold newlines, and a byte range cannot know it starts inside one.
        Reading the whole file here would cost a full scan, so the planner samples; a split
        range is parsed without quoted newlines and fails loudly on one the sample missed."""
        with self.fs.open(f.path, "rb") as handle:
            if b'"' in handle.read(QUOTE_SAMPLE):
                return True
            for border in range(CSV_RANGE, f.size, CSV_RANGE):
                handle.seek(max(0, border - QUOTE_WINDOW))
                if b'"' in handle.read(2 * QUOTE_WINDOW):
                    return True
        return False

    # --- reading ------------------------------------------------------------------------------

    def read(self, partition: Partition, batch_rows: int) -> Iterator[pa.RecordBatch]:
        full = self._full_schema()
        schema = self.schema()
        spec = dict(partition.spec)
        f = self._by_path()[spec["path"]]
        file_schema = self._file_schemas[f.path]
        csv = f.format in ("csv", "tsv")
        if csv or f.format == "jsonl":
            # Parse straight into the unified types (int in one file, float in another); the
            # scan's facts (field metadata) say which columns need more than Arrow's parser.
            own = file_schema
            file_schema = pa.schema(
                [full.field(n).with_metadata(own.field(n).metadata or {}) for n in own.names]
            )
        lenient = csv and self.settings.on_error in ("skip", "reject")
        bad = BadRows(self.settings.on_error) if csv else None
        # A retried partition reads again: rows set aside by the failed attempt are not kept.
        self._rejects = []
        unconvertible: list[tuple[BadCell, str]] = []
        hive = dict(f.hive)

        def read_blocks(block: int, wrap: Any) -> Iterator[pa.RecordBatch]:
            return iter_batches(
                self.fs,
                f.path,
                f.format,
                f.compression,
                self.csv,
                spec,
                text_schema(file_schema) if lenient else file_schema,
                bad,
                # Lenient conversion works on whole rows: no projection there.
                None if lenient else self._projection,
                block_size=block,
                wrap=wrap,
            )

        def forget_bad_rows() -> None:
            if bad is not None:
                bad.rows.clear()  # the larger-block attempt meets them again

        def longest(scan: int) -> tuple[int, int]:
            limit = self.max_line_bytes
            return longest_record(self.fs, f.path, f.format, f.compression, self.csv, scan, limit)

        if f.format == "jsonl" and self.settings.on_error in ("skip", "reject"):
            batches = self._json_setting_aside(f, read_blocks)
        elif f.format in ("csv", "tsv", "jsonl"):
            quoted = csv and "start" not in spec
            batches = grown_batches(
                read_blocks,
                first_block(self.max_line_bytes, CSV_BLOCK),
                self.max_line_bytes,
                forget_bad_rows,
                longest if quoted else None,
            )
        else:
            batches = read_blocks(CSV_BLOCK, None)
        try:
            for batch in batches:
                if lenient:
                    text, (batch, cells) = (
                        batch,
                        convert(batch, file_schema, self.csv.timestamp_format),
                    )
                    unconvertible.extend((cell, self._raw(f, text, cell)) for cell in cells)
                if batch.num_rows == 0:
                    continue
                batch = _to_schema(batch, schema, hive, self._hive_types, f.shown)
                for offset in range(0, batch.num_rows, batch_rows):
                    yield batch.slice(offset, batch_rows)
        except ColmigError:
            raise
        except LineTooLong as exc:
            line = exc.line
            if spec.get("start"):
                line += lines_before(self.fs, f.path, spec["start"])
            raise too_long_error(f.shown, line, exc.limit) from None
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, EOFError) as exc:
            raise self._data_error(f, spec, file_schema, exc, bad) from None
        except (OSError, lzma.LZMAError) as exc:
            if _bad_bytes(exc):
                raise self._data_error(f, spec, file_schema, exc, bad) from None
            raise fsmod.classify(exc, f"cannot read {f.shown}") from None
        if (bad is not None and bad.rows) or unconvertible:
            self._collect_rejects(f, spec, file_schema, bad, unconvertible)

    def _json_setting_aside(
        self, f: InputFile, read_blocks: Callable[[int, Any], Iterator[pa.RecordBatch]]
    ) -> Iterator[pa.RecordBatch]:
        """JSON Lines with -on-error skip|reject: when Arrow fails, the lines that are not JSON
        objects are set aside and the file is read again without them (the rows already
        delivered are not repeated). Arrow's reader cannot skip a record by itself."""
        dropped: dict[int, Malformed] = {}

        def without_dropped(block: int, wrap: Any) -> Iterator[pa.RecordBatch]:
            keep = set(dropped)
            return read_blocks(block, lambda stream: wrap(DropLines(stream, keep)))

        delivered = 0
        while True:
            skip = delivered
            limit = self.max_line_bytes
            reading = without_dropped if dropped else read_blocks
            try:
                for batch in grown_batches(reading, first_block(limit, CSV_BLOCK), limit):
                    if skip >= batch.num_rows:
                        skip -= batch.num_rows
                        continue
                    batch, skip = batch.slice(skip), 0
                    delivered += batch.num_rows
                    yield batch
                break
            except pa.ArrowInvalid:
                if dropped:
                    raise  # not a malformed line: a type conflict, reported with its line
                for line, piece, reason in json_lines(self.fs, f.path, f.compression):
                    if reason is not None:
                        why = f"{f.shown}:{line}: {reason}"
                        dropped[line] = Malformed(why, decode(piece), f.shown, line)
                if not dropped:
                    raise
        self._rejects.extend(dropped.values())

    def _raw(self, f: InputFile, text: pa.RecordBatch, cell: BadCell) -> str:
        """The fields of a row set aside by ``convert``, joined by the file's delimiter."""
        delimiter = self.csv.parse_options(f.format, None).delimiter
        row = text.slice(cell.row, 1).to_pylist()[0]
        # Lenient reading parses fields as bytes (text_schema), so non-UTF-8 rows are rejects.
        return delimiter.join(
            "" if v is None else v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            for v in row.values()
        )

    def _collect_rejects(
        self,
        f: InputFile,
        spec: dict[str, Any],
        file_schema: pa.Schema,
        bad: BadRows | None,
        unconvertible: list[tuple[BadCell, str]],
    ) -> None:
        malformed = bad.rows if bad is not None else []
        wanted: dict[int, set[str]] = {}
        for cell, _ in unconvertible:
            wanted.setdefault(cell.column, set()).add(cell.value)
        total = len(malformed) + len(unconvertible)
        located = list(
            bad_lines(
                self.fs,
                f.path,
                f.format,
                f.compression,
                self.csv,
                len(file_schema),
                limit=total,
                bad_values=wanted,
                start=spec.get("start", 0),
                end=spec.get("end"),
            )
        )
        names = file_schema.names
        if len(located) == total:
            for line, text, why in located:
                why = re.sub(
                    r"^column #(\d+): cannot convert (.*)$",
                    lambda m: (
                        f"column {names[int(m.group(1)) - 1]!r}: cannot convert {m.group(2)}"
                        f" to {file_schema.field(int(m.group(1)) - 1).type}"
                    ),
                    why,
                )
                self._rejects.append(Malformed(f"{f.shown}:{line}: {why}", text, f.shown, line))
            return
        # The scan disagrees with Arrow's parser: keep what Arrow saw, without a line number.
        where = f.shown
        if "start" in spec:
            where = f"{f.shown} (bytes {spec['start']}-{spec['end']})"
        self._rejects.extend(
            Malformed(f"{where}: expected {len(file_schema)} fields", text, f.shown)
            for _, text in malformed
        )
        self._rejects.extend(
            Malformed(
                f"{where}: column {names[cell.column]!r}: cannot convert {cell.value!r} to"
                f" {file_schema.field(cell.column).type}",
                text,
                f.shown,
            )
            for cell, text in unconvertible
        )

    def drain_rejects(self) -> list[tuple[str, str]]:
        """Malformed rows skipped since the last call, as (reason with file:line, raw text)."""
        out, self._rejects = self._rejects, []
        return out

    def _data_error(
        self,
        f: InputFile,
        spec: dict[str, Any],
        file_schema: pa.Schema,
        exc: BaseException,
        bad: BadRows | None,
    ) -> SourceDataError:
        message = _first_line(exc)
        where = f.shown
        if f.format in ("csv", "tsv"):
            column_index = value = None
            match = _CONVERSION.search(str(exc))
            if match:
                column_index, value = int(match.group(1)), match.group(2)
            try:
                found = next(
                    bad_lines(
                        self.fs,
                        f.path,
                        f.format,
                        f.compression,
                        self.csv,
                        len(file_schema),
                        column_index,
                        value,
                        start=spec.get("start", 0),
                        end=spec.get("end"),
                    ),
                    None,
                )
            except (OSError, ValueError, EOFError, pa.ArrowException):
                found = None
            if found is not None:
                line, text, reason = found
                column = ""
                if column_index is not None and column_index < len(file_schema):
                    field = file_schema.field(column_index)
                    column = f" column {field.name!r} ({field.type})"
                    reason = f"cannot convert {value!r} to {field.type}"
                return SourceDataError(
                    f"{where}:{line}:{column} {reason}: {text[:200]!r}"
                    " (use -on-error skip|reject to set such rows aside)",
                    file=where,
                    line=line,
                )
            if "start" in spec:
                where = f"{where} (bytes {spec['start']}-{spec.get('end')})"
        else:
            one_block = f.compression is None and f.size <= CSV_BLOCK
            located = self._json_line(f, exc, first_block=one_block)
            if located is not None:
                return located
        return SourceDataError(f"{where}: malformed {f.format}: {message}", file=where)


class _WithoutLines:
    """A filesystem whose files read without the given lines (decompressed): the lines
    -on-error skip|reject sets aside, left out of schema inference too."""

    def __init__(self, fs: Any, compression: str | None, dropped: set[int]) -> None:
        self.fs = fs
        self.compression = compression
        self.dropped = dropped

    def open(self, path: str, mode: str = "rb", **_: Any) -> DropLines:
        return DropLines(open_binary(self.fs, path, self.compression), self.dropped)


_EXAMPLES = "*.csv, *.tsv, *.jsonl, *.json, *.parquet, *.arrow, optionally .gz/.zst/.bz2/.xz"


def _bad_bytes(exc: BaseException) -> bool:
    """Whether ``exc`` says the file's bytes are not what its format or compression needs
    (bad source data, exit 4) rather than that reading them failed. Arrow's Parquet, IPC and
    codec errors are plain OSErrors without an errno (a corrupted footer: "Couldn't
    deserialize thrift"); the operating system's errors carry an errno, and the storage
    libraries raise their own OSError subclasses or give one (s3fs: EIO)."""
    if isinstance(exc, (lzma.LZMAError, zlib.error, EOFError)):
        return True
    if not isinstance(exc, OSError) or exc.errno is not None:
        return False
    return type(exc) is OSError or isinstance(exc, (pa.ArrowException, gzip.BadGzipFile))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _visible(base: str, path: str) -> bool:
    """False for files under hidden or underscore directories below ``base`` (``_temporary/``,
    ``.staging/``, ``_delta_log/``): writers keep unfinished or private files there."""
    relative = path[len(base) :].strip("/") if path.startswith(base) else path
    return not any(part.startswith((".", "_")) for part in relative.split("/")[:-1])


def _hive_parts(base: str, path: str) -> tuple[tuple[str, str], ...]:
    relative = path[len(base) :].strip("/") if path.startswith(base) else path
    parts = relative.split("/")[:-1]
    out = []
    for part in parts:
        if "=" not in part:
            return ()
        key, _, value = part.partition("=")
        out.append((key, unquote(value)))
    return tuple(out)


def _to_schema(
    batch: pa.RecordBatch,
    schema: pa.Schema,
    hive: dict[str, str],
    hive_types: dict[str, pa.DataType],
    shown: str,
) -> pa.RecordBatch:
    """Reorder, cast and null-fill ``batch`` into the unified ``schema``; add hive columns."""
    if batch.schema.equals(schema) and not hive:
        return batch
    arrays = []
    n = batch.num_rows
    names = batch.schema.names
    for field in schema:
        if field.name in names:
            column = batch.column(names.index(field.name))
            if not column.type.equals(field.type):
                try:
                    column = column.cast(field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise SourceDataError(
                        f"{shown}: column {field.name!r} ({column.type}) cannot be read as"
                        f" {field.type}: {_first_line(exc)}",
                        file=shown,
                        column=field.name,
                    ) from None
        elif field.name in hive:
            value: Any = hive[field.name]
            if value == NULL_PARTITION:
                value = None
            elif pa.types.is_integer(hive_types.get(field.name, pa.string())):
                value = int(value)
            column = pa.repeat(pa.scalar(value, field.type), n)
        else:
            column = pa.nulls(n, field.type)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def open_reader(url: URL, settings: Settings) -> FileReader:
    """Open a file, directory, glob or prefix as a data source."""
    return FileReader(url, settings)


def narrow_to_table(source: str, table: str) -> str:
    """The source narrowed to a transformation's ``source_table``: ``<root>/<table>/`` or
    ``<root>/<table>.*`` when one exists, else the whole source."""
    from colmig.urls import parse as parse_url

    url = parse_url(source)
    fs, root = fsmod.filesystem(url)
    base, _, query = source.partition("?")
    suffix = f"?{query}" if query else ""
    try:
        if fs.isdir(fsmod.join(root, table)):
            return f"{base.rstrip('/')}/{table}{suffix}"
        if fs.glob(fsmod.join(root, f"{table}.*")):
            return f"{base.rstrip('/')}/{table}.*{suffix}"
    except Exception:
        return source
    return source
