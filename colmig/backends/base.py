"""The backend contract: what a schema target, a data reader and a data writer promise.

A backend is one module (or package) registered by URL scheme in :mod:`colmig.registry`. It
exposes up to three factories, ``open_schema_target``, ``open_reader`` and ``open_writer``, each
taking ``(url: URL, settings: Settings)``. Backends read configuration only from the URL and
the settings (never from ``os.environ`` directly, except credential chains a client library
already honours, such as the AWS variables).

Data flows plan -> read -> transform -> write -> commit -> validate. The coordinator plans
partitions once; each partition is then read, transformed and written in a worker process
(or on a Dask worker later), so :class:`Partition` and :class:`JobInfo` hold plain picklable
values only.

Exactly-once contract
---------------------
``Writer.write_partition`` makes the partition's rows visible atomically or not at all, and is
idempotent under ``partition.id``: writing the same partition again replaces what an earlier
attempt may have left (temp files, staged rows, even a completed but unrecorded output). A
writer whose ``capabilities.transactional_ledger`` is true records the partition in its own
``colmig_ledger`` in the same transaction as the rows; ``committed_partitions`` then reads that
ledger back and is the source of truth for resume. Other writers rely on the engine's local
ledger, which is updated right after ``write_partition`` returns; a crash between the two is
safe because the re-run rewrites the partition idempotently.

Streams (Kafka, MQTT) fit the same contract: a partition is a topic-partition with an offset
range fixed at plan time, and the committed offsets are the ledger entry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa


# --------------------------------------------------------------------------------------------
# Schema migrations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppliedMigration:
    """One row of the version tracking table."""

    version: str
    description: str
    checksum: str
    applied_at: str
    duration_ms: int
    applied_by: str
    dirty: bool


class SchemaTarget(ABC):
    """A database that schema migrations are applied to (migrate's ``Driver``)."""

    #: Short dialect name used to pick per-dialect migration files: postgres, mysql, sqlite,
    #: duckdb.
    dialect: str = ""
    #: True when DDL runs inside a transaction that can be rolled back (PostgreSQL, SQLite,
    #: DuckDB); False on MySQL/MariaDB, where a failure leaves the version dirty.
    transactional_ddl: bool = True

    @abstractmethod
    def ensure_tables(self, migrations_table: str) -> None:
        """Create the tracking table and the ``colmig_audit`` table when missing."""

    @abstractmethod
    def applied(self, migrations_table: str) -> list[AppliedMigration]:
        """Rows of the tracking table ordered by version; empty when the table does not exist."""

    @abstractmethod
    def lock(self, timeout_s: float) -> None:
        """Take the migration lock or raise LockTimeoutError after ``timeout_s`` seconds."""

    @abstractmethod
    def unlock(self) -> None:
        """Release the migration lock; safe to call when not held."""

    @abstractmethod
    def apply(
        self,
        statements: list[str],
        record: Mapping[str, Any] | None,
        remove_version: str | None,
        migrations_table: str,
        *,
        in_transaction: bool = True,
    ) -> None:
        """Run ``statements`` and update the tracking table, atomically where DDL allows.

        ``in_transaction=False`` (a ``-- colmig:no-transaction`` file) runs each statement on
        its own, outside a transaction, with the row dirty until the last one succeeded.

        ``record`` is the tracking row to insert (up) and ``remove_version`` the row to delete
        (down). With transactional DDL the statements and the bookkeeping commit together.
        Without it the row is written dirty first and cleaned after the last statement, so a
        failure leaves it dirty. Raises MigrationFailedError naming the failing statement.

        Precisely: ``statements`` are already split (one statement each, no terminator) and run
        in order. ``record`` has the keys version, description, checksum, applied_at,
        duration_ms, applied_by, dirty; read its values when the row is written (after the
        statements), because ``duration_ms`` is computed live by the runner. The raised
        MigrationFailedError carries the fields ``statement_index`` (0-based index into
        ``statements``) and ``cause`` (the driver's one-line message, no credentials); the
        runner turns them into "file:line: cause".
        """

    @abstractmethod
    def set_version(
        self, migrations_table: str, record: Mapping[str, Any] | None, remove_versions: list[str]
    ) -> None:
        """Force bookkeeping without running SQL (``force``).

        Inserts ``record`` (or replaces the row with the same version) and deletes the rows of
        ``remove_versions``, in one transaction where possible. The runner calls it once per
        row it marks, then once with ``record=None`` for the rows it removes."""

    @abstractmethod
    def write_audit(self, entry: Mapping[str, Any]) -> None:
        """Append one audit entry to the ``colmig_audit`` table."""

    @abstractmethod
    def close(self) -> None:
        """Close connections; idempotent."""


# --------------------------------------------------------------------------------------------
# Data movement
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    """A unit of work: planned once, picklable, read anywhere.

    ``id`` is deterministic for the same job inputs (a file path and byte range, a key range,
    a topic-partition and offset range) so a re-run finds it in the ledger. ``spec`` holds the
    backend-specific plain values the reader needs.
    """

    id: str
    label: str
    spec: Mapping[str, Any] = field(default_factory=dict)
    estimated_rows: int | None = None
    estimated_bytes: int | None = None


@dataclass(frozen=True)
class JobInfo:
    """What a writer needs to know about the job it writes for (picklable)."""

    job_id: str
    run_id: str
    source_redacted: str
    target_table: str | None = None


@dataclass(frozen=True)
class WriteResult:
    """What ``write_partition`` did; ``outputs`` names files/objects/tables for the ledger."""

    rows: int
    bytes: int
    outputs: tuple[str, ...] = ()
    rejected_rows: int = 0


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; the engine branches on these, never on schemes."""

    #: The reader can split its input into several partitions.
    partitionable: bool = True
    #: Writer records partitions in its own ledger in the same transaction as the rows.
    transactional_ledger: bool = False
    #: Writer supports ``-write-mode upsert`` / ``replace``.
    upsert: bool = False
    replace: bool = False
    #: Writer accepts ``-partition-by`` (hive layout).
    partition_by: bool = False
    #: Reader is an unbounded stream: plan fixes offsets, read stops at them.
    streaming: bool = False


@dataclass(frozen=True)
class ColumnStats:
    """Order-independent statistics of one column of one partition, for ``-validate``.

    ``checksum`` is a canonical, engine-independent fingerprint (see
    :mod:`colmig.engine.checksums`); equal multisets of values give equal checksums, whichever
    engine (DuckDB over Arrow, PostgreSQL, MariaDB SQL) computed them. ``approximate`` marks a
    floating-point sum, compared with a relative tolerance.
    """

    count: int
    nulls: int
    checksum: str
    approximate: bool = False


class Reader(ABC):
    """A data source producing Arrow record batches."""

    capabilities: Capabilities = Capabilities()

    @abstractmethod
    def schema(self) -> pa.Schema:
        """The unified Arrow schema of everything the reader will produce."""

    @abstractmethod
    def plan(self, max_partitions: int) -> list[Partition]:
        """Split the input into partitions without reading the data itself.

        ``max_partitions`` is a hint (splitting past it only adds overhead)."""

    @abstractmethod
    def read(self, partition: Partition, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Stream ``partition`` as batches of at most ``batch_rows`` rows, in the unified schema.

        Raises SourceDataError naming the file/line/column for malformed input."""

    def project(self, columns: list[str]) -> bool:
        """Read only ``columns`` (a subset of ``schema()``, which then narrows to them).

        Returns False when the reader cannot, and then reads every column as before."""
        return False

    def drain_rejects(self) -> list[tuple[str, str]]:
        """Malformed source rows set aside since the last call (``-on-error skip|reject``), as
        (reason naming file:line, raw text). Readers that never skip rows return []."""
        return []

    def describe(self) -> str:
        """A one-line redacted description for logs and plans."""
        return type(self).__name__

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; idempotent."""


class Writer(ABC):
    """A data target consuming Arrow record batches, one partition at a time."""

    capabilities: Capabilities = Capabilities()

    @abstractmethod
    def prepare(self, schema: pa.Schema, job: JobInfo, fresh: bool) -> None:
        """Run once in the coordinator before any partition: create or check the target.

        Raises TargetError listing incompatible columns before any row is written. With
        ``fresh`` the writer forgets what earlier runs of ``job`` committed."""

    @abstractmethod
    def write_partition(
        self,
        partition: Partition,
        batches: Iterable[pa.RecordBatch],
        schema: pa.Schema,
        job: JobInfo,
    ) -> WriteResult:
        """Write all of ``batches`` for ``partition`` and commit them atomically (see module doc).

        Runs in a worker process. ``schema`` is the schema every batch has."""

    def cleanup(self, job: JobInfo, planned: Iterable[str], committed: set[str]) -> int:
        """Remove leftovers of planned partitions not in ``committed`` (coordinator, before any
        partition runs); returns how many objects were removed. Writers whose partitions commit
        transactionally have nothing to clean."""
        return 0

    def target_stats(self, schema: pa.Schema, job: JobInfo) -> dict[str, ColumnStats] | None:
        """Statistics of everything the target holds for ``job`` (a whole table), or None.

        Used by ``-validate`` when ``partition_stats`` cannot isolate one partition's rows."""
        return None

    def missing_outputs(self, job: JobInfo, outputs: Mapping[str, Iterable[str]]) -> set[str]:
        """Ids of partitions (from ``outputs``: id -> recorded outputs) whose recorded outputs
        are gone, so a resume rewrites them instead of trusting the local ledger."""
        return set()

    def output_of(self, partition: Partition, job: JobInfo) -> str | None:
        """Where ``partition``'s rows will land (for dry runs), or None if not known."""
        return None

    def committed_partitions(self, job: JobInfo) -> set[str] | None:
        """Partition ids the target itself knows are committed, or None if it keeps no ledger."""
        return None

    def finalize(self, job: JobInfo) -> None:  # noqa: B027 - optional hook
        """Run once in the coordinator after every partition committed (e.g. replace swap)."""

    def rollback(self, job: JobInfo, partition_ids: Iterable[str]) -> None:
        """Undo what this run committed (-rollback-on-error); called instead of ``finalize``.

        Afterwards the target must hold what it held before the run. A writer that cannot do
        that keeps this default, which refuses loudly rather than pretending to roll back."""
        from colmig.errors import TargetError

        raise TargetError(f"{self.describe()} cannot roll back this run's partitions")

    def partition_stats(
        self, partition: Partition, schema: pa.Schema, job: JobInfo
    ) -> dict[str, ColumnStats] | None:
        """Per-column stats of what the target holds for ``partition``, or None if unknown."""
        return None

    def describe(self) -> str:
        """A one-line redacted description for logs and plans."""
        return type(self).__name__

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; idempotent."""
