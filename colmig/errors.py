"""The colmig exception hierarchy and the exit code each family maps to.

Only the CLI turns these into one-line messages and exit codes; library callers get the
exception object with its fields. Messages never contain credentials: every URL that goes
into a message passes through :func:`colmig.urls.redact` first.
"""

from __future__ import annotations

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
