"""Resume checks the target: a ledger that records partitions whose rows are gone must not
make a re-run skip them ("20 skipped by resume", 0 rows, while the table is missing).

Before a resumed run the writer compares its ``colmig_ledger`` rows for the job with the
target: when the target table (and the job's staging table) no longer exists, the job's ledger
rows are deleted and every partition is written again, with a warning. When the table exists
but holds fewer rows than the ledger says this job appended, the run stops and says so (which
partition lost rows cannot be told; ``-fresh`` reloads everything).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from colmig.backends.multi_target import several_targets
from colmig.backends.sql_common import LEDGER_TABLE
from colmig.errors import TargetError

if TYPE_CHECKING:
    from colmig.backends.base import JobInfo
    from colmig.backends.sql_writer import SqlWriter

log = logging.getLogger("colmig")


def check_ledger(writer: SqlWriter, job: JobInfo, fresh: bool) -> None:
    """Forget this job's ledger rows when the target is gone; stop when rows are missing."""
    s = writer.settings
    if fresh or several_targets(s):
        return  # several target tables: the ledger does not record which partition went where
    target = writer._target_name(job)
    with writer._guard("checking the ledger against the target"):
        cur = writer._cursor()
        writer._begin(cur)
        if not writer._table_exists(cur, LEDGER_TABLE):
            writer.conn.rollback()
            return
        cur.execute(
            f"SELECT COUNT(*), SUM(rows_written) FROM {LEDGER_TABLE} WHERE job_id ="
            f" {writer.literal(job.job_id)}"
        )
        partitions, recorded = cur.fetchall()[0]
        if not partitions:
            writer.conn.rollback()
            return
        staging = writer._staging(target, job) if writer._uses_staging() else None
        if not writer._table_exists(cur, target) and not (
            staging and writer._table_exists(cur, staging)
        ):
            log.warning(
                "target table %s is gone: %d partition(s) the ledger records as committed are"
                " written again",
                target,
                partitions,
            )
            cur.execute(f"DELETE FROM {LEDGER_TABLE} WHERE job_id = {writer.literal(job.job_id)}")
            writer.conn.commit()
            return
        if s.write_mode == "append" and staging is None:
            cur.execute(f"SELECT COUNT(*) FROM {writer.quote(target)}")
            held = int(cur.fetchall()[0][0])
            if held < int(recorded or 0):
                writer.conn.rollback()
                raise TargetError(
                    f"table {target} holds {held:,} rows but this job committed {int(recorded):,}"
                    f" in {partitions} partition(s): rows were deleted since, so resuming would"
                    " skip them; re-run with -fresh to load everything again",
                    table=target,
                )
        writer.conn.rollback()
