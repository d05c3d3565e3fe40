"""Find the line of a malformed CSV or JSON Lines record (error path only: Arrow's fast
parsers do not report line numbers, so the file is re-scanned when something failed).

Scans read bytes through a buffered reader (its C ``readline`` is linear even on a line of
hundreds of megabytes) and keep each record's bytes exactly as in the file, so a rejected
row is stored as it was written: quotes, delimiters inside quotes and bytes that are not
UTF-8 included. Text handed back is decoded with ``surrogateescape``:
``text.encode("utf-8", "surrogateescape")`` gives the original bytes back.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from colmig.backends.files.formats import CsvOptions, open_binary

#: Bytes read at a time by the scans.
_BUFFER = 1 << 20
#: Longest record a scan holds in memory unless told otherwise.
DEFAULT_CAP = 1 << 30
#: The error of a record longer than the scan's cap.
TOO_LONG = "a record longer than -max-line-bytes starts here (an unclosed quote?)"


class _TooLong(Exception):
    """A record grew past the scan's cap."""


class _Raw(io.RawIOBase):
    """Any stream with ``read(n)`` as a raw stream, for :class:`io.BufferedReader`."""

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self.stream.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def decode(raw: bytes) -> str:
    """A record's bytes as text, without its line end, reversibly (``surrogateescape``)."""
    if raw.endswith(b"\r\n"):
        raw = raw[:-2]
    elif raw.endswith(b"\n"):
        raw = raw[:-1]
    return raw.decode("utf-8", "surrogateescape")


def lines_before(fs: Any, path: str, offset: int, compression: str | None = None) -> int:
    """How many lines come before the first line starting at or after byte ``offset`` (the
    first line of a byte range that starts there)."""
    if offset <= 0:
        return 0
    count = 0
    last = b"\n"
    with open_binary(fs, path, compression) as raw:
        left = offset
        while left > 0:
            chunk = raw.read(min(_BUFFER, left))
            if not chunk:
                return count
            count += chunk.count(b"\n")
            last = chunk[-1:]
            left -= len(chunk)
    # A range starting inside a line begins at the next one.
    return count if last == b"\n" else count + 1


def csv_records(
    fs: Any,
    path: str,
    fmt: str,
    compression: str | None,
    options: CsvOptions,
    start: int = 0,
    end: int | None = None,
    cap: int = DEFAULT_CAP,
) -> Iterator[tuple[int, bytes, list[str] | None, str | None]]:
    """(first line, exact bytes, fields or None, csv error or None) of every record of the
    file or of the byte range [start, end); lines count from 1 in the whole file. A record
    growing past ``cap`` bytes (an unclosed quote runs to the end of the file) ends the scan
    with its first bytes and the error :data:`TOO_LONG`."""
    delimiter = options.delimiter or ("\t" if fmt == "tsv" else ",")
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    # A 200 MB field is still one field: the limit is -max-line-bytes, checked by the reader.
    csv.field_size_limit(sys.maxsize)
    line = lines_before(fs, path, start, compression) if start else 0
    pending: list[bytes] = []
    with open_binary(fs, path, compression, start, end) as raw:
        buffered = io.BufferedReader(_Raw(raw), _BUFFER)

        def text() -> Iterator[str]:
            nonlocal line
            size = 0
            for piece in buffered:
                line += 1
                size = size + len(piece) if pending else len(piece)
                if size > cap:
                    raise _TooLong
                pending.append(piece)
                yield piece.decode("utf-8", "surrogateescape")

        reader = csv.reader(text(), delimiter=delimiter)
        first = line + 1
        while True:
            try:
                record: list[str] | None = next(reader)
                error = None
            except StopIteration:
                if pending:  # an unclosed quote ran to the end of the file
                    yield first, b"".join(pending), None, "unclosed quote"
                return
            except _TooLong:
                yield first, b"".join(pending)[:200], None, TOO_LONG
                return
            except csv.Error as exc:
                record, error = None, str(exc)
            yield first, b"".join(pending), record, error
            pending.clear()
            first = line + 1


