"""Load a parsed ``COPY ... FROM stdin`` block into PostgreSQL through ADBC.

ADBC does not expose COPY FROM STDIN for arbitrary SQL, but its bulk ingest is PostgreSQL's
COPY protocol: the rows travel as text columns into a temporary table, then one INSERT ...
SELECT casts every value with the column type's own input function (``value::type``, exactly
what COPY does with a text field) into the named columns, in file order. Inside the
migration's transaction, so a failure leaves nothing behind.

When the INSERT fails, a binary search over prefixes of the rows, casting only, finds the
first row whose values the column types refuse, so the error names its line.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pyarrow as pa

from colmig.backends.sql_common import quote_ident
from colmig.schema.pgcopy import CopyBlock, ident_name

STAGE = "colmig_copy_rows"


class CopyRowError(Exception):
    """The COPY failed; ``error`` is the driver's exception, ``line_offset`` the line in the
    block (0: the COPY command) and ``what`` says which part failed."""

    def __init__(self, what: str, error: BaseException, line_offset: int) -> None:
        super().__init__(what)
        self.what = what
        self.error = error
        self.line_offset = line_offset


class CopyColumnError(Exception):
    """A column named in the COPY does not exist (or is generated) in the target table."""


def copy_rows(conn: Any, cur: Any, block: CopyBlock, *, in_transaction: bool) -> None:
    """Insert ``block``'s rows into its table through ``cur`` (an ADBC PostgreSQL cursor of
    the dbapi connection ``conn``). On failure inside a transaction, that transaction is
    rolled back (the migration fails anyway) before the failing row is looked for."""
    names, types = _target_columns(cur, block)
    if not block.rows:
        return
    casts = ", ".join(f"c{i}::{t}" for i, t in enumerate(types))
    target = ", ".join(quote_ident(n) for n in names)
    _stage(cur, block)
    try:
        cur.execute(
            f"INSERT INTO {block.table} ({target}) SELECT {casts} FROM pg_temp.{STAGE} ORDER BY ord"
        )
    except Exception as exc:
        if in_transaction:
            conn.rollback()
        bad, error = _locate(conn, cur, block, casts, in_transaction)
        if bad is None:
            raise CopyRowError(f"COPY into {block.table}", exc, 0) from None
        raise CopyRowError(
            f"COPY into {block.table}, data row {bad + 1}", error or exc, block.row_lines[bad]
        ) from None
    finally:
        if not in_transaction:  # autocommit: nothing rolls the staging table back
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
    if in_transaction:
        cur.execute(f"DROP TABLE pg_temp.{STAGE}")


def _stage(cur: Any, block: CopyBlock) -> None:
    """The rows as text columns c0..cN plus their order, in a temporary table (bulk COPY)."""
    width = len(block.rows[0])
    data = {f"c{i}": pa.array([r[i] for r in block.rows], pa.string()) for i in range(width)}
    data["ord"] = pa.array(range(len(block.rows)), pa.int64())
    cur.adbc_ingest(STAGE, pa.table(data), mode="replace", temporary=True)


def _locate(
    conn: Any, cur: Any, block: CopyBlock, casts: str, in_transaction: bool
) -> tuple[int | None, BaseException | None]:
    """The first row whose values do not cast to their column types, and the server's error.

    Probes run in autocommit mode, where a failed probe poisons nothing (ADBC refuses every
    statement in an aborted transaction, savepoints included). A row that breaks a constraint
    is not found this way; the server's own message names its key."""
    try:
        if in_transaction:
            conn.adbc_connection.set_autocommit(True)
            _stage(cur, block)
        return _first_failing_row(cur, f"SELECT count(ROW({casts})) FROM pg_temp.{STAGE}", block)
    except Exception:  # the diagnosis is best effort: the original error is reported anyway
        return None, None
    finally:
        if in_transaction:
            with contextlib.suppress(Exception):
                cur.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
            with contextlib.suppress(Exception):
                conn.adbc_connection.set_autocommit(False)


def _target_columns(cur: Any, block: CopyBlock) -> tuple[list[str], list[str]]:
    """The columns the rows go to (catalog names) and their types as SQL text."""
    cur.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> ''"
        " FROM pg_attribute a WHERE a.attrelid = $1::text::regclass AND a.attnum > 0"
        " AND NOT a.attisdropped ORDER BY a.attnum",
        (block.table,),
    )
    rows = [(str(n), str(t), bool(g)) for n, t, g in cur.fetchall()]
    if block.columns is None:
        chosen = [(n, t) for n, t, generated in rows if not generated]
    else:
        by_name = {n: (n, t, g) for n, t, g in rows}
        chosen = []
        for written in block.columns:
            found = by_name.get(ident_name(written))
            if found is None or found[2]:
                what = "is a generated column" if found else "does not exist"
                raise CopyColumnError(f"column {written} of {block.table} {what}")
            chosen.append((found[0], found[1]))
    width = len(block.rows[0]) if block.rows else len(chosen)
    if width != len(chosen):
        raise CopyColumnError(
            f"COPY data rows have {width} fields but {block.table} has {len(chosen)} columns"
        )
    return [n for n, _ in chosen], [t for _, t in chosen]


def _first_failing_row(
    cur: Any, query: str, block: CopyBlock
) -> tuple[int | None, BaseException | None]:
    """Binary search for the smallest row index whose prefix makes ``query`` fail."""

    def fails(last: int) -> BaseException | None:
        try:
            cur.execute(f"{query} WHERE ord <= $1", (last,))
            cur.fetchall()
            return None
        except Exception as exc:
            return exc

    count = len(block.rows)
    error = fails(count - 1)
    if error is None:
        return None, None
    lo, hi = 0, count - 1  # the prefix ending at hi fails
    while lo < hi:
        mid = (lo + hi) // 2
        found = fails(mid)
        if found is not None:
            hi, error = mid, found
        else:
            lo = mid + 1
    return hi, error
