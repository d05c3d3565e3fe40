"""JSON Lines: the plan-time pass over every line, and the exact reader for what Arrow's JSON
parser cannot read without changing a value.

The scan reads the file in blocks of whole lines. Arrow's JSON parser infers each block (fast);
a key first seen late becomes a column, null before. Arrow reads every number through a
double, so a block holding a run of 16 or more digits (a number a double may not hold), or
that Arrow cannot infer at all (a key holding numbers and strings), is read again in Python
with the numbers' text kept, and its columns are decided by the same rule as CSV's
(colmig/backends/files/facts.py). Timestamps are classified zoned or naive on their text.

A column whose values Arrow would change (numbers next to text, read as the text as written)
is read by :func:`exact_batches`, in Python: slower, and only for the files that need it.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

from colmig.backends.files.facts import NUMBERS, Facts, MixedZones, carrying, decide, nested_token
from colmig.backends.files.infer import _timestamps, observe
from colmig.errors import SourceDataError

BLOCK = 8 << 20
#: Rows per batch of the exact (Python) reader.
EXACT_ROWS = 65_536
#: A run of digits (and points) this long may be a number a double does not hold.
_LONG_RUN = 16
#: Kinds that come from JSON numbers, booleans and objects: text targets need their source text.
NOT_TEXT = NUMBERS | {"bool", "nested"}


class _Num(str):
    """A JSON number as written."""


def _loads(line: bytes | str) -> Any:
    return json.loads(line, parse_float=_Num, parse_int=_Num)


def blocks(fs: Any, path: str, compression: str | None) -> Iterator[tuple[int, int, bytes]]:
    """(first line number, byte offset, bytes) of blocks of whole lines."""
    from colmig.backends.files.formats import open_binary

    line, offset, carry = 1, 0, b""
    with open_binary(fs, path, compression) as stream:
        while True:
            chunk = stream.read(BLOCK)
            data = carry + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            if cut == 0 and chunk:
                carry = data  # a line longer than the block: read on
                continue
            whole, carry = data[:cut], data[cut:]
            if whole:
                yield line, offset, whole
                line += whole.count(b"\n")
                offset += len(whole)
            if not chunk:
                return


def scan_jsonl(fs: Any, path: str, compression: str | None, options: Any) -> pa.Schema:
    """The schema of a JSON Lines file from all its values."""
    declared = dict(options.declared)
    # Any JSON value reads as text (numbers as written): only other types can refuse one.
    checked = {n: k for n, k in declared.items() if not pa.types.is_string(k)}
    facts: dict[str, Facts] = {}
    nested: dict[str, pa.DataType] = {}
    row = 0
    shown = options.shown(path)
    for line, offset, data in blocks(fs, path, compression):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = line + data.count(b"\n", 0, exc.start)
            raise SourceDataError(
                f"{shown}:{bad}: invalid UTF-8 at byte offset {offset + exc.start}; colmig reads"
                " JSON as UTF-8 (convert the file, e.g. iconv -f latin1 -t utf-8)",
                file=shown,
                line=bad,
            ) from None
        if checked:
            _check_declared(data, line, shown, checked, options)
        table = None if _long_numbers(data) else _arrow_block(data)
        if table is None:
            rows = _python_block(data, line, shown, facts, nested, row, options)
        else:
            rows = table.num_rows
            _arrow_facts(table, data, facts, nested, row, options)
        row += rows
    fields = []
    for name, seen in facts.items():
        seen.assume_tz = options.assume_tz
        if name in declared:
            fields.append(carrying(name, seen, declared[name]))
            continue
        try:
            kind = decide(seen)
        except MixedZones as mixed:
            raise _mixed(fs, path, compression, shown, name, mixed) from None
        if kind == pa.string() and "nested" in seen.kinds and len(seen.kinds) == 1:
            kind = nested[name]
        fields.append(carrying(name, seen, kind))
    return pa.schema(fields)


def _check_declared(
    data: bytes, first_line: int, shown: str, declared: dict[str, pa.DataType], options: Any
) -> None:
    """Parse the declared columns of a block as declared; name the first value that does not
    fit with its line (found line by line, only when the block failed)."""
    try:
        _as_declared(data, declared, options)
        return
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    for number, line in enumerate(data.split(b"\n"), first_line):
        if not line.strip():
            continue
        value = _parsed(line, number, shown)
        for name, kind in declared.items():
            if name not in value:
                continue
            try:
                _as_declared(line, {name: kind}, options)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise SourceDataError(
                    f"{shown}:{number}: column {name!r}: {_as_text(value[name])!r} does not fit"
                    f" its declared type {kind}",
                    file=shown,
                    line=number,
                    column=name,
                ) from None


def _as_declared(data: bytes, declared: dict[str, pa.DataType], options: Any) -> None:
    from colmig.backends.files.convert import cast_text

    stamps = {n for n, k in declared.items() if pa.types.is_timestamp(k)}
    schema = pa.schema([(n, pa.string() if n in stamps else k) for n, k in declared.items()])
    table = pajson.read_json(
        io.BytesIO(data),
        read_options=pajson.ReadOptions(block_size=len(data) + 1),
        parse_options=pajson.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="ignore"
        ),
    )
    for name in stamps:
        cast_text(table.column(name).combine_chunks(), declared[name], None, options.assume_tz)


def _long_numbers(data: bytes) -> bool:
    """Whether ``data`` holds a run of 16+ digits or points (cheap: numpy over the bytes)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    digit = ((raw >= 48) & (raw <= 57)) | (raw == 46)
    if not digit.any():
        return False
    # Lengths of runs of True: positions where a run starts and ends.
    edges = np.flatnonzero(np.diff(np.concatenate(([0], digit.view(np.int8), [0]))))
    return bool(((edges[1::2] - edges[0::2]) >= _LONG_RUN).any())


