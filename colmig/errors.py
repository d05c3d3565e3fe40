"""The colmig exception hierarchy and the exit code each family maps to.

Only the CLI turns these into one-line messages and exit codes; library callers get the
exception object with its fields. Messages never contain credentials: every URL that goes
into a message passes through :func:`colmig.urls.redact` first.
"""

from __future__ import annotations

import errno
import os
from typing import Any

# Documented in README.md and in `colmig --help` (cli.py); keep the three in step.
EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_CONFIG = 2
EXIT_CONNECTION = 3
EXIT_SOURCE_DATA = 4
EXIT_TARGET = 5
EXIT_VALIDATION = 6
EXIT_MIGRATION_STATE = 7
EXIT_PARTIAL = 8
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class ColmigError(Exception):
    """Root of every error colmig raises on purpose."""

    exit_code = EXIT_UNEXPECTED

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (workers -> coordinator); keep fields when pickled.
        return (_rebuild, (type(self), self.message, self.fields))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[ColmigError], message: str, fields: dict[str, Any]) -> ColmigError:
    err = cls.__new__(cls)
    ColmigError.__init__(err, message, **fields)
    return err


class ConfigError(ColmigError):
    """Bad flags, configuration file, URL, migration file name or transform config."""

    exit_code = EXIT_CONFIG


class BackendNotFoundError(ConfigError):
    """Unknown URL scheme, or the extra that provides it is not installed."""


class ConnectionFailedError(ColmigError):
    """A server, bucket or path could not be reached (after retries where they apply)."""

    exit_code = EXIT_CONNECTION


class SourceDataError(ColmigError):
    """The source holds data colmig cannot read: malformed rows, schema conflicts."""

    exit_code = EXIT_SOURCE_DATA


class TransformError(SourceDataError):
    """A value failed a transform at run time and -on-error is fail."""


class TargetError(ColmigError):
    """The target refused the data or is incompatible with it."""

    exit_code = EXIT_TARGET


class TransientError(ColmigError):
    """A failure worth retrying with backoff (throttling, dropped connection)."""

    exit_code = EXIT_CONNECTION


class ValidationError(ColmigError):
    """Source and target disagree after a run (-validate)."""

    exit_code = EXIT_VALIDATION


class MigrationStateError(ColmigError):
    """The schema migration state forbids going on: dirty, changed files, lock held."""

    exit_code = EXIT_MIGRATION_STATE


class DirtyDatabaseError(MigrationStateError):
    """A previous migration failed half-way on a database without transactional DDL."""


class ChecksumMismatchError(MigrationStateError):
    """An applied migration file was edited after it was applied."""


class LockTimeoutError(MigrationStateError):
    """Another colmig run holds the migration or job lock."""


class MigrationFailedError(TargetError):
    """A migration's SQL failed; the message names the file and statement."""


class PartialFailureError(ColmigError):
    """Some partitions failed; the others were committed and a re-run retries only the failed."""

    exit_code = EXIT_PARTIAL


#: Every exit code with its meaning: the README's "Exit codes" table and ``colmig --help``
#: say exactly this (tests/hostile/test_exit_codes.py checks the README).
EXIT_CODE_MEANINGS: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_UNEXPECTED: "internal error (a bug)",
    EXIT_CONFIG: "configuration or usage error",
    EXIT_CONNECTION: "connection failed",
    EXIT_SOURCE_DATA: "bad source data",
    EXIT_TARGET: "target refused data / SQL failed / cannot write",
    EXIT_VALIDATION: "validation mismatch",
    EXIT_MIGRATION_STATE: "migration state (dirty, changed file, lock held)",
    EXIT_PARTIAL: "some partitions failed; the rest are committed",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_TERMINATED: "terminated (SIGTERM)",
}

#: errno values that mean "the target cannot take what is written", whatever the storage
#: library wrapped them in: disk full, quota, file too large, read-only file system, no
#: permission, a name or path too long, a directory where a file goes or the reverse.
_TARGET_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ENOSPC",
        "EDQUOT",
        "EFBIG",
        "EROFS",
        "EACCES",
        "EPERM",
        "ENAMETOOLONG",
        "EISDIR",
        "ENOTDIR",
        "EEXIST",
        "ELOOP",
        "EMLINK",
        "ETXTBSY",
    )
    if hasattr(errno, name)
)


def os_error_in(exc: BaseException) -> OSError | None:
    """The operating-system error (one with an errno) behind ``exc``: itself, or the nearest in
    its ``__cause__``/``__context__`` chain (kept even by ``raise ... from None``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            return current
        current = current.__cause__ or current.__context__
    return None


def target_write_error(exc: BaseException, where: str) -> ColmigError | None:
    """A :class:`TargetError` naming the errno text and path when ``exc`` (raised while
    writing to the target) comes from an OSError that says the target cannot take the data;
    None when it does not (the backend's own classification stands)."""
    cause = os_error_in(exc)
    if cause is None or cause.errno not in _TARGET_ERRNOS:
        return None
    name = errno.errorcode.get(cause.errno or 0, "")
    text = cause.strerror or os.strerror(cause.errno or 0)
    path = cause.filename if cause.filename is not None else None
    shown = f": {path}" if path else ""
    return TargetError(
        f"{where}: cannot write to the target: {text} ({name}){shown}",
        errno=name,
        path=str(path) if path else None,
    )


def local_decode_error(exc: BaseException) -> bool:
    """True when ``exc`` comes from an OSError without errno and there is none with one: on a
    local file system every failing system call sets errno, so such an error is a library
    (pyarrow's Parquet/Thrift decoder) refusing the file's bytes, not an I/O failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    found = False
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            if current.errno is not None:
                return False
            found = True
        current = current.__cause__ or current.__context__
    return found
