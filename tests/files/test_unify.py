"""Schema unification across an archive (the rule documented in colmig/backends/files/unify.py)
and the error for a genuine conflict, directly and through the CLI (exit 4)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from colmig.backends.files.unify import unify
from colmig.errors import SourceDataError
from tests.files.helpers import (
    cli_ok,
    data_args,
    read_output,
    read_source,
    run_parallel,
    sort_by_id,
)


def _schema(**types: pa.DataType) -> pa.Schema:
    return pa.schema(list(types.items()))


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        (pa.int32(), pa.int64(), pa.int64()),
        (pa.uint8(), pa.int16(), pa.int64()),
        (pa.int32(), pa.float32(), pa.float64()),
        (pa.uint32(), pa.float64(), pa.float64()),
        (pa.float32(), pa.float64(), pa.float64()),
        (pa.null(), pa.string(), pa.string()),
        (pa.string(), pa.large_string(), pa.large_string()),
        (pa.decimal128(10, 2), pa.decimal128(8, 4), pa.decimal128(12, 4)),
        (pa.timestamp("s"), pa.timestamp("us"), pa.timestamp("us")),
        (pa.timestamp("ms", "UTC"), pa.timestamp("ns", "UTC"), pa.timestamp("ns", "UTC")),
    ],
)
def test_rule(a: pa.DataType, b: pa.DataType, want: pa.DataType) -> None:
    assert unify([("f1", _schema(x=a)), ("f2", _schema(x=b))]) == _schema(x=want)
    assert unify([("f1", _schema(x=b)), ("f2", _schema(x=a))]) == _schema(x=want)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (pa.string(), pa.int64()),
        (pa.timestamp("us", "UTC"), pa.timestamp("us")),
        (pa.timestamp("us", "UTC"), pa.timestamp("us", "Europe/Berlin")),
        (pa.date32(), pa.timestamp("us")),
        (pa.bool_(), pa.int64()),
        # A double holds integers only up to 2**53: without the values, refuse.
        (pa.int64(), pa.float64()),
        (pa.uint64(), pa.float32()),
    ],
)
def test_conflict_names_both_files_and_the_column(a: pa.DataType, b: pa.DataType) -> None:
    schemas = [("early.csv", _schema(id=pa.int64(), x=a)), ("late.csv", _schema(x=b))]
    with pytest.raises(SourceDataError) as caught:
        unify(schemas)
    message = str(caught.value)
    assert "'x'" in message and "early.csv" in message and "late.csv" in message
    assert caught.value.exit_code == 4


def test_columns_are_the_union_in_first_seen_order() -> None:
    first = _schema(id=pa.int64(), v=pa.float64())
    second = _schema(extra=pa.string(), id=pa.int64())
    got = unify([("a", first), ("b", second)])
    assert got.names == ["id", "v", "extra"]


def test_column_added_halfway_through_an_archive(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "2024-03-01.csv").write_text("id,v\n1,10\n2,20\n")
    (src / "2024-03-02.csv").write_text("id,v\n3,30\n")
    (src / "2024-03-03.csv").write_text("id,v,humidity\n4,40.5,0.7\n")
    got = sort_by_id(read_source(f"file://{src}"))
    assert got.schema == _schema(id=pa.int64(), v=pa.float64(), humidity=pa.float64())
    assert got.column("humidity").to_pylist() == [None, None, None, 0.7]
    assert got.column("v").to_pylist() == [10.0, 20.0, 30.0, 40.5]


def test_csv_files_decide_on_all_their_values(tmp_path: Path) -> None:
    """Numbers in one file and words in another: text, every value as written; an integer
    past 2**53 in one file and a fraction in another: an exact decimal, not a double."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.csv").write_text("id,reading,big\n1,12.50,9007199254740993\n")
    (src / "b.csv").write_text("id,reading,big\n2,broken,0.5\n")
    got = sort_by_id(read_source(f"file://{src}"))
    assert got.schema.field("reading").type == pa.string()
    assert got.column("reading").to_pylist() == ["12.50", "broken"]
    assert got.schema.field("big").type == pa.decimal128(38, 1)
    assert [str(v) for v in got.column("big").to_pylist()] == ["9007199254740993.0", "0.5"]


def test_parquet_int_and_float_files(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(pa.table({"id": [1], "v": pa.array([7], pa.int32())}), src / "a.parquet")
    pq.write_table(pa.table({"id": [2], "v": pa.array([0.5], pa.float32())}), src / "b.parquet")
    got = sort_by_id(read_source(f"file://{src}"))
    assert got.schema.field("v").type == pa.float64()
    assert got.column("v").to_pylist() == [7.0, 0.5]


def test_cli_unified_archive(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.csv").write_text("id,v\n1,10\n2,20\n")
    (src / "b.csv").write_text("id,v,humidity\n3,0.5,0.7\n")
    cli_ok(run_cli(*data_args("file://./in", "file://./out", "-validate")))
    got = sort_by_id(read_output(tmp_path / "out"))
    assert got.schema == _schema(id=pa.int64(), v=pa.float64(), humidity=pa.float64())
    assert got.to_pylist() == [
        {"id": 1, "v": 10.0, "humidity": None},
        {"id": 2, "v": 20.0, "humidity": None},
        {"id": 3, "v": 0.5, "humidity": 0.7},
    ]


def test_cli_conflict_exit_4(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cases = {
        "zoned-vs-naive-z": (
            "id,reading\n1,2024-01-01T00:00:00+01:00\n",
            "id,reading\n2,2024-02-01 00:00:00\n",
        ),
        "zoned-vs-naive": (
            "id,reading\n1,2024-01-01T00:00:00Z\n",
            "id,reading\n2,2024-02-01T00:00:00\n",
        ),
    }
    for kind, (jan, feb) in cases.items():
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "jan.csv").write_text(jan)
        (tmp_path / kind / "feb.csv").write_text(feb)
    runs = [data_args(f"file://./{kind}", f"file://./out-{kind}") for kind in cases]
    for kind, result in zip(cases, run_parallel(run_cli, *runs), strict=True):
        assert result.returncode == 4, (kind, result.stderr)
        assert f"{kind}/jan.csv" in result.stderr and f"{kind}/feb.csv" in result.stderr
        assert "'reading'" in result.stderr
        assert "Traceback" not in result.stderr
        out = tmp_path / f"out-{kind}"
        assert not out.exists() or not list(out.rglob("*.parquet"))


def test_dictionary_columns_unify_as_their_values(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    categorical = pa.array(["a", "b"]).dictionary_encode()
    pq.write_table(pa.table({"id": [1, 2], "s": categorical}), src / "a.parquet")
    pq.write_table(pa.table({"id": [3], "s": ["c"]}), src / "b.parquet")
    got = sort_by_id(read_source(f"file://{src}"))
    assert got.schema.field("s").type == pa.string()
    assert got.column("s").to_pylist() == ["a", "b", "c"]
    assert unify([("x", _schema(s=pa.dictionary(pa.int8(), pa.int32())))]) == _schema(s=pa.int32())
