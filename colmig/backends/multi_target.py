"""Several source tables (``-table 'h*'`` or a list) into as many target tables.

``prepare`` runs once and knows only the job's first target name, so each other target table
is created (or checked, when it exists) before its first partition is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from colmig.backends.sql_common import LEDGER_TABLE
from colmig.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from colmig.backends.base import JobInfo, Partition
    from colmig.backends.sql_writer import SqlWriter
    from colmig.config import Settings


def several_targets(settings: Settings) -> bool:
    """A glob or list of source tables, each going to the table of its own name."""
    spec = settings.source_table or settings.table or ""
    return not settings.target_table and not settings.query and any(ch in spec for ch in ",*?[")


def prepare_ledger(writer: SqlWriter, job: JobInfo, fresh: bool) -> None:
    """``prepare`` of a job with several targets: only the ledger (no table of a made-up
    name; each target is created before its first partition)."""
    with writer._guard("prepare"):
        cur = writer._cursor()
        writer._begin(cur)
        writer._ensure_ledger(cur)
        if fresh:
            cur.execute(f"DELETE FROM {LEDGER_TABLE} WHERE job_id = {writer.literal(job.job_id)}")
        writer.conn.commit()


def ensure_partition_target(
    writer: SqlWriter, partition: Partition, schema: pa.Schema, job: JobInfo
) -> None:
    """Create ``partition``'s target table when it is not the job's prepared one."""
    if not several_targets(writer.settings):
        return
    target = writer._target_name(job, partition)
    if writer._uses_staging():
        raise ConfigError(
            "-write-mode replace and -rollback-on-error stage one target table; with several"
            " source tables run one job per table"
        )
    with writer._guard(f"creating table {target}"):
        # The create comes first: a read before it would make parallel SQLite workers
        # deadlock on the lock upgrade. An existing table is checked by write_partition.
        cur = writer._cursor()
        writer._begin(cur)
        keys = writer._keys() if writer.settings.write_mode == "upsert" else []
        writer._create_table(cur, target, schema, keys, if_missing=True)  # type: ignore[call-arg]
        writer.conn.commit()
