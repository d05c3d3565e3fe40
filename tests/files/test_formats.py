"""Every input format and compression, format detection and the CSV options, read directly
through the files reader (fast), plus one run of each option family through the real CLI."""

from __future__ import annotations

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
