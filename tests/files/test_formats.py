"""Every input format and compression, format detection and the CSV options, read directly
through the files reader (fast), plus one run of each option family through the real CLI."""

from __future__ import annotations

import decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from colmig.errors import ConfigError
from tests.files.helpers import (
    COMPRESSIONS,
    FORMATS,
    cli_ok,
    data_args,
    read_output,
    read_source,
    readings,
    sort_by_id,
    write_input,
)


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_and_compression(tmp_path: Path, fmt: str, compression: str) -> None:
    expected = readings(7)
    name = f"in.{fmt}" + (f".{compression}" if compression else "")
    path = write_input(tmp_path / name, expected, fmt, compression)
    got = sort_by_id(read_source(f"file://{path}"))
    assert got.num_rows == 7
    for column in ("id", "sensor_id", "value"):
        assert got.column(column).to_pylist() == expected.column(column).to_pylist(), column
    if fmt != "json":  # a JSON array is read by polars, which keeps such text as text
        # Text formats carry the zone as an offset: compare instants.
        instants = got.column("timestamp").cast(pa.timestamp("us", "UTC"))
        assert instants.equals(expected.column("timestamp"))
    if fmt in ("parquet", "arrow"):
        assert got.schema.equals(expected.schema)


@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("readings.log", {"url": "?format=jsonl"}),
        ("readings.log", {"settings": {"format": "ndjson"}}),
        ("readings.dat.gz", {"url": "?format=tsv"}),
        ("readings", {"url": "?format=parquet"}),
    ],
)
def test_format_from_url_or_flag(tmp_path: Path, name: str, how: dict) -> None:
    fmt = {"readings.log": "jsonl", "readings.dat.gz": "tsv", "readings": "parquet"}[name]
    path = write_input(tmp_path / name, readings(4), fmt, "gz" if name.endswith(".gz") else "")
    got = read_source(f"file://{path}{how.get('url', '')}", **how.get("settings", {}))
    assert sorted(got.column("id").to_pylist()) == [0, 1, 2, 3]


def test_unknown_extension_asks_for_format(tmp_path: Path) -> None:
    path = write_input(tmp_path / "readings.log", readings(2), "jsonl")
    with pytest.raises(ConfigError, match=r"readings\.log.*\?format="):
        read_source(f"file://{path}")


def test_format_flag_wins_over_extension(tmp_path: Path) -> None:
    # A .csv file that really holds JSON lines.
    path = write_input(tmp_path / "mislabelled.csv", readings(3), "jsonl")
    got = read_source(f"file://{path}", format="jsonl")
    assert got.column("id").to_pylist() == [0, 1, 2]


def test_csv_delimiter_nulls_and_timestamp_format(tmp_path: Path) -> None:
    path = tmp_path / "semi.txt"
    path.write_text(
        "id;name;at;level\n1;a;01/03/2024 10:00:00;1.5\n2;NA;02/03/2024 11:30:00;-\n3;;;2\n"
    )
    got = read_source(
        f"file://{path}",
        delimiter=";",
        null_values="NA,-",
        timestamp_format="%d/%m/%Y %H:%M:%S",
    )
    assert got.schema.field("at").type == pa.timestamp("s")
    assert got.schema.field("level").type == pa.float64()
    rows = got.to_pylist()
    assert [r["name"] for r in rows] == ["a", None, None]  # "NA" and the empty field
    assert [r["level"] for r in rows] == [1.5, None, 2.0]
    assert str(rows[1]["at"]) == "2024-03-02 11:30:00"
    assert rows[2]["at"] is None


def test_csv_options_in_the_url(tmp_path: Path) -> None:
    path = tmp_path / "pipes.csv"
    path.write_text("1|x|?\n2|y|3\n")
    got = read_source(f"file://{path}?delimiter=|&header=false&null_values=?")
    assert got.schema.names == ["column_1", "column_2", "column_3"]
    assert got.to_pylist() == [
        {"column_1": 1, "column_2": "x", "column_3": None},
        {"column_1": 2, "column_2": "y", "column_3": 3},
    ]


def test_tab_delimiter_spellings(tmp_path: Path) -> None:
    path = tmp_path / "tabs.dat"
    path.write_text("a\tb\n1\t2\n")
    for options in ({"format": "csv", "delimiter": "\\t"}, {"format": "csv", "delimiter": "tab"}):
        assert read_source(f"file://{path}", **options).to_pylist() == [{"a": 1, "b": 2}]
    assert read_source(f"file://{path}?format=tsv").to_pylist() == [{"a": 1, "b": 2}]


