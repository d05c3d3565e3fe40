"""Hostile but realistic CSV and JSON Lines files through the real CLI: no value is ever
silently changed. Columns are inferred from every value (not the first megabyte), integers
keep their digits, zones are instants or refused, bytes that are not UTF-8 are named with
their line, and declared types win over inference."""

from __future__ import annotations

import decimal
import json
from pathlib import Path

import pyarrow as pa
import pytest

from tests.files.helpers import cli_ok, data_args, read_output, run_parallel, sort_by_id

#: Rows that take more than the megabyte the old schema sniff read.
FILLER = 200_000


def _csv(path: Path, header: str, head_row: str, tail: list[str]) -> Path:
    """``header``, then FILLER copies of ``head_row`` (``{i}`` is the row id), then ``tail``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(head_row.format(i=i) + "\n" for i in range(FILLER))
    path.write_text(header + "\n" + body + "".join(line + "\n" for line in tail))
    assert path.stat().st_size > 1 << 20
    return path


def _jsonl(path: Path, head: dict, tail: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(json.dumps({"id": i, **head}) + "\n" for i in range(FILLER))
    path.write_text(body + "".join(line + "\n" for line in tail))
    assert path.stat().st_size > 1 << 20
    return path


def _load(run_cli, tmp_path: Path, source: str, *extra: str) -> pa.Table:  # type: ignore[no-untyped-def]
    cli_ok(run_cli(*data_args(source, "file://./out", *extra)))
    return sort_by_id(read_output(tmp_path / "out"))


def _tail(table: pa.Table, column: str, n: int) -> list:
    return table.column(column).to_pylist()[-n:]


# --- 1. inference that cannot miss data ---------------------------------------------------------


def test_csv_column_empty_for_a_megabyte_then_text(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _csv(tmp_path / "in.csv", "id,note", "{i},", [f"{FILLER},late note", f"{FILLER + 1},"])
    got = _load(run_cli, tmp_path, "file://./in.csv")
    assert got.num_rows == FILLER + 2
    assert got.schema.field("note").type == pa.string()
    assert _tail(got, "note", 3) == [None, "late note", None]


def test_csv_numbers_then_words_become_text_as_written(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _csv(tmp_path / "in.csv", "id,code", "{i},007", [f"{FILLER},A12"])
    head, every = run_parallel(
        run_cli,
        data_args("file://./in.csv", "file://./out-head"),
        data_args("file://./in.csv", "file://./out", "-infer", "all"),
    )
    # Typed from the file's head (int64), the late word stops the run with its line ...
    assert head.returncode == 4, head.stderr
    assert f"in.csv:{FILLER + 2}:" in head.stderr and "'A12'" in head.stderr
    # ... and with every value read first, the column is text.
    cli_ok(every)
    got = sort_by_id(read_output(tmp_path / "out"))
    assert got.schema.field("code").type == pa.string()
    assert _tail(got, "code", 2) == ["007", "A12"]  # leading zeros kept


# --- 3. integers keep exactness -----------------------------------------------------------------


def test_csv_integers_beyond_doubles_and_int64(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    big = 2**53 + 1
    huge = 2**63 + 7
    _csv(
        tmp_path / "in" / "a.csv",
        "id,mixed,wide,digits38,digits40,double",
        "{i},0.5,1,1.5,1,0.25",
        [
            # 0.30000000000000004 has 17 digits but is exactly what a double prints.
            f"{FILLER},{big},{huge},{'9' * 36}.12,{'9' * 40},0.30000000000000004",
        ],
    )
    got = _load(run_cli, tmp_path, "file://./in", "-infer", "all")
    assert got.schema.field("mixed").type == pa.decimal128(38, 1)
    assert _tail(got, "mixed", 1) == [decimal.Decimal(big)]
    assert got.schema.field("wide").type == pa.decimal128(38, 0)
    assert _tail(got, "wide", 1) == [decimal.Decimal(huge)]
    assert got.schema.field("digits38").type == pa.decimal128(38, 2)
    assert str(_tail(got, "digits38", 1)[0]) == "9" * 36 + ".12"
    assert got.schema.field("digits40").type == pa.string()
    assert _tail(got, "digits40", 1) == ["9" * 40]
    assert got.schema.field("double").type == pa.float64()
    assert _tail(got, "double", 2) == [0.25, 0.30000000000000004]


# --- 2. time zones ------------------------------------------------------------------------------


def test_csv_naive_and_zoned_refused_with_line_or_assume_tz(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _csv(
        tmp_path / "in.csv",
        "id,at",
        "{i},2024-03-01T10:00:00Z",
        [f"{FILLER},2024-03-01T10:00:00+05:00", f"{FILLER + 1},2024-07-01 12:00:00"],
    )
    refused, assumed = run_parallel(
        run_cli,
        data_args("file://./in.csv", "file://./out-refused"),
        data_args("file://./in.csv", "file://./out", "-assume-tz", "Europe/Berlin"),
    )
    assert refused.returncode == 4, refused.stderr
    assert f"in.csv:{FILLER + 3}:" in refused.stderr and "'at'" in refused.stderr
    assert "-assume-tz" in refused.stderr and "Traceback" not in refused.stderr
    assert not list(tmp_path.glob("out-refused/**/*.parquet"))
    cli_ok(assumed)
    got = sort_by_id(read_output(tmp_path / "out"))
    assert got.schema.field("at").type.tz == "UTC"  # Parquet keeps seconds as ms
    utc = [v.strftime("%Y-%m-%dT%H:%M:%S") for v in _tail(got, "at", 3)]
    # +05:00 is 05:00 UTC; Berlin wall time 12:00 in July (CEST) is 10:00 UTC.
    assert utc == ["2024-03-01T10:00:00", "2024-03-01T05:00:00", "2024-07-01T10:00:00"]


def test_csv_naive_only_stays_naive(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in.csv").write_text("id,at\n1,2024-03-01 10:00:00\n2,2024-03-01 11:00:00.5\n")
    got = _load(run_cli, tmp_path, "file://./in.csv", "-assume-tz", "Europe/Berlin")
    assert got.schema.field("at").type.tz is None


# --- 4. invalid UTF-8 ---------------------------------------------------------------------------


def test_csv_invalid_utf8_is_named_or_rejected(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,name\n1,caf\xc3\xa9\n2,caf\xe9\n3,tea\n")
    failed, rejected = run_parallel(
        run_cli,
        data_args("file://./in.csv", "file://./out-failed"),
        data_args("file://./in.csv", "file://./out", "-on-error", "reject"),
    )
    assert failed.returncode == 4, failed.stderr
    assert "in.csv:3:" in failed.stderr and "byte offset 21" in failed.stderr
    assert "Traceback" not in failed.stderr
    out = cli_ok(rejected)
    assert "rejected 1 rows" in out
    got = sort_by_id(read_output(tmp_path / "out"))
    assert got.schema.field("name").type == pa.string()  # never silently binary
    assert got.to_pylist() == [{"id": 1, "name": "café"}, {"id": 3, "name": "tea"}]


# --- 5. declared types --------------------------------------------------------------------------


def test_declared_types_from_a_schema_file_and_flags(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "types.yaml").write_text(
        "id: int32\namount: decimal(38,10)\nat: timestamp[us, UTC]\n"
    )
    (tmp_path / "in.csv").write_text(
        "id,amount,at,code\n1,1.5,2024-03-01T10:00:00Z,1\n2,-0.0000000001,2024-03-01T10:00:00.123456+01:00,2\n"
    )
    got = _load(
        run_cli, tmp_path, "file://./in.csv", "-schema", "types.yaml", "-column-type", "code=string"
    )
    assert got.schema == pa.schema(
        [
            ("id", pa.int32()),
            ("amount", pa.decimal128(38, 10)),
            ("at", pa.timestamp("us", "UTC")),
            ("code", pa.string()),
        ]
    )
    assert [str(v) for v in got.column("amount").to_pylist()] == ["1.5000000000", "-1E-10"]
    assert got.column("code").to_pylist() == ["1", "2"]


def test_a_value_that_does_not_fit_its_declared_type(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in.csv").write_text("id,n\n1,5\n2,3000000000\n")
    result = run_cli(*data_args("file://./in.csv", "file://./out", "-column-type", "n=int32"))
    assert result.returncode == 4, result.stderr
    assert "in.csv:3:" in result.stderr and "'n'" in result.stderr
    assert "'3000000000'" in result.stderr and "int32" in result.stderr


def test_unknown_declared_type_is_a_config_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in.csv").write_text("id\n1\n")
    result = run_cli(*data_args("file://./in.csv", "file://./out", "-column-type", "id=int33"))
    assert result.returncode == 2, result.stderr
    assert "int33" in result.stderr and "Traceback" not in result.stderr


# --- JSON Lines ---------------------------------------------------------------------------------


def test_jsonl_key_first_seen_after_a_megabyte_becomes_a_column(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _jsonl(
        tmp_path / "in.jsonl",
        {"v": 1, "note": None},
        [f'{{"id": {FILLER}, "v": 2, "note": "late", "added": "new key"}}'],
    )
    got = _load(run_cli, tmp_path, "file://./in.jsonl")
    assert got.num_rows == FILLER + 1
    assert got.column("added").to_pylist()[-2:] == [None, "new key"]
    assert _tail(got, "note", 2) == [None, "late"]


def test_jsonl_numbers_keep_their_digits(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    big, huge, forty = 2**53 + 1, 2**63 + 7, "9" * 40
    _jsonl(
        tmp_path / "in.jsonl",
        {"mixed": 0.5, "wide": 1, "long": 1, "code": 7},
        [
            f'{{"id": {FILLER}, "mixed": {big}, "wide": {huge}, "long": {forty}, "code": "A7"}}',
        ],
    )
    got = _load(run_cli, tmp_path, "file://./in.jsonl")
    assert got.schema.field("mixed").type == pa.decimal128(38, 1)
    assert _tail(got, "mixed", 2) == [decimal.Decimal("0.5"), decimal.Decimal(big)]
    assert got.schema.field("wide").type == pa.decimal128(38, 0)
    assert _tail(got, "wide", 1) == [decimal.Decimal(huge)]
    # More digits than any decimal: the number as written, as text.
    assert got.schema.field("long").type == pa.string()
    assert _tail(got, "long", 2) == ["1", forty]
    assert _tail(got, "code", 2) == ["7", "A7"]


def test_jsonl_offsets_are_utc_instants_and_naive_ones_are_refused(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    zoned = tmp_path / "zoned" / "in.jsonl"
    _jsonl(
        zoned,
        {"at": "2024-03-01T10:00:00Z"},
        [f'{{"id": {FILLER}, "at": "2024-03-01T10:00:00+05:00"}}'],
    )
    mixed = tmp_path / "mixed" / "in.jsonl"
    _jsonl(
        mixed, {"at": "2024-03-01T10:00:00Z"}, [f'{{"id": {FILLER}, "at": "2024-07-01 12:00:00"}}']
    )
    ok, refused, assumed = run_parallel(
        run_cli,
        data_args("file://./zoned", "file://./out"),
        data_args("file://./mixed", "file://./out-refused"),
        data_args("file://./mixed", "file://./out-assumed", "-assume-tz", "Europe/Berlin"),
    )
    cli_ok(ok)
    got = sort_by_id(read_output(tmp_path / "out"))
    assert got.schema.field("at").type.tz == "UTC"
    assert [v.strftime("%H:%M") for v in _tail(got, "at", 2)] == ["10:00", "05:00"]
    assert refused.returncode == 4, refused.stderr
    assert f"in.jsonl:{FILLER + 1}:" in refused.stderr and "'at'" in refused.stderr
    assert "-assume-tz" in refused.stderr and "Traceback" not in refused.stderr
    cli_ok(assumed)
    got = sort_by_id(read_output(tmp_path / "out-assumed"))
    assert [v.strftime("%m-%d %H:%M") for v in _tail(got, "at", 2)] == [
        "03-01 10:00",
        "07-01 10:00",
    ]


def test_jsonl_invalid_utf8_names_line_and_byte(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in.jsonl").write_bytes(b'{"id": 1, "s": "ok"}\n{"id": 2, "s": "caf\xe9"}\n')
    # Under reject too: JSON Lines rows with such bytes are not set aside (yet), never loaded.
    runs = [
        data_args("file://./in.jsonl", f"file://./out-{m}", "-on-error", m)
        for m in ("fail", "reject")
    ]
    for result in run_parallel(run_cli, *runs):
        assert result.returncode == 4, result.stderr
        assert "in.jsonl:2:" in result.stderr and "byte offset 40" in result.stderr
        assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("out-*/**/*.parquet"))


def test_jsonl_declared_types(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in.jsonl").write_text(
        '{"id": 1, "zip": 1234, "n": 5, "amount": 0.1}\n'
        '{"id": 2, "zip": "0815", "n": 6, "amount": 12345678901234567890.123456789}\n'
    )
    (tmp_path / "bad.jsonl").write_text('{"id": 1, "n": 5}\n{"id": 2, "n": 3000000000}\n')
    types = "zip=string,n=int32,amount=decimal(38,9)"
    ok, bad = run_parallel(
        run_cli,
        data_args("file://./in.jsonl", "file://./out", "-column-type", types),
        data_args("file://./bad.jsonl", "file://./out-bad", "-column-type", "n=int32"),
    )
    cli_ok(ok)
    got = sort_by_id(read_output(tmp_path / "out"))
    assert got.schema.field("n").type == pa.int32()
    assert got.column("zip").to_pylist() == ["1234", "0815"]
    assert [str(v) for v in got.column("amount").to_pylist()] == [
        "0.100000000",
        "12345678901234567890.123456789",
    ]
    assert bad.returncode == 4, bad.stderr
    assert "bad.jsonl:2:" in bad.stderr and "'n'" in bad.stderr and "3000000000" in bad.stderr


# --- past the head of a big CSV file (types from its first 8 MiB, the rest checked) -------------

#: Rows past the 8 MiB head and the blocks Arrow reads ahead.
BIG = 3_000_000


@pytest.mark.slow
def test_csv_past_the_head_an_empty_column_is_text(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "in.csv"
    path.write_text("id,note\n" + "".join(f"{i},\n" for i in range(BIG)) + f"{BIG},late\n")
    assert path.stat().st_size > 20 << 20
    got = _load(run_cli, tmp_path, "file://./in.csv")
    assert got.schema.field("note").type == pa.string()
    assert _tail(got, "note", 2) == [None, "late"]


@pytest.mark.slow
def test_csv_past_the_head_a_number_no_double_holds(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "in.csv"
    body = "".join(f"{i},0.25\n" for i in range(BIG))
    path.write_text("id,v\n" + body + f"{BIG},9007199254740993\n")
    head, every, rejected = run_parallel(
        run_cli,
        data_args("file://./in.csv", "file://./out-head"),
        data_args("file://./in.csv", "file://./out", "-infer", "all"),
        data_args("file://./in.csv", "file://./out-rejected", "-on-error", "reject"),
    )
    # Typed from the head as a double, the late value stops the run with its line ...
    assert head.returncode != 0, head.stderr
    assert f"in.csv:{BIG + 2}:" in head.stderr and "'v'" in head.stderr
    assert "9007199254740993" in head.stderr and "-infer all" in head.stderr
    # ... or is set aside ...
    assert "rejected 1 rows" in cli_ok(rejected)
    # ... and -infer all reads every value first: an exact decimal.
    cli_ok(every)
    got = sort_by_id(read_output(tmp_path / "out"))
    assert got.schema.field("v").type == pa.decimal128(38, 2)
    assert _tail(got, "v", 2) == [decimal.Decimal("0.25"), decimal.Decimal(2**53 + 1)]


def test_csv_invalid_utf8_past_the_head_names_line_and_byte(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _csv(tmp_path / "in.csv", "id,name", "{i},tea", [])
    size = path.stat().st_size
    with path.open("ab") as out:
        out.write(f"{FILLER},caf".encode() + b"\xe9\n")
    result = run_cli(*data_args("file://./in.csv", "file://./out"))
    assert result.returncode == 4, result.stderr
    assert f"in.csv:{FILLER + 2}:" in result.stderr
    assert f"byte offset {size + len(str(FILLER)) + 4}" in result.stderr
    assert "Traceback" not in result.stderr
