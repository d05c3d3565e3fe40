"""Small in-memory implementations of colmig's own Reader and Writer contracts, for driving
the worker and the coordinator with failures on demand (no client library is faked)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from colmig.backends.base import (
    ColumnStats,
    JobInfo,
    Partition,
    Reader,
    Writer,
    WriteResult,
)
from colmig.engine.checksums import table_stats
from colmig.errors import ColmigError, TransientError

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])


def rows_of(partition: Partition) -> pa.Table:
    """The rows of a fake partition: ids ``start .. start+rows-1``."""
    start, rows = int(partition.spec["start"]), int(partition.spec["rows"])
    ids = pa.array(range(start, start + rows), pa.int64())
    names = pa.compute.binary_join_element_wise("n", pa.compute.cast(ids, pa.string()), "")
    return pa.table({"id": ids, "name": names}, schema=SCHEMA)


@dataclass
class Script:
    """What goes wrong, per partition id: errors to raise on successive attempts."""

    failures: dict[str, list[Exception]] = field(default_factory=dict)
    reads: dict[str, int] = field(default_factory=dict)

    def attempt(self, partition_id: str) -> None:
        self.reads[partition_id] = self.reads.get(partition_id, 0) + 1
        pending = self.failures.get(partition_id)
        if pending:
            raise pending.pop(0)


class FakeReader(Reader):
    """``partitions`` partitions of ``rows`` rows each; fails as the script says, mid-stream."""

    def __init__(self, script: Script, partitions: int = 3, rows: int = 250) -> None:
        self.script = script
        self.partitions = [
            Partition(f"p{i}", f"fake part {i}", {"start": i * rows, "rows": rows}, rows, rows * 16)
            for i in range(partitions)
        ]

    def schema(self) -> pa.Schema:
        return SCHEMA

    def plan(self, max_partitions: int) -> list[Partition]:
        return list(self.partitions)

    def read(self, partition: Partition, batch_rows: int) -> Iterator[pa.RecordBatch]:
        batches = rows_of(partition).to_batches(max_chunksize=100)
        yield batches[0]  # something is written before the failure
        self.script.attempt(partition.id)
        yield from batches[1:]

    def describe(self) -> str:
        return "fake source"


class FakeWriter(Writer):
    """Keeps each partition's rows in memory; a rewrite replaces them (idempotent)."""

    def __init__(self) -> None:
        self.tables: dict[str, pa.Table] = {}

    def prepare(self, schema: pa.Schema, job: JobInfo, fresh: bool) -> None:
        if fresh:
            self.tables.clear()

    def write_partition(
        self,
        partition: Partition,
        batches: Iterable[pa.RecordBatch],
        schema: pa.Schema,
        job: JobInfo,
    ) -> WriteResult:
        table = pa.Table.from_batches(list(batches), schema=schema)
        self.tables[partition.id] = table
        return WriteResult(rows=table.num_rows, bytes=table.nbytes, outputs=(partition.id,))

    def partition_stats(
        self, partition: Partition, schema: pa.Schema, job: JobInfo
    ) -> dict[str, ColumnStats] | None:
        table = self.tables.get(partition.id, schema.empty_table())
        return table_stats(table.to_batches(), schema)

    def describe(self) -> str:
        return "fake target"


def transient(text: str = "SlowDown: please reduce your request rate") -> TransientError:
    return TransientError(text)


def permanent(text: str = "fake part 1: value 'x' is not a number") -> ColmigError:
    from colmig.errors import SourceDataError

    return SourceDataError(text)


class KillingReader(FakeReader):
    """Kills its own (worker) process with SIGKILL whenever it reads one chosen partition."""

    def __init__(
        self, victim: str, partitions: int = 4, rows: int = 250, others_take_s: float = 0.0
    ) -> None:
        super().__init__(Script(), partitions, rows)
        self.others_take_s = others_take_s
        # Unknown sizes keep the engine from folding a small job into one process.
        self.partitions = [Partition(p.id, p.label, p.spec, None, None) for p in self.partitions]
        self.victim = victim

    def read(self, partition: Partition, batch_rows: int) -> Iterator[pa.RecordBatch]:
        if partition.id == self.victim:
            import os
            import signal
            import time

            time.sleep(0.2)  # let siblings start, so the pool is busy when it breaks
            os.kill(os.getpid(), signal.SIGKILL)
        elif self.others_take_s:
            import time

            time.sleep(self.others_take_s)
        yield from rows_of(partition).to_batches(max_chunksize=100)
