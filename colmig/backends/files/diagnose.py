"""Find the line of a malformed CSV record (error path only: Arrow's fast parser does not
report line numbers, so the file is re-scanned with the csv module when something failed)."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
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
) -> Iterator[tuple[int, str, str]]:
    """(line, text, reason) of up to ``limit`` records with the wrong number of fields, or
    whose field ``column_index`` equals ``bad_value``. Lines count from 1, header included."""
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
            elif (
                column_index is not None
                and bad_value is not None
                and record[column_index] == bad_value
            ):
                reason = f"cannot convert {bad_value!r}"
            if reason:
                yield line, delimiter.join(record), reason
                found += 1
                if found >= limit:
                    return
