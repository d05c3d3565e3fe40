"""The type matrix: every Arrow type through every target and back, as a user runs it.

A source Parquet file holding one column per Arrow type (edge values and a NULL each) is moved
by colmig's own command line (in process, one worker, ``-validate``) into a target, then read
back with colmig's reader for that target. Each (type, target) cell is one of:

- ``exact``: every value came back equal (floats bit for bit, NaN and -0.0 included; temporal
  values as the same instant or wall time; decimals by value);
- ``refused (exit N)``: the run stopped before writing, naming the column;
- ``CHANGED``: a value came back different: the silent change the project forbids;
- ``UNREADABLE``/``CRASH``/``VALIDATE``: written, but colmig cannot read it back, the run failed
  without naming the column, or ``-validate`` disagreed with data that round-tripped.

``python -m tests.types.matrix --write docs/types.md`` regenerates the documentation from the
actual behaviour (it starts the throwaway PostgreSQL and MariaDB servers when their binaries
exist); tests/types/test_matrix_doc.py checks the documentation still matches.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import math
import re
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

UTC = dt.UTC
LOCAL_TARGETS = ("parquet", "csv", "jsonl", "sqlite", "duckdb")
SERVER_TARGETS = ("postgres", "mariadb")
TARGETS = LOCAL_TARGETS + SERVER_TARGETS
OK_STATES = ("exact", "refused")


@dataclass(frozen=True)
class TypeCase:
    """One row of the matrix: a column name, its Arrow type and hostile values."""

    name: str
    type: pa.DataType
    values: tuple[Any, ...]

    @property
    def column(self) -> str:
        return "c_" + re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")


def _ts(*args: int, tz: dt.tzinfo | None = None) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)  # type: ignore[misc]


NINES38 = Decimal("9" * 38)
D38_10 = Decimal("9" * 28 + "." + "9" * 10)
# Built from text: -Decimal(...) would round to the default context's 28 digits.
MINUS_NINES38 = Decimal("-" + "9" * 38)
MINUS_D38_10 = Decimal("-" + "9" * 28 + "." + "9" * 10)

CASES: tuple[TypeCase, ...] = (
    TypeCase("int8", pa.int8(), (-128, 127, 0, None)),
    TypeCase("int16", pa.int16(), (-(2**15), 2**15 - 1, None)),
    TypeCase("int32", pa.int32(), (-(2**31), 2**31 - 1, None)),
    TypeCase("int64", pa.int64(), (-(2**63), 2**63 - 1, 2**53 + 1, None)),
    TypeCase("uint8", pa.uint8(), (0, 255, None)),
    TypeCase("uint16", pa.uint16(), (0, 2**16 - 1, None)),
    TypeCase("uint32", pa.uint32(), (0, 2**32 - 1, None)),
    TypeCase("uint64", pa.uint64(), (0, 2**64 - 1, 2**63, None)),
    TypeCase("float16", pa.float16(), (1.5, -0.0, math.nan, math.inf, -math.inf, 65504.0, None)),
    TypeCase("float16 (finite)", pa.float16(), (1.5, -2.0, 65504.0, 0.0009765625, None)),
    TypeCase(
        "float32",
        pa.float32(),
        (0.1, -0.0, math.nan, math.inf, -math.inf, 3.4028234663852886e38, 1e-45, None),
    ),
    TypeCase(
        "float64",
        pa.float64(),
        (0.1, -0.0, math.nan, math.inf, -math.inf, 1.7976931348623157e308, 5e-324, None),
    ),
    TypeCase(
        "decimal(10,2)", pa.decimal128(10, 2), (Decimal("12345678.90"), Decimal("-0.01"), None)
    ),
    TypeCase("decimal(38,0)", pa.decimal128(38, 0), (NINES38, MINUS_NINES38, Decimal(0), None)),
    TypeCase(
        "decimal(38,10)", pa.decimal128(38, 10), (D38_10, MINUS_D38_10, Decimal("1E-10"), None)
    ),
    TypeCase("bool", pa.bool_(), (True, False, None)),
    TypeCase(
        "string",
        pa.string(),
        (
            "",
            "héllo ✓ 日本 🌡️",
            "tab\tnew\nline\r\n",
            "quote \" ' \\ , ;",
            " padded ",
            "NULL",
            "\\N",
            None,
        ),
    ),
    TypeCase("string with NUL", pa.string(), ("a\x00b", None)),
    TypeCase("large_string", pa.large_string(), ("", "ünïcødé", None)),
    TypeCase("binary", pa.binary(), (b"", b"\x00\xff\n,\"'", bytes(range(256)), None)),
    TypeCase("binary (UTF-8 text)", pa.binary(), (b"abc", b"", None)),
    TypeCase("binary (not UTF-8)", pa.binary(), (b"\x80", None)),
    TypeCase(
        "date32",
        pa.date32(),
        (dt.date(1970, 1, 1), dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(1969, 12, 31), None),
    ),
    TypeCase("time32[s]", pa.time32("s"), (dt.time(0), dt.time(23, 59, 59), None)),
    TypeCase("time32[ms]", pa.time32("ms"), (dt.time(0), dt.time(23, 59, 59, 999000), None)),
    TypeCase("time64[us]", pa.time64("us"), (dt.time(0), dt.time(23, 59, 59, 999999), None)),
    TypeCase("time64[ns]", pa.time64("ns"), (0, 86_399_999_999_999, 1, None)),
    TypeCase("time64[ns] (1 ns only)", pa.time64("ns"), (1, None)),
    TypeCase(
        "timestamp[s]",
        pa.timestamp("s"),
        (
            _ts(1970, 1, 1),
            _ts(1, 1, 1),
            _ts(9999, 12, 31, 23, 59, 59),
            _ts(1969, 12, 31, 23, 59, 59),
            None,
        ),
    ),
    TypeCase(
        "timestamp[ms]",
        pa.timestamp("ms"),
        (_ts(2024, 2, 29, 12, 0, 0, 123000), _ts(1900, 1, 1), None),
    ),
    TypeCase(
        "timestamp[us]",
        pa.timestamp("us"),
        (
            _ts(2024, 2, 29, 23, 59, 59, 999999),
            _ts(1969, 12, 31, 23, 59, 59, 999999),
            _ts(1, 1, 1),
            _ts(9999, 12, 31, 23, 59, 59, 999999),
            None,
        ),
    ),
    TypeCase(
        "timestamp[ns]",
        pa.timestamp("ns"),
        (1_709_251_199_123_456_789, -1, 0, None),
    ),
    TypeCase(
        "timestamp[ns] (whole us)",
        pa.timestamp("ns"),
        (1_709_251_199_123_456_000, -1000, None),
    ),
    TypeCase(
        "timestamp[us, UTC]",
        pa.timestamp("us", tz="UTC"),
        (_ts(2024, 3, 1, 12, 0, 0, 1, tz=UTC), _ts(1969, 12, 31, 23, 59, 59, 999999, tz=UTC), None),
    ),
    TypeCase(
        "timestamp[us, +05:30]",
        pa.timestamp("us", tz="Asia/Kolkata"),
        (_ts(2024, 3, 1, 12, 0, 0, 1, tz=UTC), _ts(2000, 1, 1, tz=UTC), None),
    ),
    TypeCase(
        "timestamp[us, +05:30] before 1900",
        pa.timestamp("us", tz="Asia/Kolkata"),
        (_ts(1800, 1, 1, tz=UTC), _ts(319, 1, 1, tz=UTC), None),
    ),
    TypeCase(
        "timestamp[ns, UTC]",
        pa.timestamp("ns", tz="UTC"),
        (1_709_251_199_123_456_789, None),
    ),
    TypeCase("string (all NULL)", pa.string(), (None, None)),
    TypeCase("binary (all NULL)", pa.binary(), (None, None)),
    TypeCase("decimal(38,10) (all NULL)", pa.decimal128(38, 10), (None, None)),
    TypeCase("timestamp[us] (all NULL)", pa.timestamp("us"), (None, None)),
    TypeCase("duration[s]", pa.duration("s"), (0, -1, 86_400 * 365, None)),
    TypeCase("duration[us]", pa.duration("us"), (0, -1, 1_234_567, None)),
    TypeCase("duration[ns]", pa.duration("ns"), (0, 1, None)),
)


@dataclass(frozen=True)
class Outcome:
    """What happened to one column in one target."""

    state: str  # exact | refused | CHANGED | UNREADABLE | CRASH | VALIDATE
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state in OK_STATES

    def cell(self) -> str:
        return self.state if not self.detail else f"{self.state}: {self.detail}"


def case_table(cases: list[TypeCase]) -> pa.Table:
    """One column per case (an ``id`` first); shorter value lists are padded with NULLs."""
    rows = max(len(c.values) for c in cases)
    columns: dict[str, pa.Array] = {"id": pa.array(range(rows), pa.int64())}
    for case in cases:
        values = list(case.values) + [None] * (rows - len(case.values))
        columns[case.column] = _array(values, case.type)
    return pa.table(columns)


def _array(values: list[Any], kind: pa.DataType) -> pa.Array:
    if pa.types.is_decimal(kind):
        # pa.array infers a negative 38-digit Decimal as precision 39: go through text.
        return pa.array([None if v is None else format(v, "f") for v in values]).cast(kind)
    if pa.types.is_float16(kind):
        import numpy as np

        mask = np.array([v is None for v in values])
        data = np.array([0.0 if v is None else v for v in values], np.float16)
        return pa.array(data, mask=mask)
    return pa.array(values, kind)


# --- running colmig ------------------------------------------------------------------------------


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_colmig(args: list[str]) -> Run:
    """colmig's CLI in this process (faster than a subprocess per cell)."""
    from colmig.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a Rust panic (pyo3 PanicException) escapes main()
            return Run(1, out.getvalue(), f"uncaught {type(exc).__name__}: {_one_line(str(exc))}")
    return Run(code, out.getvalue(), err.getvalue())