def test_cli_csv_options(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """-format, -delimiter, -no-header, -null-values and -timestamp-format on the command line."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.dat").write_text("1;01/03/2024 10:00;n/a\n2;01/03/2024 11:00;7.5\n")
    (src / "b.dat").write_text("3;02/03/2024 00:30;1\n")
    options = ["-format", "csv", "-delimiter", ";", "-no-header", "-null-values", "n/a",
               "-timestamp-format", "%d/%m/%Y %H:%M", "-validate"]  # fmt: skip
    out = cli_ok(run_cli(*data_args("file://./in", "file://./out", *options)))
    assert "3 rows written" in out
    got = sort_by_id(read_output(tmp_path / "out").rename_columns(["id", "at", "value"]))
    assert pa.types.is_timestamp(got.schema.field("at").type)  # Parquet stores seconds as ms
    assert got.column("value").to_pylist() == [None, 7.5, 1.0]
    assert pc.strftime(got.column("at"), "%Y-%m-%d %H:%M").to_pylist() == [
        "2024-03-01 10:00",
        "2024-03-01 11:00",
        "2024-03-02 00:30",
    ]


def test_csv_quoted_empty_is_empty_string_and_na_is_text(tmp_path: Path) -> None:
    path = tmp_path / "countries.csv"
    path.write_text('id,code,population\n1,"",\n2,NA,2.5\n3,,NaN\n')
    got = read_source(f"file://{path}")
    assert got.column("code").to_pylist() == ["", "NA", None]  # NA is Namibia, not null
    assert got.column("population").to_pylist()[:2] == [None, 2.5]


def test_compression_from_the_url(tmp_path: Path) -> None:
    path = write_input(tmp_path / "export.bin", readings(3), "csv", "zst")
    got = read_source(f"file://{path}?format=csv&compression=zst")
    assert got.column("id").to_pylist() == [0, 1, 2]
    with pytest.raises(ConfigError, match="unknown compression"):
        read_source(f"file://{path}?format=csv&compression=lz5")


@pytest.mark.parametrize(
    ("values", "want"),
    [
        (["1", "-2", ""], pa.int64()),
        (["1", "0.5"], pa.float64()),
        (["0.1", "0.30000000000000004", "1e300"], pa.float64()),
        (["9007199254740993", "0.5"], pa.decimal128(38, 1)),
        (["9223372036854775808", "1"], pa.decimal128(38, 0)),
        (["9" * 39, "1"], pa.string()),
        (["9007199254740993", "1e3"], pa.string()),  # an exponent: not a plain decimal
        (["1", "x"], pa.string()),
        (["true", "false"], pa.bool_()),
        (["1", "true"], pa.bool_()),  # Arrow's CSV booleans: 1/0 and true/false
        (["2024-03-01", "2024-03-02"], pa.date32()),
        (["2024-03-01", "2024-03-01 10:00:00"], pa.timestamp("s")),
        (["2024-03-01T10:00:00Z", "2024-03-01T10:00:00.5+05:00"], pa.timestamp("ms", "UTC")),
        (["0001-01-01 00:00:00.000001", "9999-12-31 23:59:59"], pa.timestamp("us")),
        (["", ""], pa.null()),
    ],
)
def test_inference_rule(tmp_path: Path, values: list[str], want: pa.DataType) -> None:
    """The rule of colmig/backends/files/facts.py, on every value of a small CSV."""
    path = tmp_path / "in.csv"
    path.write_text("id,v\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    got = read_source(f"file://{path}")
    assert got.schema.field("v").type == want
    if pa.types.is_decimal(want):  # exactly the numbers written
        assert got.column("v").to_pylist() == [decimal.Decimal(v) for v in values]
    if want == pa.string():
        assert got.column("v").to_pylist() == values


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("int32", pa.int32()),
        ("bigint", pa.int64()),
        ("decimal(38,10)", pa.decimal128(38, 10)),
        ("timestamp[us, UTC]", pa.timestamp("us", "UTC")),
        ("timestamp[ms](Europe/Berlin)", pa.timestamp("ms", "Europe/Berlin")),
        ("timestamptz", pa.timestamp("us", "UTC")),
        ("timestamp[s]", pa.timestamp("s")),
        ("string", pa.string()),
        ("date", pa.date32()),
        ("int33", None),
    ],
)
def test_declared_type_names(text: str, want: pa.DataType | None) -> None:
    from colmig.backends.files.declared import arrow_type

    assert arrow_type(text) == want


def test_column_type_list_keeps_commas_inside_parentheses(tmp_path: Path) -> None:
    from colmig.backends.files.declared import declared_types

    (tmp_path / "t.yaml").write_text("a: int32\nb: string\n")
    got = declared_types(str(tmp_path / "t.yaml"), "b=decimal(38,10), c=timestamp[us, UTC]")
    assert got == {
        "a": pa.int32(),
        "b": pa.decimal128(38, 10),
        "c": pa.timestamp("us", "UTC"),
    }
    with pytest.raises(ConfigError, match=r"'x'.*unknown type 'decimal'"):
        declared_types(None, "x=decimal")
