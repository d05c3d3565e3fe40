"""Helpers the server schema targets (PostgreSQL, MySQL/MariaDB) share.

Tracking-row and audit-entry normalisation, lock names, and the one-line messages for a failed
statement, so both targets record and report the same way.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from colmig.audit import ENTRY_KEYS
from colmig.backends.base import AppliedMigration
from colmig.urls import redact_secrets

AUDIT_TABLE = "colmig_audit"
#: Seconds between two tries of a non-blocking lock.
LOCK_POLL_S = 0.2
#: Seconds a connection attempt may take before the host counts as unreachable.
CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class TrackingRow:
    """A tracking-table row ready to insert (``applied_at`` as an aware UTC datetime)."""

    version: str
    description: str
    checksum: str
    applied_at: dt.datetime
    duration_ms: int
    applied_by: str
    dirty: bool


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def to_utc(value: Any) -> dt.datetime:
    """An aware UTC datetime from a datetime (naive means UTC) or an ISO-8601 string."""
    if value is None or value == "":
        return utc_now()
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if not isinstance(value, dt.datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def iso(value: Any) -> str:
    """The ISO-8601 UTC text ``applied()`` reports, e.g. ``2024-01-15T10:30:00.123Z``.

    Same shape as the runner's records, so every database shows applied_at alike."""
    if value is None:
        return ""
    return to_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def applied_from_rows(rows: Iterable[Sequence[Any]]) -> list[AppliedMigration]:
    """Tracking rows (version, description, checksum, applied_at, duration_ms, applied_by,
    dirty) as the runner sees them."""
    return [
        AppliedMigration(
            version=str(r[0]),
            description=str(r[1] or ""),
            checksum=str(r[2] or ""),
            applied_at=iso(r[3]),
            duration_ms=int(r[4] or 0),
            applied_by=str(r[5] or ""),
            dirty=bool(r[6]),
        )
        for r in rows
    ]


def default_applied_by() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def tracking_row(record: Mapping[str, Any], duration_ms: int | None = None) -> TrackingRow:
    """Normalise the runner's ``record`` mapping; a measured ``duration_ms`` wins over its own."""
    if not record.get("version"):
        raise ValueError("a tracking record needs a version")
    return TrackingRow(
        version=str(record["version"]),
        description=str(record.get("description") or ""),
        checksum=str(record.get("checksum") or ""),
        applied_at=to_utc(record.get("applied_at")),
        duration_ms=int(duration_ms if duration_ms is not None else record.get("duration_ms") or 0),
        applied_by=str(record.get("applied_by") or default_applied_by()),
        dirty=bool(record.get("dirty", False)),
    )


@dataclass(frozen=True)
class AuditRow:
    """One ``colmig_audit`` row: scalar columns plus the whole entry as JSON text."""

    at: dt.datetime
    operation: str
    username: str
    host: str
    source: str
    direction: str | None
    from_version: str | None
    to_version: str | None
    versions: str
    duration_ms: int | None
    outcome: str
    error: str | None
    entry: str


def audit_row(entry: Mapping[str, Any]) -> AuditRow:
    """Normalise an audit entry; source and error are redacted again (defence in depth)."""
    clean: dict[str, Any] = {key: entry.get(key) for key in ENTRY_KEYS}
    for key in ("source", "error"):
        if clean[key] is not None:
            clean[key] = redact_secrets(str(clean[key]))
    versions = [str(v) for v in (clean["versions"] or [])]
    clean["versions"] = versions
    duration = clean["duration_ms"]

    def text(key: str) -> str | None:
        return None if clean[key] is None else str(clean[key])

    return AuditRow(
        at=to_utc(clean["at"]),
        operation=str(clean["operation"] or ""),
        username=str(clean["user"] or ""),
        host=str(clean["host"] or ""),
        source=str(clean["source"] or ""),
        direction=text("direction"),
        from_version=text("from_version"),
        to_version=text("to_version"),
        versions=json.dumps(versions),
        duration_ms=None if duration is None else int(duration),
        outcome=str(clean["outcome"] or ""),
        error=text("error"),
        entry=json.dumps(clean, default=str, sort_keys=True),
    )


def lock_name(*parts: str) -> str:
    """A stable lock name for ``parts`` (database, table), readable when short enough."""
    readable = "colmig:" + ".".join(parts)
    if len(readable) <= 64:  # MySQL's GET_LOCK limit
        return readable
    return "colmig:" + hashlib.sha256(readable.encode()).hexdigest()[:40]


def lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key derived from ``name`` (stable across runs)."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def snippet(statement: str, limit: int = 100) -> str:
    """The statement on one line, shortened for an error message."""
    flat = re.sub(r"\s+", " ", statement).strip()
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def first_line(exc: BaseException) -> str:
    """The driver's error message, redacted, first meaningful line only."""
    text = redact_secrets(str(exc)).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__