def target_url(target: str, work: Path, servers: dict[str, str]) -> tuple[str, list[str]]:
    """The -target URL of a target kind and its extra flags."""
    if target in ("parquet", "csv", "jsonl"):
        return f"file://{work / 'out'}", ["-target-format", target]
    if target == "sqlite":
        return f"sqlite://{work / 't.db'}", ["-target-table", "t"]
    if target == "duckdb":
        return f"duckdb://{work / 't.duckdb'}", ["-target-table", "t"]
    return servers[target], ["-target-table", "t_" + uuid.uuid4().hex[:10]]


def read_back(target: str, url: str, flags: list[str]) -> pa.Table:
    from colmig.config import Settings
    from colmig.registry import open_reader

    if target in ("parquet", "csv", "jsonl"):
        reader = open_reader(url, Settings())
    else:
        reader = open_reader(url, Settings(table=flags[flags.index("-target-table") + 1]))
    try:
        batches = [b for p in reader.plan(4) for b in reader.read(p, 10_000)]
        return pa.Table.from_batches(batches, schema=reader.schema())
    finally:
        reader.close()


def move(
    table: pa.Table, target: str, work: Path, servers: dict[str, str]
) -> tuple[Run, str, list[str]]:
    """Write ``table`` as a Parquet source and move it into ``target`` with -validate."""
    work.mkdir(parents=True, exist_ok=True)
    source = work / "src" / "data.parquet"
    source.parent.mkdir(exist_ok=True)
    pq.write_table(table, source)
    url, flags = target_url(target, work, servers)
    run = run_colmig(
        [
            "-mode", "data", "-source", f"file://{source}", "-target", url, *flags,
            "-workers", "1", "-progress", "none", "-validate", "-log-level", "warning",
            "-state-dir", str(work / "state"),
        ]
    )  # fmt: skip
    return run, url, flags


