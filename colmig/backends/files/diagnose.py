"""Find the line of a malformed CSV or JSON Lines record (error path only: Arrow's fast
parsers do not report line numbers, so the file is re-scanned when something failed)."""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from colmig.backends.files.formats import CsvOptions, open_binary


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
) -> Iterator[tuple[int, str, str]]:
    """(line, text, reason) of up to ``limit`` records with the wrong number of fields, or
    whose field ``column_index`` equals ``bad_value``, or whose field ``i`` is one of
    ``bad_values[i]``. Lines count from 1, header included."""
    wanted: dict[int, set[str]] = {k: set(v) for k, v in (bad_values or {}).items()}
    if column_index is not None and bad_value is not None:
        wanted.setdefault(column_index, set()).add(bad_value)
    delimiter = options.delimiter or ("\t" if fmt == "tsv" else ",")
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    found = 0
    with open_binary(fs, path, compression) as raw:
        text = codecs.getreader("utf-8")(raw, errors="replace")
        reader = csv.reader(text, delimiter=delimiter)
        previous_end = 0
        for index, record in enumerate(reader):
            line = previous_end + 1
            previous_end = reader.line_num
            if index == 0 and options.header:
                continue
            if not record:
                continue
            reason = None
            if len(record) != expected_columns:
                reason = f"expected {expected_columns} fields, found {len(record)}"
            else:
                for index, values in wanted.items():
                    if record[index] in values:
                        reason = f"column #{index + 1}: cannot convert {record[index]!r}"
                        break
            if reason:
                yield line, delimiter.join(record), reason
                found += 1
                if found >= limit:
                    return


def bad_json_line(
    fs: Any, path: str, compression: str | None, arrow_message: str, first_block: bool
) -> tuple[int, str, str] | None:
    """(line, text, reason) of the first JSON Lines record that is not a JSON object, else of
    the record Arrow's message names (``in row N``, counting non-blank lines from 0), which
    is only trusted when the error came from the first block (Arrow counts rows per block)."""
    row_match = re.search(r"\brow (\d+)", arrow_message) if first_block else None
    wanted_row = int(row_match.group(1)) if row_match else None
    row = -1
    with open_binary(fs, path, compression) as raw:
        text = codecs.getreader("utf-8")(raw, errors="replace")
        for number, line in enumerate(text, 1):
            if not line.strip():
                continue
            row += 1
            try:
                value = json.loads(line)
            except ValueError as exc:
                return number, line.rstrip("\r\n"), f"invalid JSON: {exc.msg}"
            if not isinstance(value, dict):
                return number, line.rstrip("\r\n"), "not a JSON object"
            if row == wanted_row:
                return number, line.rstrip("\r\n"), arrow_message
    return None
