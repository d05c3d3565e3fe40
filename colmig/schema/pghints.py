"""Hints for PostgreSQL errors a migration file can meet, chosen by SQLSTATE.

The SQLSTATE says what went wrong (25001: the statement cannot run inside a transaction
block); the failing statement's own leading words say which advice fits it. Never the
server's message text, which is translated by ``lc_messages``.
"""

from __future__ import annotations

import re

ACTIVE_SQL_TRANSACTION = "25001"
UNSAFE_NEW_ENUM_VALUE_USAGE = "55P04"

NO_TRANSACTION_LINE = "-- colmig:no-transaction"
_OPT_OUT = (
    f"put it in a migration file of its own whose first line is '{NO_TRANSACTION_LINE}' "
    "(colmig then runs that file's statements one by one outside a transaction)"
)

#: (leading words of the statement, advice) for statements PostgreSQL refuses in a transaction.
_NO_TRANSACTION_STATEMENTS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b"),
        "CREATE INDEX CONCURRENTLY cannot run inside a transaction: " + _OPT_OUT + ", or drop "
        "CONCURRENTLY to build it inside the migration's transaction (writes to the table then "
        "wait until the index is built)",
    ),
    (
        re.compile(r"DROP\s+INDEX\s+CONCURRENTLY\b"),
        "DROP INDEX CONCURRENTLY cannot run inside a transaction: " + _OPT_OUT + ", or drop "
        "CONCURRENTLY (the table is then locked while the index is dropped)",
    ),
    (
        re.compile(r"REINDEX\b.*\bCONCURRENTLY\b", re.DOTALL),
        "REINDEX CONCURRENTLY cannot run inside a transaction: " + _OPT_OUT,
    ),
    (
        re.compile(r"VACUUM\b"),
        "VACUUM cannot run inside a transaction: " + _OPT_OUT + "; to refresh planner "
        "statistics inside the migration, ANALYZE alone works in a transaction",
    ),
    (
        re.compile(r"ALTER\s+TYPE\b.*\bADD\s+VALUE\b", re.DOTALL),
        "ALTER TYPE ... ADD VALUE cannot run inside a transaction on PostgreSQL before 12: "
        + _OPT_OUT
        + ", or upgrade to PostgreSQL 12 or later",
    ),
    (
        re.compile(r"(CREATE|DROP|ALTER)\s+DATABASE\b"),
        "CREATE/DROP DATABASE cannot run inside a transaction, and a migration runs inside "
        "the database it migrates: create the database before running colmig (or " + _OPT_OUT + ")",
    ),
    (
        re.compile(r"(CREATE|DROP)\s+TABLESPACE\b"),
        "CREATE/DROP TABLESPACE cannot run inside a transaction: " + _OPT_OUT,
    ),
    (
        re.compile(r"ALTER\s+SYSTEM\b"),
        "ALTER SYSTEM cannot run inside a transaction: " + _OPT_OUT,
    ),
    (
        re.compile(r"(CREATE|ALTER|DROP)\s+SUBSCRIPTION\b"),
        "this SUBSCRIPTION command cannot run inside a transaction: " + _OPT_OUT,
    ),
]


def _leading(statement: str) -> str:
    """The statement's code without leading comments, upper-cased, whitespace collapsed."""
    text = statement
    while True:
        text = text.lstrip()
        if text.startswith("--"):
            text = text.split("\n", 1)[1] if "\n" in text else ""
        elif text.startswith("/*") and "*/" in text:
            text = text.split("*/", 1)[1]
        else:
            break
    return " ".join(text[:400].split()).upper()


def no_transaction_hint(sqlstate: str | None, statement: str) -> str:
    """Advice for a statement that failed because of the migration's transaction, or ""."""
    if sqlstate == ACTIVE_SQL_TRANSACTION:
        lead = _leading(statement)
        for pattern, advice in _NO_TRANSACTION_STATEMENTS:
            if pattern.match(lead):
                return f" ({advice})"
        words = " ".join(lead.split()[:3]) or "this statement"
        return f" ({words} cannot run inside a transaction block: {_OPT_OUT})"
    if sqlstate == UNSAFE_NEW_ENUM_VALUE_USAGE:
        return (
            " (an enum value added by ALTER TYPE ... ADD VALUE cannot be used in the same "
            "transaction: move the statements that use it to a later migration, or put the "
            f"ADD VALUE in a file whose first line is '{NO_TRANSACTION_LINE}')"
        )
    return ""


def error_line(exc: BaseException, statement: str) -> int | None:
    """The 0-based line within ``statement`` where the server located the error, if it did."""
    for key, value in getattr(exc, "details", None) or ():
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name == "PG_DIAG_STATEMENT_POSITION":
            text = value.decode() if isinstance(value, bytes) else str(value)
            if text.isdigit() and 0 < int(text) <= len(statement) + 1:
                return statement[: int(text) - 1].count("\n")
    return None
