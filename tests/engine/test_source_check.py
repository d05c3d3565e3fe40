"""The independent source read of -validate (DuckDB over the files) in process: per-file
statistics equal colmig's canonical ones, and many small files keep memory bounded."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from colmig.config import Settings
from colmig.engine import source_check
from colmig.engine.checksums import StatsAccumulator, add_stats, table_stats
from colmig.registry import open_reader


def test_many_small_files_are_summed_file_by_file_with_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = []
    for index in range(30):
        table = pa.table(
            {
                "id": pa.array(range(index * 100, index * 100 + 100), pa.int64()),
                "name": pa.array([f"n{i % 7}" if i % 11 else None for i in range(100)]),
                "value": pa.array([i * 0.25 for i in range(100)]),
            }
        )
        pacsv.write_csv(table, tmp_path / f"part-{index:02d}.csv")
        tables.append(table)
    flushes = []
    real_flush = StatsAccumulator.flush
    monkeypatch.setattr(source_check, "FOLD_ROWS", 150)
    monkeypatch.setattr(
        StatsAccumulator, "flush", lambda self: (flushes.append(1), real_flush(self))
    )
    reader = open_reader(f"file://{tmp_path}", Settings())
    schema = reader.schema()
    got = source_check.independent_source(reader, schema, schema, None)
    assert got.rows == 3000 and len(got.per_path) == 30
    assert flushes  # pending rows were summed before the end, not held for every file
    whole: dict = {}
    for table in tables:
        whole = add_stats(whole, table_stats([table.cast(schema)], schema))
    assert got.stats == whole
    one = next(p for p in got.per_path if p.endswith("part-07.csv"))
    assert got.per_path[one] == (100, table_stats([tables[7].cast(schema)], schema))
