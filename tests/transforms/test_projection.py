"""Projection pushdown: a compiled transformation names the source columns it reads, and the
files reader then parses only those."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from colmig.config import Settings
from colmig.registry import open_reader
from colmig.transforms import compile_transformation, load_config

REPO = Path(__file__).resolve().parents[2]
V1 = pa.schema(
    [
        ("timestamp", pa.int64()),
        ("sensor_id", pa.string()),
        ("site", pa.string()),
        ("value", pa.float64()),
        ("quality", pa.float64()),
        ("battery", pa.float64()),
    ]
)


def _compiled(on_error: str = "fail"):  # type: ignore[no-untyped-def]
    settings = Settings(on_error=on_error)
    config = load_config(str(REPO / "transforms" / "v2_upgrade.yaml"), settings)
    return compile_transformation(config.transformations[0], V1, settings)


def test_required_columns_are_the_mapped_and_filtered_ones() -> None:
    assert _compiled().required_columns() == ["timestamp", "value", "quality"]


def test_rejects_keep_whole_rows_so_every_column_is_read() -> None:
    assert _compiled("reject").required_columns() is None


def test_files_reader_reads_only_projected_columns(tmp_path: Path) -> None:
    table = pa.table({n: pa.array([1, 2], t) if t != pa.string() else ["a", "b"]
                      for n, t in zip(V1.names, V1.types, strict=True)})  # fmt: skip
    pq.write_table(table, tmp_path / "v1.parquet")
    reader = open_reader(f"file://{tmp_path}", Settings())
    assert reader.project(["timestamp", "quality"])
    assert reader.schema().names == ["timestamp", "quality"]
    batches = [b for p in reader.plan(1) for b in reader.read(p, 10)]
    assert pa.Table.from_batches(batches).column_names == ["timestamp", "quality"]
    assert not reader.project(["no_such_column"])
