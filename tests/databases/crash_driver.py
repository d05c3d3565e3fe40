"""Subprocess for the crash tests: loads a time series partition by partition like the engine.

Usage: python -m tests.databases.crash_driver URL ROWS PARTS. Prints ``loading <id>`` once a
partition's transaction holds rows (the parent SIGKILLs on that line) and ``done`` at the end.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pyarrow as pa

from colmig.backends.base import JobInfo, Partition
from colmig.config import Settings
from colmig.registry import open_writer
from tests.databases.helpers import series_table


def main(url: str, rows: int, parts: int) -> None:
    writer = open_writer(url, Settings(table="crash", batch_size=500))
    job = JobInfo("crash-job", f"run-{id(writer)}", "file://./series")
    data = series_table(rows)
    writer.prepare(data.schema, job, False)
    done = writer.committed_partitions(job) or set()
    size = rows // parts
    for index in range(parts):
        partition = Partition(f"part-{index:03d}", f"rows {index * size}+")
        if partition.id in done:
            continue
        chunk = data.slice(index * size, size)

        def batches(chunk: pa.Table = chunk, pid: str = partition.id) -> Iterator[pa.RecordBatch]:
            for number, batch in enumerate(chunk.to_batches(max_chunksize=500)):
                yield batch
                if number == 1:
                    print(f"loading {pid}", flush=True)

        writer.write_partition(partition, batches(), data.schema, job)
        print(f"committed {partition.id}", flush=True)
    writer.finalize(job)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
