"""Child process for the concurrency tests: write partitions of one job into a shared file.

Usage: python -m tests.duckdb_backend.concurrent_writer URL NAME COUNT ROWS
Prints one line per partition: ``start end`` (monotonic clock) of its write_partition call.
"""

from __future__ import annotations

import sys
import time

from colmig.backends.base import JobInfo, Partition
from colmig.config import Settings
from colmig.registry import open_writer
from tests.databases.helpers import series_table


def main() -> None:
    url, name, count, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    # lock_timeout=0: a DuckDB-level conflict would fail at once, so success proves the lock.
    writer = open_writer(url, Settings(table="shared", lock_timeout=0))
    job = JobInfo("shared-job", "run-1", "file://./data")
    for index in range(count):
        start = (ord(name[0]) * 1000 + index) * rows
        data = series_table(rows, start=start)
        began = time.monotonic()
        part = Partition(f"{name}-{index}", f"{name} {index}")
        writer.write_partition(part, data.to_batches(max_chunksize=5000), data.schema, job)
        print(f"{began} {time.monotonic()}", flush=True)


if __name__ == "__main__":
    main()
