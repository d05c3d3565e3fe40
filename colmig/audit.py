"""Audit log: one JSON line per operation in a local file, and a row in ``colmig_audit``.

The file is ``settings.audit_log`` or ``<settings.state_dir>/audit.jsonl``. Entries hold the
source URL with its password redacted and a redacted error message; never a credential.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colmig.urls import redact, redact_secrets

if TYPE_CHECKING:
    from colmig.backends.base import SchemaTarget
    from colmig.config import Settings

log = logging.getLogger("colmig.audit")

ENTRY_KEYS = (
    "at",
    "user",
    "host",
    "operation",
    "source",
    "direction",
    "from_version",
    "to_version",
    "versions",
    "duration_ms",
    "outcome",
    "error",
)


def current_user() -> str:
    """The OS user running colmig (falls back to $USER or the uid in bare containers)."""
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry for the uid
        return os.environ.get("USER") or f"uid{os.getuid()}"


def current_host() -> str:
    """This machine's host name."""
    return socket.gethostname()


def audit_path(settings: Settings) -> Path:
    """Where the JSON-lines audit file of ``settings`` lives."""
    return Path(settings.audit_log or Path(settings.state_dir) / "audit.jsonl")


def make_entry(
    *,
    operation: str,
    source: str | None,
    direction: str | None,
    from_version: str | None,
    to_version: str | None,
    versions: Sequence[str],
    duration_ms: int,
    outcome: str,
    error: BaseException | str | None,
) -> dict[str, Any]:
    """Build one audit entry with exactly :data:`ENTRY_KEYS`, secrets redacted."""
    return {
        "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "user": current_user(),
        "host": current_host(),
        "operation": operation,
        "source": redact_secrets(redact(source)) if source else None,
        "direction": direction,
        "from_version": from_version,
        "to_version": to_version,
        "versions": list(versions),
        "duration_ms": int(duration_ms),
        "outcome": outcome,
        "error": redact_secrets(str(error)) if error is not None else None,
    }


def append_file(settings: Settings, entry: Mapping[str, Any]) -> Path:
    """Append ``entry`` as one JSON line to the audit file (created with its directories)."""
    path = audit_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(dict(entry), ensure_ascii=False, sort_keys=False) + "\n"
    # One locked O_APPEND write per entry: concurrent runs never interleave lines.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
    return path


def record(
    settings: Settings, entry: Mapping[str, Any], target: SchemaTarget | None = None
) -> None:
    """Write ``entry`` to the audit file and, when ``target`` is given, to ``colmig_audit``.

    A failure to write the database copy is logged, not raised: the operation's own outcome
    (often an error being reported) must not be masked by the audit write.
    """
    try:
        append_file(settings, entry)
    except OSError as exc:
        log.warning("cannot write audit file %s: %s", audit_path(settings), exc.strerror)
    if target is not None:
        try:
            target.write_audit(entry)
        except Exception as exc:
            log.warning("cannot write the colmig_audit table: %s", redact_secrets(str(exc)))