def bad_lines(
    fs: Any,
    path: str,
    fmt: str,
    compression: str | None,
    options: CsvOptions,
    expected_columns: int,
    column_index: int | None = None,
    bad_value: str | None = None,
    limit: int = 1,
    bad_values: Mapping[int, set[str]] | None = None,
    start: int = 0,
    end: int | None = None,
    cap: int = DEFAULT_CAP,
) -> Iterator[tuple[int, str, str]]:
    """(line, exact text, reason) of up to ``limit`` records with the wrong number of fields,
    or whose field ``column_index`` equals ``bad_value``, or whose field ``i`` is one of
    ``bad_values[i]``. Lines count from 1, header included."""
    wanted: dict[int, set[str]] = {k: set(v) for k, v in (bad_values or {}).items()}
    if column_index is not None and bad_value is not None:
        wanted.setdefault(column_index, set()).add(bad_value)
    found = 0
    records = csv_records(fs, path, fmt, compression, options, start, end, cap)
    for index, (line, raw, record, error) in enumerate(records):
        if index == 0 and options.header and start == 0:
            continue
        reason = None
        if record is None:
            reason = f"cannot parse the line: {error}"
        elif (start or end is not None) and raw.count(b"\n") > 1:
            # Byte ranges are parsed line by line (the planner's quote sample missed this one).
            reason = "a quoted field holds a line break, which a file read in byte ranges cannot"
        elif not record:
            continue
        elif len(record) != expected_columns:
            reason = f"expected {expected_columns} fields, found {len(record)}"
        else:
            for column, values in wanted.items():
                # Bad values come as the csv module used to decode them: U+FFFD for non-UTF-8.
                value = record[column].encode("utf-8", "surrogateescape")
                shown = value.decode("utf-8", "replace")
                if shown in values:
                    reason = f"column #{column + 1}: cannot convert {shown!r}"
                    break
        if reason:
            yield line, decode(raw), reason
            found += 1
            if found >= limit:
                return


def longest_record(
    fs: Any,
    path: str,
    fmt: str,
    compression: str | None,
    options: CsvOptions,
    scan: int,
    cap: int = DEFAULT_CAP,
) -> tuple[int, int]:
    """(bytes, first line) of the longest record in about the first ``scan`` bytes: quoted
    newlines make a record longer than any of its lines; past ``cap``, ``cap + 1``."""
    best, at, seen = 0, 1, 0
    for line, raw, _, error in csv_records(fs, path, fmt, compression, options, cap=cap):
        if error is TOO_LONG:
            return cap + 1, line
        if len(raw) > best:
            best, at = len(raw), line
        seen += len(raw)
        if seen > scan:
            break
    return best, at


def json_lines(
    fs: Any, path: str, compression: str | None
) -> Iterator[tuple[int, bytes, str | None]]:
    """(line, exact bytes, reason or None) of every non-blank line: the reason says why the
    line is not a JSON object."""
    with open_binary(fs, path, compression) as raw:
        for number, piece in enumerate(io.BufferedReader(_Raw(raw), _BUFFER), 1):
            if not piece.strip():
                continue
            try:
                value = json.loads(piece)
            except ValueError as exc:
                reason = f"invalid JSON: {getattr(exc, 'msg', None) or exc}"
                yield number, piece, reason
                continue
            yield number, piece, None if isinstance(value, dict) else "not a JSON object"


def bad_json_line(
    fs: Any, path: str, compression: str | None, arrow_message: str, first_block: bool
) -> tuple[int, str, str] | None:
    """(line, text, reason) of the first JSON Lines record that is not a JSON object, else of
    the record Arrow's message names (``in row N``, counting non-blank lines from 0), which
    is only trusted when the error came from the first block (Arrow counts rows per block)."""
    row_match = re.search(r"\brow (\d+)", arrow_message) if first_block else None
    wanted_row = int(row_match.group(1)) if row_match else None
    for row, (number, piece, reason) in enumerate(json_lines(fs, path, compression)):
        if reason is not None:
            return number, decode(piece), reason
        if row == wanted_row:
            return number, decode(piece), arrow_message
    return None
