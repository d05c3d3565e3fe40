"""The plan-time pass over a whole CSV file: every value decides the column types.

Reading only the first megabyte missed columns that start empty, numbers that grow past
int64 and zones that change half-way. So before anything is written, each CSV file is parsed
once more as raw bytes (Arrow's multi-threaded parser, bounded memory: one block at a time)
and every block adds to the facts of its columns (``infer.observe``). Columns declared with
``-schema``/``-column-type`` are parsed as declared instead, so a value that does not fit
fails here, before any row is written, with its line.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from colmig.backends.files.convert import _bad_rows, _bisect, cast_text
from colmig.backends.files.facts import Facts, MixedZones, carrying, decide
from colmig.backends.files.infer import observe
from colmig.errors import SourceDataError


def scan_csv(
    fs: Any,
    path: str,
    fmt: str,
    compression: str | None,
    options: Any,
    head: pa.Schema,
    block_size: int,
) -> pa.Schema:
    """The schema of a CSV file from all its values; ``head`` gives the column names."""
    from colmig.backends.files.formats import BadRows, csv_stream, open_binary

    declared = dict(options.declared)
    lenient = options.on_error != "fail"
    names = head.names
    types = dict.fromkeys(names, pa.binary())
    facts = {name: Facts(assume_tz=options.assume_tz) for name in names if name not in declared}
    row = 0
    given_names = None if options.header else names
    partial = False
    try:
        with open_binary(fs, path, compression) as raw:
            # The head needs one block; a byte more tells that the file goes on.
            stream = _Counting(raw, None if options.infer_all else block_size + 1)
            reader = csv_stream(
                stream,
                fmt,
                options,
                given_names,
                types,
                BadRows("skip"),  # malformed rows are the read's business, with their lines
                block_size=block_size,
            )
            for batch in reader:
                for index, name in enumerate(names):
                    if name in facts:
                        text = _text(batch.column(index), lenient)
                        observe(facts[name], text, row, options.timestamp_format)
                    elif not lenient:
                        _check(batch.column(index), declared[name], options, index)
                row += batch.num_rows
                # Arrow reads blocks ahead: more bytes than one block means more rows.
                if not options.infer_all and stream.total > block_size:
                    # The head decides; the read checks every later value against it.
                    partial = True
                    break
    except pa.ArrowInvalid:
        located = invalid_utf8(fs, path, compression)
        if located is not None:
            raise utf8_error(path, options, located) from None
        raise
    except _NotUtf8:
        located = invalid_utf8(fs, path, compression)
        raise utf8_error(path, options, located) from None
    except _Unfit as unfit:
        raise _unfit_error(fs, path, fmt, compression, options, names, unfit) from None
    if partial:
        for seen in facts.values():
            seen.partial = True
            if not seen.kinds:
                seen.kinds.add("text")  # empty in the head: only text holds whatever follows
    fields = []
    for index, name in enumerate(names):
        if name in declared:
            fields.append(pa.field(name, declared[name]))
            continue
        try:
            fields.append(carrying(name, facts[name], decide(facts[name])))
        except MixedZones as mixed:
            raise mixed_zones_error(
                fs, path, fmt, compression, options, names, index, mixed
            ) from None
    return pa.schema(fields)


class _Counting(io.RawIOBase):
    """A read-through stream that counts the bytes read from it, up to ``limit``."""

    def __init__(self, raw: Any, limit: int | None) -> None:
        super().__init__()
        self.raw = raw
        self.total = 0
        self.limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        if self.limit is not None:
            want = min(want, self.limit - self.total)
        chunk = self.raw.read(want) if want > 0 else b""
        self.total += len(chunk)
        buffer[: len(chunk)] = chunk
        return len(chunk)


class _NotUtf8(Exception):
    pass


class _Unfit(Exception):
    def __init__(self, index: int, kind: pa.DataType, value: str) -> None:
        super().__init__(value)
        self.index, self.kind, self.value = index, kind, value


def _check(column: pa.Array, kind: pa.DataType, options: Any, index: int) -> None:
    """Raise _Unfit with the first value of ``column`` that does not fit its declared type."""
    try:
        text = column.cast(pa.string())
    except pa.ArrowInvalid:
        raise _NotUtf8 from None
    try:
        cast_text(text, kind, options.timestamp_format, options.assume_tz)
        return
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    rows = _bad_rows(text, kind, options.timestamp_format, options.assume_tz)
    if not rows:  # not a per-value failure: report it as it is
        cast_text(text, kind, options.timestamp_format, options.assume_tz)
    raise _Unfit(index, kind, str(text[rows[0]].as_py()))


def _unfit_error(
    fs: Any,
    path: str,
    fmt: str,
    compression: str | None,
    options: Any,
    names: list[str],
    unfit: _Unfit,
) -> SourceDataError:
    shown = options.shown(path)
    name = names[unfit.index]
    line = _line_of(fs, path, fmt, compression, options, names, unfit.index, (unfit.value, -1))
    return SourceDataError(
        f"{shown}:{line}: column {name!r}: {unfit.value!r} does not fit its declared type"
        f" {unfit.kind} (use -on-error skip|reject to set such rows aside)",
        file=shown,
        line=line,
        column=name,
    )


def _text(column: pa.Array, lenient: bool) -> pa.Array:
    """Raw bytes as text; bytes that are not UTF-8 leave the inference (they are the read's
    rejects) under skip/reject and stop the scan otherwise."""
    try:
        return column.cast(pa.string())
    except pa.ArrowInvalid:
        if not lenient:
            raise _NotUtf8 from None
    broken = set(_bisect(column, pa.string(), None))
    keep = pa.array([i not in broken for i in range(len(column))])
    return pc.if_else(keep, column, pa.scalar(None, column.type)).cast(pa.string())


def invalid_utf8(fs: Any, path: str, compression: str | None) -> tuple[int, int] | None:
    """(line, byte offset in the file) of the first byte that is not UTF-8, if any."""
    from colmig.backends.files.formats import open_binary

    line, offset, carry = 1, 0, b""
    with open_binary(fs, path, compression) as stream:
        while True:
            chunk = stream.read(8 << 20)
            data = carry + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            whole, carry = data[:cut], data[cut:]
            try:
                whole.decode("utf-8")
            except UnicodeDecodeError as exc:
                return line + whole.count(b"\n", 0, exc.start), offset + exc.start
            line += whole.count(b"\n")
            offset += len(whole)
            if not chunk:
                return None


def utf8_error(path: str, options: Any, located: tuple[int, int] | None) -> SourceDataError:
    shown = options.shown(path)
    if located is None:
        return SourceDataError(f"{shown}: not valid UTF-8", file=shown)
    line, offset = located
    return SourceDataError(
        f"{shown}:{line}: invalid UTF-8 at byte offset {offset}; colmig reads text as UTF-8"
        " (convert the file, e.g. iconv -f latin1 -t utf-8; -on-error skip|reject sets such"
        " CSV rows aside)",
        file=shown,
        line=line,
    )


def mixed_zones_error(
    fs: Any,
    path: str,
    fmt: str,
    compression: str | None,
    options: Any,
    names: list[str],
    index: int,
    mixed: MixedZones,
) -> SourceDataError:
    """Naive and zoned timestamps in one column: name both, with their lines."""
    shown = options.shown(path)
    found = []
    for sample in (mixed.facts.zoned, mixed.facts.naive):
        assert sample is not None
        line = _line_of(fs, path, fmt, compression, options, names, index, sample)
        found.append((sample[0], line))
    (zoned, zoned_line), (naive, naive_line) = found
    return SourceDataError(
        f"{shown}:{naive_line}: column {names[index]!r} mixes naive timestamps ({naive!r}) with"
        f" zoned ones ({zoned!r} at line {zoned_line}); give the zone of the naive ones with"
        " -assume-tz ZONE (e.g. -assume-tz UTC), or declare the column's type",
        file=shown,
        line=naive_line,
        column=names[index],
    )


def _line_of(
    fs: Any,
    path: str,
    fmt: str,
    compression: str | None,
    options: Any,
    names: list[str],
    index: int,
    sample: tuple[str, int],
) -> int | str:
    if fmt == "jsonl":
        from colmig.backends.files.jsonscan import line_of_row

        return line_of_row(fs, path, compression, sample[1])
    from colmig.backends.files.diagnose import bad_lines

    found = next(bad_lines(fs, path, fmt, compression, options, len(names), index, sample[0]), None)
    return found[0] if found else f"row {sample[1] + 1}"


def inexact_error(
    fs: Any,
    path: str,
    fmt: str,
    compression: str | None,
    options: Any,
    schema: pa.Schema,
    inexact: Any,
) -> SourceDataError:
    """A number past the head of a file that its double column cannot hold."""
    shown = options.shown(path)
    names = schema.names
    index = names.index(inexact.column)
    line = _line_of(fs, path, fmt, compression, options, names, index, (inexact.value, -1))
    kind = schema.field(index).type
    why = "is not exactly a double" if pa.types.is_floating(kind) else f"does not fit {kind}"
    return SourceDataError(
        f"{shown}:{line}: column {inexact.column!r}: {inexact.value!r} {why}, the type the start"
        " of the file gave it; read with -infer all (types from every value), give the zone of"
        " naive times with -assume-tz, or declare the type (-column-type, e.g. decimal(38,10)"
        " or string)",
        file=shown,
        line=line,
        column=inexact.column,
    )