def roundtrip(
    table: pa.Table, target: str, work: Path, servers: dict[str, str]
) -> dict[str, Outcome]:
    """Outcome per column of ``table`` (all but ``id``) through ``target``."""
    columns = [n for n in table.column_names if n != "id"]
    run, url, flags = move(table, target, work, servers)
    if run.code in (2, 4, 5):
        named = [c for c in columns if _named(c, run.err)]
        message = _first_error(run.err)
        if len(named) >= 1:
            return {
                c: Outcome("refused", f"exit {run.code}") if c in named else Outcome("retry")
                for c in columns
            }
        return {
            c: Outcome("CRASH", f"exit {run.code} without naming the column: {message}")
            for c in columns
        }
    if run.code not in (0, 6):
        return {c: Outcome("CRASH", f"exit {run.code}: {_first_error(run.err)}") for c in columns}
    try:
        back = read_back(target, url, flags)
    except Exception as exc:  # the matrix records it
        return {
            c: Outcome("UNREADABLE", _one_line(str(exc) or type(exc).__name__)) for c in columns
        }
    out = {}
    order = back.column("id").to_pylist() if "id" in back.column_names else None
    for name in columns:
        if name not in back.column_names:
            out[name] = Outcome("CHANGED", "column missing when read back")
            continue
        got = back.column(name)
        if order is not None:
            got = pa.chunked_array(
                [
                    got.combine_chunks().take(
                        pa.array(sorted(range(len(order)), key=order.__getitem__))
                    )
                ]
            )
        difference = compare_column(table.column(name), got)
        if difference:
            out[name] = Outcome("CHANGED", difference)
        elif run.code == 6 and _named(name, run.err):
            out[name] = Outcome("VALIDATE", "round-trips exactly but -validate reports a mismatch")
        else:
            same = _family(got.type) == _family(table.column(name).type)
            out[name] = Outcome("exact", "" if same else f"reads back as {got.type}")
    if run.code == 6 and all(o.state == "exact" for o in out.values()):
        out = {c: Outcome("VALIDATE", f"exit 6: {_first_error(run.err)}") for c in columns}
    return out


