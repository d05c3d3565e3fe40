"""The schema unification rule for archives whose files disagree.

Columns are the union of every file's columns, in first-seen order; a column missing from a
file reads as nulls there. Types are combined pairwise:

- equal types, or one side all-null: the other type;
- integers of different widths or signedness: the widest signed integer (int64);
- CSV and JSON columns are decided on the facts the whole-input scan gathered in every file
  (colmig/backends/files/facts.py): int in one file and 2**53 + 1 or a 30-digit decimal in
  another gives decimal128, never a double that lost digits;
- an integer of up to 32 bits and a float: float64 (every such integer is exactly a double);
  int64 or uint64 and a float, without the facts of their values: a conflict (a double
  holds only integers up to 2**53);
- two floats: float64; two decimals: a decimal wide enough for both;
- timestamps of different units: the finer unit; a zoned and a naive timestamp, or two
  different time zones: a conflict (silently shifting times is the bug we refuse to have);
- string and large_string (or binary variants): the large variant;
- a dictionary-encoded column (pandas categoricals, Parquet written with its Arrow schema)
  counts as its value type, so it unifies with plain columns and every target can hold it;
- anything else (string vs number, date vs timestamp, ...): a conflict, reported with both
  files and the column.
"""

from __future__ import annotations

import pyarrow as pa

from colmig.backends.files.facts import Facts, MixedZones, decide, of
from colmig.errors import SourceDataError


def _combine(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    if a.equals(b):
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    if pa.types.is_integer(a) and pa.types.is_integer(b):
        return pa.int64()
    if (pa.types.is_integer(a) or pa.types.is_floating(a)) and (
        pa.types.is_integer(b) or pa.types.is_floating(b)
    ):
        if any(pa.types.is_integer(t) and t.bit_width > 32 for t in (a, b)):
            return None
        return pa.float64()
    if pa.types.is_decimal(a) and pa.types.is_decimal(b):
        scale = max(a.scale, b.scale)
        integer_digits = max(a.precision - a.scale, b.precision - b.scale)
        return pa.decimal128(min(38, integer_digits + scale), scale)
    if pa.types.is_timestamp(a) and pa.types.is_timestamp(b):
        if a.tz != b.tz:
            return None
        order = ["s", "ms", "us", "ns"]
        unit = order[max(order.index(a.unit), order.index(b.unit))]
        return pa.timestamp(unit, tz=a.tz)
    strings = (pa.string(), pa.large_string())
    if a in strings and b in strings:
        return pa.large_string()
    binaries = (pa.binary(), pa.large_binary())
    if a in binaries and b in binaries:
        return pa.large_binary()
    return None


def _decoded(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def unify(schemas: list[tuple[str, pa.Schema]]) -> pa.Schema:
    """One schema for all ``(file, schema)`` pairs, or SourceDataError naming both files."""
    fields: dict[str, pa.DataType] = {}
    first_seen: dict[str, str] = {}
    facts: dict[str, Facts | None] = {}
    for path, schema in schemas:
        for field in schema:
            name = field.name
            kind = _decoded(field.type)
            if name not in fields:
                fields[name] = kind
                first_seen[name] = path
                facts[name] = of(field)
                continue
            seen, more = facts[name], of(field)
            combined, hint = None, "cast one of them (e.g. with a transform)"
            if seen is not None and more is not None:
                facts[name] = seen.merge(more)
                try:
                    combined = decide(facts[name])
                except MixedZones:
                    hint = "give the zone of the naive ones with -assume-tz ZONE"
            else:
                facts[name] = None
                combined = _combine(fields[name], kind)
            if combined is None:
                raise SourceDataError(
                    f"column {name!r} is {fields[name]} in {first_seen[name]} but {kind} in"
                    f" {path}; {hint}, declare the column's type (-column-type) or read the"
                    " files separately",
                    column=name,
                    files=[first_seen[name], path],
                )
            fields[name] = combined
    return pa.schema([pa.field(name, kind) for name, kind in fields.items()])
