"""Child process for the crash test: loads partitions like the engine, announcing open loads.

Usage: python -m tests.duckdb_backend.crash_driver URL ROWS PARTS. After a partition's rows
are inserted but before its transaction (rows + ledger row) commits, prints
``inserted <id>`` and pauses, so the parent can SIGKILL it at exactly that point.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from colmig.backends.base import JobInfo, Partition
from colmig.backends.duckdb.writer import DuckdbWriter
from colmig.config import Settings
from colmig.urls import parse
from tests.databases.helpers import series_table


class AnnouncingWriter(DuckdbWriter):
    current = ""

    def _load(
        self, cur: Any, table: str, batches: Iterator[pa.RecordBatch], schema: pa.Schema
    ) -> None:
        super()._load(cur, table, batches, schema)
        print(f"inserted {self.current}", flush=True)
        time.sleep(0.3)


def main(url: str, rows: int, parts: int) -> None:
    writer = AnnouncingWriter(parse(url), Settings(table="crash"))
    job = JobInfo("crash-job", "run", "file://./series")
    data = series_table(rows)
    writer.prepare(data.schema, job, False)
    done = writer.committed_partitions(job) or set()
    size = rows // parts
    for index in range(parts):
        partition = Partition(f"part-{index:03d}", f"rows {index * size}+")
        if partition.id in done:
            continue
        writer.current = partition.id
        chunk = data.slice(index * size, size)
        writer.write_partition(partition, chunk.to_batches(max_chunksize=500), data.schema, job)
        print(f"committed {partition.id}", flush=True)
    writer.finalize(job)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