def _named(column: str, text: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(column)}(?![A-Za-z0-9_])", text) is not None


def _family(t: pa.DataType) -> str:
    for name in ("integer", "floating", "decimal", "boolean", "date", "time", "duration"):
        if getattr(pa.types, f"is_{name}")(t):
            return name
    if pa.types.is_timestamp(t):
        return "zoned" if t.tz else "naive"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary"
    return str(t)


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("colmig: error:"):
            return _one_line(line.split("error:", 1)[-1])
    for line in text.splitlines():
        if "error" in line.lower():
            return _one_line(line.split("error:", 1)[-1])
    return _one_line(text)


def _one_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]


# --- comparing ------------------------------------------------------------------------------------


def compare_column(want: pa.ChunkedArray, got: pa.ChunkedArray) -> str | None:
    """None when every value of ``got`` equals ``want``'s, else the first difference.

    A value read back as another type counts as equal when it converts back exactly: by an
    Arrow cast, or, for text (CSV/JSON hold text), by parsing the text as the source type."""
    if len(want) != len(got):
        return f"{len(want)} rows in, {len(got)} back"
    a = _keys(want)
    b = _keys(_retyped(got, want.type))
    for index, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != y:
            return (
                f"{_show(_value(want, index))} ({want.type}) came back as"
                f" {_show(_value(got, index))} ({got.type})"
            )
    return None


