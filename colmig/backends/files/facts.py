"""What the whole-input scan learned about one CSV/JSON column, and the type that follows.

The rule (documented in docs/files-and-object-storage.md, "Schema inference"):

- integers only: int64 when every value fits, else decimal128(38, 0) when every value has at
  most 38 digits, else string;
- numbers with a fraction or an exponent: float64 when every value is exactly a double (its
  text reads back as the same number), else decimal128(38, s) when every value is a plain
  decimal (no exponent, NaN or infinity) and integer digits + s <= 38, else string;
- true/false: bool; dates: date32; times: time; dates and naive timestamps: timestamp;
- timestamps with a zone (``Z``, ``+05:00``): timestamp[unit, UTC], the instants;
  naive ones next to zoned ones: UTC too when ``-assume-tz`` names the zone of the naive
  ones, else an error naming the file, the line and the column;
- anything else, or kinds that do not mix (numbers and words, numbers and booleans): string,
  holding the text exactly as written.

Facts travel from the per-file scan to the archive-wide unification as field metadata, so
files that disagree (int in one, float in another) are decided on all their values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

FACTS_KEY = b"colmig.facts"
NUMBERS = {"int", "bigint", "decimal", "float"}
NAIVE = {"ts", "date"}
_UNITS = ["s", "ms", "us", "ns"]


@dataclass
class Facts:
    """Kinds of values seen in one column, with what deciding its type needs."""

    kinds: set[str] = field(default_factory=set)
    unit: str = "s"  # the finest unit of its timestamps and times
    scale: int = 0  # the most digits after a decimal point
    int_digits: int = 0  # the most digits before it
    inexact: bool = False  # some number is not exactly a double
    naive: tuple[str, int] | None = None  # first naive timestamp (text, row)
    zoned: tuple[str, int] | None = None  # first zoned timestamp (text, row)
    nested: str | None = None  # JSON objects or arrays: the type Arrow gave them
    assume_tz: str | None = None
    #: Only the head of the file was read (CSV without -infer all): the read checks the rest.
    partial: bool = False

    def finer(self, unit: str) -> None:
        if _UNITS.index(unit) > _UNITS.index(self.unit):
            self.unit = unit

    def merge(self, other: Facts) -> Facts:
        out = Facts(
            kinds=self.kinds | other.kinds,
            unit=self.unit,
            scale=max(self.scale, other.scale),
            int_digits=max(self.int_digits, other.int_digits),
            inexact=self.inexact or other.inexact,
            naive=self.naive or other.naive,
            zoned=self.zoned or other.zoned,
            nested=self.nested or other.nested,
            assume_tz=self.assume_tz or other.assume_tz,
            partial=self.partial or other.partial,
        )
        out.finer(other.unit)
        return out

    def dumps(self) -> bytes:
        data = {k: v for k, v in self.__dict__.items() if v not in (None, False, 0, "s")}
        data["kinds"] = sorted(self.kinds)
        return json.dumps(data).encode()

    @classmethod
    def loads(cls, raw: bytes) -> Facts:
        data: dict[str, Any] = json.loads(raw)
        data["kinds"] = set(data.get("kinds", ()))
        for key in ("naive", "zoned"):
            if data.get(key):
                data[key] = tuple(data[key])
        return cls(**data)


class MixedZones(Exception):
    """Naive and zoned timestamps in one column, and no -assume-tz."""

    def __init__(self, facts: Facts) -> None:
        super().__init__("naive and zoned timestamps")
        self.facts = facts


def decide(facts: Facts) -> pa.DataType:
    """The column's type from ``facts`` (the rule in this module's docstring)."""
    kinds = facts.kinds
    if not kinds:
        return pa.null()
    if "text" in kinds or ("nested" in kinds and len(kinds) > 1):
        return pa.string()
    if kinds == {"nested"}:
        return _nested(facts.nested)
    if kinds <= NUMBERS:
        return _number(facts)
    if kinds == {"bool"}:
        return pa.bool_()
    if kinds == {"date"}:
        return pa.date32()
    if kinds == {"time"}:
        return pa.time32("s") if facts.unit == "s" else pa.time64("ns")
    if kinds <= NAIVE:
        return pa.timestamp(facts.unit)
    if kinds == {"tsz"}:
        return pa.timestamp(facts.unit, "UTC")
    if kinds <= NAIVE | {"tsz"}:
        if facts.assume_tz is None:
            raise MixedZones(facts)
        return pa.timestamp(facts.unit, "UTC")
    return pa.string()


def _number(facts: Facts) -> pa.DataType:
    kinds = facts.kinds
    if kinds == {"int"}:
        return pa.int64()
    if kinds <= {"int", "bigint"}:
        return pa.decimal128(38, 0) if facts.int_digits <= 38 else pa.string()
    if not facts.inexact and "bigint" not in kinds:
        return pa.float64()
    if "float" not in kinds and facts.int_digits + facts.scale <= 38:
        return pa.decimal128(38, facts.scale)
    return pa.string()


def _nested(serialized: str | None) -> pa.DataType:
    if serialized is None:
        return pa.string()
    return pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(serialized))).field(0).type


def nested_token(kind: pa.DataType) -> str:
    """``kind`` in a form Facts can carry through JSON."""
    return bytes(pa.schema([("x", kind)]).serialize()).hex()


def of(field_: pa.Field) -> Facts | None:
    """The facts a scanned field carries, if any."""
    meta = field_.metadata or {}
    raw = meta.get(FACTS_KEY)
    return Facts.loads(raw) if raw else None


def carrying(name: str, facts: Facts, kind: pa.DataType) -> pa.Field:
    return pa.field(name, kind, metadata={FACTS_KEY: facts.dumps()})
