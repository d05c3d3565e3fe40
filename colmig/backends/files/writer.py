"""Write Arrow batches to files and object storage: Parquet (default), CSV, JSON Lines, Arrow.

Output files are named ``part-<stem>-<n>.<ext>`` where ``stem`` is a hash of the job and the
partition, so a re-run of a partition rewrites exactly the same names. Locally each file is
written under a hidden temporary name (``.part-...tmp``, skipped by every Parquet reader) in
its final directory and renamed into place once the whole partition is written. On object
storage a file is a single multipart upload that becomes visible only when complete, so no
reader ever sees a half-written object. Leftovers of uncommitted partitions (after a crash)
are removed by :meth:`FileWriter.cleanup` before a resumed run writes anything.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from colmig.backends.base import Capabilities, ColumnStats, JobInfo, Partition, Writer, WriteResult
from colmig.backends.files import fs as fsmod
from colmig.backends.files import layout
from colmig.backends.files.storable import (
    check_json_values,
    check_storable,
    panic_types,
    utc_for_text,
    utc_schema,
)
from colmig.backends.sql_common import short_hash
from colmig.config import Settings, parse_size
from colmig.errors import ColmigError, ConfigError, TargetError
from colmig.urls import URL

TARGET_FORMATS = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl", "arrow": "arrow"}
_ALIASES = {"ndjson": "jsonl", "feather": "arrow", "ipc": "arrow", "pq": "parquet"}
_CODECS = {"zstd", "snappy", "gzip", "lz4", "brotli", "none"}
#: Flush a file's buffered rows as a row group past this many bytes, whatever the row count.
ROW_GROUP_BYTES = 64 << 20
#: With -partition-by, rows are grouped into directories this many at a time.
SPLIT_ROWS = 65_536
_PART = re.compile(r"^\.?part-([0-9a-f]{12,})-\d+\.")


@dataclass
class _OpenFile:
    """One output file being written: its sink, writer and not yet flushed rows."""

    final: str
    temp: str
    handle: Any
    writer: Any
    buffered: list[pa.RecordBatch] = field(default_factory=list)
    buffered_rows: int = 0
    buffered_bytes: int = 0
    rows: int = 0


class FileWriter(Writer):
    """A directory or prefix receiving one file set per partition."""

    def __init__(self, url: URL, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self.fs, self.root = fsmod.filesystem(url)
        self.local = url.scheme == "file"
        fmt = (url.query.get("format") or settings.target_format or "parquet").lower()
        fmt = _ALIASES.get(fmt, fmt)
        if fmt not in TARGET_FORMATS:
            raise ConfigError(
                f"-target-format {fmt!r} is not writable; use one of {', '.join(TARGET_FORMATS)}"
            )
        self.format = fmt
        codec = (url.query.get("compression") or settings.compression or "zstd").lower()
        if codec not in _CODECS:
            raise ConfigError(f"-compression {codec!r}: use one of {', '.join(sorted(_CODECS))}")
        self.codec = codec
        self.row_group_rows = max(1, settings.row_group_size)
        self.file_bytes = parse_size(settings.target_file_size)
        self.keys = layout.parse_partition_by(url.query.get("partition_by", settings.partition_by))
        if settings.write_mode != "append":
            raise ConfigError(
                f"-write-mode {settings.write_mode} is for table targets; a files target only"
                " appends (write to a new prefix, or re-run with -fresh to rewrite this job)"
            )
        self.capabilities = Capabilities(partition_by=True)

    def describe(self) -> str:
        return f"{self.format} files {self.url.redacted}"

    @property
    def extension(self) -> str:
        return self.format

    def _stem(self, job: JobInfo, partition_id: str) -> str:
        return short_hash(job.job_id, partition_id, length=16)

    def _base(self, job: JobInfo) -> str:
        return fsmod.join(self.root, job.target_table or "")

    def missing_outputs(self, job: JobInfo, outputs: Mapping[str, Iterable[str]]) -> set[str]:
        wanted = {pid: set(paths) for pid, paths in outputs.items() if paths}
        if not wanted:
            return set()
        base = self._base(job)
        try:
            present = (
                {self._shown(p) for p in self.fs.find(base)} if self.fs.exists(base) else set()
            )
        except Exception as exc:
            raise fsmod.classify(exc, f"cannot list {self.url.redacted}") from None
        return {pid for pid, paths in wanted.items() if not paths <= present}

    def output_of(self, partition: Partition, job: JobInfo) -> str | None:
        keys = "/".join(f"{k.name}=…" for k in self.keys)
        name = f"part-{self._stem(job, partition.id)}-*.{self.extension}"
        return self._shown(fsmod.join(self._base(job), keys, name))

    # --- coordinator side ---------------------------------------------------------------------

    def prepare(self, schema: pa.Schema, job: JobInfo, fresh: bool) -> None:
        layout.check_keys(self.keys, schema)
        dropped = self._dropped()
        check_storable(
            self.format, pa.schema([f for f in schema if f.name not in dropped]), self.describe()
        )
        base = self._base(job)
        try:
            if self.fs.isfile(base):
                raise ConfigError(f"target {self.url.redacted} is a file; name a directory")
            if self.local:
                os.makedirs(base, exist_ok=True)
            elif self.url.scheme != "memory":
                bucket = self.root.split("/", 1)[0]
                try:
                    # info, not exists: exists() also says False for an unreachable endpoint.
                    self.fs.info(bucket)
                except FileNotFoundError:
                    raise ConfigError(
                        f"target bucket or container {bucket!r} does not exist"
                        f" ({self.url.redacted}); create it first"
                    ) from None
        except ColmigError:
            raise
        except Exception as exc:
            raise fsmod.classify(exc, f"cannot prepare {self.url.redacted}") from None

    def cleanup(self, job: JobInfo, planned: Iterable[str], committed: set[str]) -> int:
        """Delete what earlier attempts left of planned partitions that are not committed."""
        stems = {self._stem(job, pid) for pid in planned if pid not in committed}
        if not stems:
            return 0
        base = self._base(job)
        try:
            if not self.fs.exists(base):
                return 0
            doomed = []
            for path in self.fs.find(base):
                match = _PART.match(path.rsplit("/", 1)[-1])
                if match and match.group(1) in stems:
                    doomed.append(path)
            for path in doomed:
                self.fs.rm_file(path)
            return len(doomed)
        except Exception as exc:
            raise fsmod.classify(exc, f"cannot clean up {self.url.redacted}") from None

    def rollback(self, job: JobInfo, partition_ids: Iterable[str]) -> None:
        """Delete the files of ``partition_ids`` (this run's commits) for -rollback-on-error."""
        self.cleanup(job, partition_ids, set())

    # --- worker side --------------------------------------------------------------------------

    def write_partition(
        self,
        partition: Partition,
        batches: Iterable[pa.RecordBatch],
        schema: pa.Schema,
        job: JobInfo,
    ) -> WriteResult:
        stem = self._stem(job, partition.id)
        base = self._base(job)
        self._active: str | None = None
        dropped = [k.column for k in self.keys if k.drops_column]
        file_schema = pa.schema([f for f in schema if f.name not in dropped])
        open_files: dict[str, _OpenFile] = {}
        done: list[_OpenFile] = []
        seq = 0
        rows = 0
        try:
            for batch in _blocks(batches, SPLIT_ROWS if self.keys else 0):
                rows += batch.num_rows
                for directory, part in layout.split(batch, self.keys):
                    current = open_files.get(directory)
                    if current is None:
                        current = self._open(base, directory, stem, seq, file_schema)
                        seq += 1
                        open_files[directory] = current
                    self._append(current, part)
                    if self._size(current) >= self.file_bytes:
                        self._close(current)
                        done.append(open_files.pop(directory))
            for current in open_files.values():
                self._close(current)
                done.append(current)
            open_files.clear()
            if self.local:
                for current in done:
                    self._active = self._shown(current.final)
                    os.replace(current.temp, current.final)
        except BaseException as exc:
            for current in list(open_files.values()) + done:
                self._abandon(current)
            if isinstance(exc, panic_types()):
                # Polars (JSON Lines) panics instead of raising on values it cannot write.
                raise TargetError(
                    f"{self.describe()}: cannot write {partition.label}: {exc}"
                ) from None
            if isinstance(exc, ColmigError) or not isinstance(exc, Exception):
                raise
            if isinstance(exc, (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)):
                raise TargetError(
                    f"{self.describe()}: cannot write {partition.label}: {exc}"
                ) from None
            if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:
                # Arrow's write errors carry the errno but not the file: name it.
                text = exc.strerror or os.strerror(exc.errno)
                exc = OSError(exc.errno, text, self._active)
            raise fsmod.classify(exc, f"writing {partition.label} to {self.url.redacted}") from exc
        nbytes = sum(self._final_size(c) for c in done)
        outputs = tuple(self._shown(c.final) for c in done)
        return WriteResult(rows=rows, bytes=nbytes, outputs=outputs)

    def _open(self, base: str, directory: str, stem: str, seq: int, schema: pa.Schema) -> _OpenFile:
        folder = fsmod.join(base, directory)
        name = f"part-{stem}-{seq}.{self.extension}"
        final = fsmod.join(folder, name)
        if self.local:
            os.makedirs(folder, exist_ok=True)
            temp = fsmod.join(folder, f".{name}.tmp")
            handle: Any = open(temp, "wb")  # noqa: SIM115 - closed in _close/_abandon
        else:
            temp = final
            handle = self.fs.open(final, "wb", block_size=32 << 20)
        if self.format == "parquet":
            compression = None if self.codec == "none" else self.codec
            writer: Any = pq.ParquetWriter(
                handle,
                schema,
                compression=compression,
                use_dictionary=True,
                write_statistics=True,
            )
        elif self.format == "csv":
            writer = pacsv.CSVWriter(handle, utc_schema(schema))
        elif self.format == "arrow":
            options = None if self.codec == "none" else pa.ipc.IpcWriteOptions(compression="zstd")
            writer = pa.ipc.new_file(handle, schema, options=options)
        else:
            writer = None
        return _OpenFile(final=final, temp=temp, handle=handle, writer=writer)

    def _append(self, current: _OpenFile, batch: pa.RecordBatch) -> None:
        if self.format != "parquet":
            self._write_now(current, [batch])
            return
        current.buffered.append(batch)
        current.buffered_rows += batch.num_rows
        current.buffered_bytes += batch.nbytes
        if (
            current.buffered_rows >= self.row_group_rows
            or current.buffered_bytes >= ROW_GROUP_BYTES
        ):
            self._flush(current)

    def _flush(self, current: _OpenFile) -> None:
        if current.buffered:
            self._write_now(current, current.buffered)
            current.buffered = []
            current.buffered_rows = 0
            current.buffered_bytes = 0

    def _write_now(self, current: _OpenFile, batches: list[pa.RecordBatch]) -> None:
        self._active = self._shown(current.final)
        table = pa.Table.from_batches(batches)
        if self.format in ("csv", "jsonl"):
            table = utc_for_text(table)
        if self.format == "jsonl":
            check_json_values(table, self.describe(), current.rows)
        current.rows += table.num_rows
        if self.format == "parquet":
            current.writer.write_table(table, row_group_size=self.row_group_rows)
        elif self.format in ("csv", "arrow"):
            current.writer.write_table(table)
        else:
            import polars as pl

            frame = pl.from_arrow(table)
            assert isinstance(frame, pl.DataFrame)
            frame.write_ndjson(current.handle)

    def _size(self, current: _OpenFile) -> int:
        try:
            return int(current.handle.tell())
        except Exception:
            return 0

    def _close(self, current: _OpenFile) -> None:
        self._flush(current)
        self._active = self._shown(current.final)
        if current.writer is not None:
            current.writer.close()
        current.handle.close()

    def _abandon(self, current: _OpenFile) -> None:
        if getattr(current.writer, "is_open", False):
            # Else ParquetWriter.__del__ would write a footer: into a closed local file (an
            # "Exception ignored" warning) or, remotely, complete the abandoned upload.
            current.writer.is_open = False
        completed = bool(current.handle.closed)
        try:
            if not completed:
                if self.local:
                    current.handle.close()
                elif hasattr(current.handle, "discard"):
                    current.handle.discard()  # abort the multipart upload: nothing appears
                else:
                    current.handle.close()
        except Exception:
            pass
        if self.local:
            for path in (current.temp, current.final):
                with contextlib.suppress(OSError):
                    os.remove(path)
        elif completed:
            # A file rolled over at -target-file-size is already a visible object: a partition
            # that fails later must not leave it behind for readers.
            with contextlib.suppress(Exception):
                self.fs.rm_file(current.final)

    def _final_size(self, current: _OpenFile) -> int:
        try:
            return int(self.fs.size(current.final))
        except Exception:
            return 0

    def _shown(self, path: str) -> str:
        return fsmod.display(self.url, self.fs, path)

    # --- validation ---------------------------------------------------------------------------

    def partition_files(self, partition: Partition, job: JobInfo) -> list[str]:
        """The committed output files of ``partition``."""
        stem = self._stem(job, partition.id)
        base = self._base(job)
        if not self.fs.exists(base):
            return []
        return sorted(
            path
            for path in self.fs.find(base)
            if path.rsplit("/", 1)[-1].startswith(f"part-{stem}-")
        )

    def partition_stats(
        self, partition: Partition, schema: pa.Schema, job: JobInfo
    ) -> dict[str, ColumnStats] | None:
        from colmig.engine.checksums import StatsAccumulator

        acc = StatsAccumulator(schema)
        base = self._base(job)
        for path in self.partition_files(partition, job):
            relative = path[len(base) :].strip("/")
            hive = dict(part.split("=", 1) for part in relative.split("/")[:-1] if "=" in part)
            for batch in self._read_back(path, schema):
                acc.add(_restore_keys(batch, schema, self.keys, hive))
        return acc.result()

    def _read_back(self, path: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """The batches of one output file, in ``schema``'s types (plain keys missing)."""
        present = pa.schema([f for f in schema if f.name not in self._dropped()])
        with self.fs.open(path, "rb") as handle:
            if self.format == "parquet":
                yield from pq.ParquetFile(handle).iter_batches(batch_size=1 << 16)
            elif self.format == "arrow":
                reader = pa.ipc.open_file(handle)
                for i in range(reader.num_record_batches):
                    yield reader.get_batch(i)
            elif self.format == "csv":
                types = {f.name: f.type for f in present}
                # Written by Arrow: null is an empty field, the empty string is "".
                options = pacsv.ConvertOptions(
                    column_types=types,
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                )
                yield from pacsv.open_csv(handle, convert_options=options)
            else:
                # JSON has no timestamp, date or decimal: those were written as text.
                as_text = pa.schema(
                    [f.with_type(pa.string()) if _textual_in_json(f.type) else f for f in present]
                )
                options = pajson.ParseOptions(
                    explicit_schema=as_text, unexpected_field_behavior="ignore"
                )
                for batch in pajson.open_json(handle, parse_options=options):
                    yield batch.cast(present)

    def _dropped(self) -> list[str]:
        return [k.column for k in self.keys if k.drops_column]


def _textual_in_json(kind: pa.DataType) -> bool:
    return (
        pa.types.is_temporal(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _blocks(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Merge small batches into blocks of about ``rows`` rows (0: pass through), so hive
    splitting sorts and groups once per block instead of once per small batch."""
    if rows <= 0:
        yield from batches
        return
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if not pending and batch.num_rows >= rows:
            yield batch  # already big enough: no copy
            continue
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]
            pending, count = [], 0
    if count:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def _restore_keys(
    batch: pa.RecordBatch, schema: pa.Schema, keys: list[layout.PartitionKey], hive: dict[str, str]
) -> pa.RecordBatch:
    """Put plain partition-key columns (stored only in directory names) back into rows."""
    arrays = []
    for f in schema:
        if f.name in batch.schema.names:
            arrays.append(batch.column(batch.schema.get_field_index(f.name)))
            continue
        value = layout.decode(hive.get(f.name, layout.NULL_PARTITION))
        scalar = pa.scalar(value, pa.string()).cast(f.type) if value is not None else None
        arrays.append(
            pa.repeat(scalar, batch.num_rows)
            if scalar is not None
            else pa.nulls(batch.num_rows, f.type)
        )
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def open_writer(url: URL, settings: Settings) -> FileWriter:
    """Open a directory or prefix as a data target."""
    return FileWriter(url, settings)