def _retyped(got: pa.ChunkedArray, to: pa.DataType) -> pa.ChunkedArray | list[Any]:
    if got.type.equals(to):
        return got
    zoned = pa.types.is_timestamp(got.type) and pa.types.is_timestamp(to)
    if zoned and bool(got.type.tz) != bool(to.tz):
        return got  # naive <-> zoned is a change, whatever the digits
    if pa.types.is_string(got.type) or pa.types.is_large_string(got.type):
        return [None if v is None else _parse(v, to) for v in got.to_pylist()]
    if pa.types.is_interval(got.type) and pa.types.is_duration(to):
        return [
            None if v is None else (v.days * 86_400 * 10**9 + v.nanoseconds if not v.months else v)
            for v in got.to_pylist()
        ]
    if pa.types.is_duration(to) and not pa.types.is_duration(got.type):
        return [None if v is None else ("no unit", v) for v in got.to_pylist()]
    try:
        return got.cast(to, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    # Value by value, so the difference shown is a value that really changed.
    out: list[Any] = []
    for value in got.to_pylist():
        try:
            out.append(_keys(pa.chunked_array([pa.array([value], got.type).cast(to)]))[0])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            out.append(("not convertible", value))
    return out


_DURATION = re.compile(r"^(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def _parse(text: str, to: pa.DataType) -> Any:
    """``text`` as a value of ``to`` in _keys' terms, or the text when it does not parse."""
    try:
        if pa.types.is_time(to):
            value = dt.time.fromisoformat(text)
            micros = ((value.hour * 60 + value.minute) * 60 + value.second) * 10**6
            nanos = (micros + value.microsecond) * 1000
            digits = text.rsplit(".", 1)[1] if "." in text else ""
            if len(digits) > 6:  # fromisoformat stops at microseconds
                nanos = nanos - value.microsecond * 1000 + int(digits[:9].ljust(9, "0"))
            return nanos
        if pa.types.is_timestamp(to):
            match = re.match(r"^([^.]*)(?:\.(\d+))?(.*)$", text.replace(" ", "T"))
            assert match is not None
            whole, fraction, zone = match.groups()
            value = dt.datetime.fromisoformat(whole + zone)
            if (value.tzinfo is None) != (to.tz is None):
                return text
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            seconds = (value - dt.datetime(1970, 1, 1)) // dt.timedelta(seconds=1)
            nanos = int((fraction or "0")[:9].ljust(9, "0"))
            return ("aware" if to.tz else "naive", seconds * 10**9 + nanos)
        if pa.types.is_duration(to):
            match = _DURATION.match(text)
            if not match:
                return text
            sign, days, hours, minutes, seconds = match.groups()
            total = Decimal(days or 0) * 86400 + Decimal(hours or 0) * 3600
            total += Decimal(minutes or 0) * 60 + Decimal(seconds or 0)
            return int(total * 10**9) * (-1 if sign else 1)
        if pa.types.is_floating(to):
            return _keys(pa.chunked_array([pa.array([float(text)])]))[0]
        if pa.types.is_decimal(to) or pa.types.is_integer(to):
            number = Decimal(text)
            return int(number) if pa.types.is_integer(to) and number == int(number) else number
        if pa.types.is_binary(to) or pa.types.is_large_binary(to):
            return text.encode()  # bytes written as their UTF-8 text
    except (ValueError, ArithmeticError, pa.ArrowException):
        return text
    return text


def _value(column: pa.ChunkedArray, index: int) -> Any:
    try:
        return column[index].as_py()
    except (ValueError, OverflowError):  # ns without pandas, out of datetime range: raw integer
        return column[index].value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _keys(column: pa.ChunkedArray | list[Any]) -> list[Any]:
    """Comparable values: floats by value and sign (NaN equal to NaN), temporal by integer."""
    if isinstance(column, list):
        return column  # already in key terms (parsed text, normalised intervals)
    t = column.type
    if pa.types.is_timestamp(t):
        scale = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[t.unit]
        epoch = column.cast(pa.int64()).to_pylist()
        tag = "aware" if t.tz else "naive"
        return [None if v is None else (tag, v * scale) for v in epoch]
    if pa.types.is_time(t):
        return column.cast(pa.time64("ns")).cast(pa.int64()).to_pylist()
    if pa.types.is_duration(t):
        scale = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[t.unit]
        return [None if v is None else v * scale for v in column.cast(pa.int64()).to_pylist()]
    values = column.to_pylist()
    if pa.types.is_floating(t):
        return [
            None if v is None else ("nan" if math.isnan(v) else (v, math.copysign(1.0, v)))
            for v in values
        ]
    return values


# --- the whole matrix -----------------------------------------------------------------------------


def run_matrix(
    targets: tuple[str, ...], servers: dict[str, str], cases: tuple[TypeCase, ...] = CASES
) -> dict[str, dict[str, Outcome]]:
    """Outcome per case name, per target. All columns go in one run; a refused column is
    taken out and the rest run again, so one refusal does not hide the other columns."""
    result: dict[str, dict[str, Outcome]] = {c.name: {} for c in cases}
    with tempfile.TemporaryDirectory(prefix="colmig-types-") as tmp:
        for target in targets:
            pending = list(cases)
            attempt = 0
            while pending:
                attempt += 1
                work = Path(tmp) / f"{target}-{attempt}"
                outcomes = roundtrip(case_table(pending), target, work, servers)
                by_column = {c.column: c for c in pending}
                retry = []
                for column, outcome in outcomes.items():
                    case = by_column[column]
                    if outcome.state == "retry":
                        retry.append(case)
                    elif outcome.state in ("CRASH", "UNREADABLE", "VALIDATE") and len(pending) > 1:
                        retry.append(case)  # find the culprit one column at a time
                    else:
                        result[case.name][target] = outcome
                if retry and len(retry) == len(pending):
                    # Nothing settled (a crash naming no column): one column per run.
                    for index, case in enumerate(retry):
                        # The directory must not carry the column's name: an error
                        # quoting the path would then seem to name the column.
                        single = roundtrip(
                            case_table([case]),
                            target,
                            Path(tmp) / f"{target}-single-{index}",
                            servers,
                        )
                        result[case.name][target] = single[case.column]
                    retry = []
                pending = retry
    return result


def render(result: dict[str, dict[str, Outcome]], targets: tuple[str, ...]) -> str:
    """The Markdown table of docs/types.md (one row per Arrow type)."""
    lines = [
        "| Arrow type | " + " | ".join(targets) + " |",
        "| --- |" + " --- |" * len(targets),
    ]
    for case in CASES:
        cells = []
        for target in targets:
            outcome = result.get(case.name, {}).get(target)
            cells.append(_cell(outcome) if outcome else "not run")
        lines.append(f"| `{case.name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(outcome: Outcome) -> str:
    if outcome.state == "exact":
        return f"exact ({outcome.detail})" if outcome.detail else "exact"
    if outcome.state == "refused":
        return f"refused ({outcome.detail})"
    return f"**{outcome.state}**"


def failures(result: dict[str, dict[str, Outcome]]) -> list[str]:
    """Bullet lines for every cell that is not exact or refused."""
    out = []
    for case in CASES:
        for target, outcome in result.get(case.name, {}).items():
            if not outcome.ok:
                values = ", ".join(_show(v) for v in case.values)
                out.append(
                    f"- [{target}] {case.name}: {outcome.state}: {outcome.detail}"
                    f" (values {values}; `python -m tests.types.matrix --only '{case.name}'"
                    f" --targets {target}`)"
                )
    return out


# --- docs/types.md -------------------------------------------------------------------------------

BEGIN = "<!-- BEGIN GENERATED MATRIX (python -m tests.types.matrix --write docs/types.md) -->"
END = "<!-- END GENERATED MATRIX -->"


def splice(document: str, table: str) -> str:
    """Replace the generated block of ``document`` with ``table``."""
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def generated_block(document: str) -> str:
    return document.split(BEGIN, 1)[1].split(END, 1)[0].strip()


DOC = Path(__file__).resolve().parents[2] / "docs" / "types.md"


def documented(document: str | None = None) -> dict[tuple[str, str], str]:
    """(type case name, target) -> the cell docs/types.md shows."""
    lines = generated_block(document if document is not None else DOC.read_text()).splitlines()
    if len(lines) < 2:
        return {}
    targets = [c.strip() for c in lines[0].strip("|").split("|")][1:]
    out = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = cells[0].strip("`")
        for target, cell in zip(targets, cells[1:], strict=True):
            out[(name, target)] = cell
    return out


def open_cells() -> set[tuple[str, str]]:
    """(Arrow type, target) of the cells docs/types.md lists as open failures (bold): a type
    known to be broken in a target, whichever of its values showed it."""
    types = {c.name: str(c.type) for c in CASES}
    return {
        (types[name], target)
        for (name, target), cell in documented().items()
        if cell.startswith("**") and name in types
    }


@contextlib.contextmanager
def started_servers(targets: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """Throwaway servers for the server targets asked for (skipped when unavailable)."""
    from tests.servers import MariaDBServer, PostgresServer, ServerUnavailable

    started = []
    urls: dict[str, str] = {}
    try:
        for target, factory in (("postgres", PostgresServer), ("mariadb", MariaDBServer)):
            if target not in targets:
                continue
            try:
                server = factory().start()  # type: ignore[abstract]
            except ServerUnavailable as exc:
                print(f"{target}: not available ({exc})", file=sys.stderr)
                continue
            started.append(server)
            urls[target] = server.create_database("colmig_types")
        yield urls
    finally:
        for server in started:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="DOC", help="regenerate the table in this file")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--only", help="one type case by name")
    parser.add_argument("--failures", metavar="FILE", help="write failure bullets here")
    args = parser.parse_args(argv)
    targets = tuple(t for t in args.targets.split(",") if t)
    cases = tuple(c for c in CASES if args.only in (None, c.name))
    with started_servers(targets) as servers:
        usable = tuple(t for t in targets if t in LOCAL_TARGETS or t in servers)
        result = run_matrix(usable, servers, cases)
    table = render(result, targets)
    print(table)
    bullets = failures(result)
    if args.failures:
        Path(args.failures).write_text("\n".join(bullets) + "\n")
    print("\n".join(bullets), file=sys.stderr)
    if args.write:
        path = Path(args.write)
        path.write_text(splice(path.read_text(), table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