def _arrow_block(data: bytes) -> pa.Table | None:
    try:
        return pajson.read_json(
            io.BytesIO(data),
            read_options=pajson.ReadOptions(block_size=len(data) + 1),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _arrow_facts(
    table: pa.Table,
    data: bytes,
    facts: dict[str, Facts],
    nested: dict[str, pa.DataType],
    row: int,
    options: Any,
) -> None:
    stamps = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        seen = facts.setdefault(name, Facts())
        kind = column.type
        values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if pa.types.is_null(kind):
            continue
        if pa.types.is_timestamp(kind):
            stamps.append(name)
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
            # No long digit runs in the block: every number is its double's shortest text.
            text = values.cast(pa.string())
            observe(seen, text, row, None)
        elif pa.types.is_boolean(kind):
            seen.kinds.add("bool")
        elif pa.types.is_string(kind):
            seen.kinds.add("text")
        else:
            _nested(seen, nested, name, kind)
    if stamps:
        # Arrow drops the zone it parsed: classify the text.
        as_text = pa.schema([(name, pa.string()) for name in stamps])
        parse = pajson.ParseOptions(explicit_schema=as_text, unexpected_field_behavior="ignore")
        text = pajson.read_json(
            io.BytesIO(data),
            read_options=pajson.ReadOptions(block_size=len(data) + 1),
            parse_options=parse,
        )
        for name in stamps:
            values = text.column(name).combine_chunks()
            if not _timestamps(facts[name], values, row, None):
                facts[name].kinds.add("text")


def _nested(seen: Facts, nested: dict[str, pa.DataType], name: str, kind: pa.DataType) -> None:
    seen.kinds.add("nested")
    if name not in nested:
        nested[name] = kind
        seen.nested = nested_token(kind)
    elif not nested[name].equals(kind):
        seen.kinds.add("text")  # objects that differ: a declared string keeps them as JSON


def _python_block(
    data: bytes,
    first_line: int,
    shown: str,
    facts: dict[str, Facts],
    nested: dict[str, pa.DataType],
    row: int,
    options: Any,
) -> int:
    """Facts of a block Arrow cannot read exactly, from Python's parser; returns its rows."""
    columns: dict[str, list[Any]] = {}
    rows = 0
    for number, line in enumerate(data.split(b"\n"), first_line):
        if not line.strip():
            continue
        value = _parsed(line, number, shown)
        for key, item in value.items():
            columns.setdefault(key, [None] * rows).append(item)
        rows += 1
        for values in columns.values():
            if len(values) < rows:
                values.append(None)
    for name, values in columns.items():
        seen = facts.setdefault(name, Facts())
        numbers = [v if isinstance(v, _Num) else None for v in values]
        strings = [v if type(v) is str else None for v in values]
        if any(v is not None for v in numbers):
            text = pa.array(numbers, pa.string())
            before = set(seen.kinds)
            seen.kinds.discard("text")
            observe(seen, text, row, None)
            if "text" in before:
                seen.kinds.add("text")
        if any(isinstance(v, bool) for v in values):
            seen.kinds.add("bool")
        if any(v is not None for v in strings):
            text = pa.array(strings, pa.string())
            if not _timestamps(seen, text, row, None):
                seen.kinds.add("text")
        objects = [v for v in values if isinstance(v, dict | list)]
        if objects:
            _nested(seen, nested, name, pa.array([_plain(v) for v in objects]).type)
    return rows


def _parsed(line: bytes, number: int, shown: str) -> dict[str, Any]:
    try:
        value = _loads(line)
    except ValueError as exc:
        raise SourceDataError(
            f"{shown}:{number}: invalid JSON: {getattr(exc, 'msg', exc)}: {line[:200]!r}",
            file=shown,
            line=number,
        ) from None
    if not isinstance(value, dict):
        raise SourceDataError(
            f"{shown}:{number}: not a JSON object: {line[:200]!r}", file=shown, line=number
        )
    return value


def _plain(value: Any) -> Any:
    """``value`` with JSON numbers as Python numbers (for Arrow's nested types)."""
    if isinstance(value, _Num):
        return int(value) if re.fullmatch(r"-?\d+", value) else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _mixed(
    fs: Any, path: str, compression: str | None, shown: str, name: str, mixed: MixedZones
) -> SourceDataError:
    zoned, naive = mixed.facts.zoned, mixed.facts.naive
    assert zoned is not None and naive is not None
    naive_line = line_of_row(fs, path, compression, naive[1])
    zoned_line = line_of_row(fs, path, compression, zoned[1])
    return SourceDataError(
        f"{shown}:{naive_line}: column {name!r} mixes naive timestamps ({naive[0]!r}) with"
        f" zoned ones ({zoned[0]!r} at line {zoned_line}); give the zone of the naive ones with"
        " -assume-tz ZONE (e.g. -assume-tz UTC), or declare the column's type",
        file=shown,
        line=naive_line,
        column=name,
    )


def line_of_row(fs: Any, path: str, compression: str | None, row: int) -> int | str:
    """The line of the ``row``-th record (from 0; blank lines are not records)."""
    seen = -1
    for first, _, data in blocks(fs, path, compression):
        for number, line in enumerate(data.split(b"\n"), first):
            if line.strip():
                seen += 1
                if seen == row:
                    return number
    return f"row {row + 1}"


# --- reading --------------------------------------------------------------------------------


def needs_exact(schema: pa.Schema) -> bool:
    """Whether a file's columns need the Python reader: a text column that also holds
    numbers, booleans or objects (Arrow refuses them, or would print a double's digits)."""
    from colmig.backends.files.facts import of

    for field in schema:
        facts = of(field)
        if facts is not None and pa.types.is_string(field.type) and facts.kinds & NOT_TEXT:
            return True
    return False


def exact_batches(
    fs: Any, path: str, compression: str | None, schema: pa.Schema, options: Any
) -> Iterator[pa.RecordBatch]:
    """Batches of ``schema`` read by Python's JSON parser, numbers as their text."""
    from colmig.backends.files.convert import cast_text

    shown = options.shown(path)
    clean = pa.schema([pa.field(f.name, f.type) for f in schema])
    names = clean.names
    pending: list[dict[str, Any]] = []

    def batch() -> pa.RecordBatch:
        arrays = []
        for field in clean:
            values = [row.get(field.name) for row in pending]
            arrays.append(_array(values, field.type, cast_text, options))
        pending.clear()
        return pa.RecordBatch.from_arrays(arrays, schema=clean)

    for first, _, data in blocks(fs, path, compression):
        for number, line in enumerate(data.split(b"\n"), first):
            if not line.strip():
                continue
            value = _parsed(line, number, shown)
            pending.append({k: value[k] for k in names if k in value})
            if len(pending) >= EXACT_ROWS:
                yield batch()
    if pending:
        yield batch()


def _array(values: list[Any], kind: pa.DataType, cast_text: Any, options: Any) -> pa.Array:
    if pa.types.is_string(kind):
        return pa.array([_as_text(v) for v in values], kind)
    if pa.types.is_timestamp(kind):
        text = pa.array([None if v is None else str(v) for v in values], pa.string())
        return cast_text(text, kind, None, options.assume_tz)
    if pa.types.is_decimal(kind):
        return pa.array([None if v is None else Decimal(v) for v in values], kind)
    return pa.array([_plain(v) for v in values], kind)


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value  # a JSON string, or a number as written (_Num)
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(_plain(value), ensure_ascii=False)
