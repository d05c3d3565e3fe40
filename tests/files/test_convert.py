"""Lenient conversion (-on-error skip|reject): exactly the values Arrow cannot cast are set
aside, quickly even when a whole column is text."""

from __future__ import annotations

import time

import pyarrow as pa

from colmig.backends.files.convert import convert


def _convert(values: list[str | None], kind: pa.DataType) -> tuple[list, list[str]]:
    batch = pa.record_batch({"v": pa.array(values, pa.string())})
    good, bad = convert(batch, pa.schema([("v", kind)]), None)
    return good.column(0).to_pylist(), [cell.value for cell in bad]


def test_bad_values_are_exactly_what_arrow_rejects() -> None:
    values = ["12", "-4", "x", "1.5", "99999999999999999999", None, "7"]
    assert _convert(values, pa.int64()) == (
        [12, -4, None, 7],
        ["x", "1.5", "99999999999999999999"],
    )
    floats = ["1.5", "-4e2", ".5", "inf", "NaN", "1,5", "x", None, "5."]
    good, bad = _convert(floats, pa.float64())
    assert bad == ["1,5", "x"]
    assert good[:4] == [1.5, -400.0, 0.5, float("inf")] and good[-2:] == [None, 5.0]


def test_other_types_by_bisection() -> None:
    good, bad = _convert(["2024-03-01", "yesterday", None, "2024-02-30"], pa.date32())
    assert bad == ["yesterday", "2024-02-30"] and len(good) == 2
    good, bad = _convert(["1.25", "abc", "-0.5"], pa.decimal128(6, 2))
    assert bad == ["abc"] and [str(v) for v in good] == ["1.25", "-0.50"]


def test_a_column_of_words_is_fast() -> None:
    batch = pa.record_batch({"v": pa.array(["word"] * 200_000), "ok": pa.array(["1"] * 200_000)})
    schema = pa.schema([("v", pa.float64()), ("ok", pa.int64())])
    started = time.monotonic()
    good, bad = convert(batch, schema, None)
    assert good.num_rows == 0 and len(bad) == 200_000
    assert time.monotonic() - started < 10


def test_lenient_reading_gives_the_same_table_as_strict(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.files.helpers import read_source

    path = tmp_path / "mixed.csv"
    path.write_text(
        "i,f,b,zoned,naive,d,s,dec\n"
        "1,1.5,true,2024-03-01T00:00:00Z,2024-03-01 10:00:00,2024-03-01,x,\n"
        "-2,,false,2024-03-01T02:00:00+02:00,,2024-02-29,,7\n"
        ',3e2,,,2024-03-02 00:00:00.123,,"q,uoted",\n'
    )
    strict = read_source(f"file://{path}")
    assert strict.schema.field("zoned").type == pa.timestamp("s", "UTC")
    for mode in ("skip", "reject"):
        assert read_source(f"file://{path}", on_error=mode).equals(strict), mode


def test_timestamp_format_then_iso_per_value() -> None:
    batch = pa.record_batch(
        {"t": pa.array(["01/03/2024 10:00", "2024-03-02T11:00:00", "junk", None])}
    )
    good, bad = convert(batch, pa.schema([("t", pa.timestamp("s"))]), "%d/%m/%Y %H:%M")
    assert [str(v) for v in good.column(0).to_pylist()] == [
        "2024-03-01 10:00:00",
        "2024-03-02 11:00:00",
        "None",
    ]
    assert [cell.value for cell in bad] == ["junk"]


def test_bytes_that_are_not_utf8_are_bad_cells() -> None:
    batch = pa.record_batch({"s": pa.array([b"caf\xc3\xa9", b"caf\xe9", None], pa.binary())})
    good, bad = convert(batch, pa.schema([("s", pa.string())]), None)
    assert good.column(0).to_pylist() == ["café", None]
    assert [(cell.row, cell.value) for cell in bad] == [(1, "caf\ufffd")]


def test_doubles_typed_from_the_head_are_checked() -> None:
    from colmig.backends.files.facts import Facts, carrying

    facts = Facts(kinds={"decimal"}, partial=True)
    field = carrying("v", facts, pa.float64())
    batch = pa.record_batch({"v": pa.array([b"0.5", b"9007199254740993", b"0.30000000000000004"])})
    good, bad = convert(batch, pa.schema([field]), None)
    assert good.column(0).to_pylist() == [0.5, 0.30000000000000004]
    assert [cell.value for cell in bad] == ["9007199254740993"]
