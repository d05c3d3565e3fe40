"""The schema-migration engine: state, plans, and running a plan against a SchemaTarget.

A tracking row matches a migration file by its ``YYYYMMDD_HHMMSS`` timestamp (the file's
identity), so renaming a file's description does not make it look pending again.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from colmig.audit import current_host, current_user
from colmig.backends.base import AppliedMigration, SchemaTarget
from colmig.errors import (
    ChecksumMismatchError,
    ColmigError,
    ConfigError,
    ConnectionFailedError,
    DirtyDatabaseError,
    MigrationFailedError,
)
from colmig.schema.files import TIMESTAMP_LEN, MigrationFile, resolve_version
from colmig.schema.pgcopy import CopyFormatError, parse_block
from colmig.schema.splitter import Statement, split_statements
from colmig.urls import redact_secrets

log = logging.getLogger("colmig.schema")

#: The version name meaning "before the first migration" (``down -version 0``, ``force 0``).
ZERO = "0"

_TXN_CONTROL = re.compile(
    r"^(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK)(\s+(WORK|TRANSACTION))?$", re.IGNORECASE
)


#: A file's first line opting it out of the per-file transaction (like golang-migrate's and
#: Flyway's per-script options), for statements PostgreSQL refuses inside one.
_NO_TRANSACTION = re.compile(r"\A\ufeff?[ \t]*--[ \t]*colmig:no-transaction[ \t]*\r?(\n|\Z)")


def ts_of(version: str) -> str:
    """The timestamp part (identity) of a version stem."""
    return version[:TIMESTAMP_LEN]


@dataclass(frozen=True)
class Step:
    """One migration to run: ``up`` applies ``migration``; ``down`` reverts tracked ``version``."""

    direction: str
    migration: MigrationFile
    version: str


@dataclass
class State:
    """Files on disk and rows in the tracking table, matched by timestamp."""

    files: list[MigrationFile]
    applied: list[AppliedMigration]
    file_by_ts: dict[str, MigrationFile] = field(init=False)
    applied_by_ts: dict[str, AppliedMigration] = field(init=False)

    def __post_init__(self) -> None:
        self.files = sorted(self.files, key=lambda f: f.version)
        self.applied = sorted(self.applied, key=lambda a: a.version)
        self.file_by_ts = {f.timestamp: f for f in self.files}
        self.applied_by_ts = {ts_of(a.version): a for a in self.applied}

    @property
    def current(self) -> str | None:
        """The newest applied version, or None when nothing is applied."""
        return self.applied[-1].version if self.applied else None

    @property
    def pending(self) -> list[MigrationFile]:
        return [f for f in self.files if f.timestamp not in self.applied_by_ts]

    @property
    def dirty(self) -> list[AppliedMigration]:
        return [a for a in self.applied if a.dirty]

    @property
    def changed(self) -> list[tuple[AppliedMigration, MigrationFile]]:
        out = []
        for a in self.applied:
            f = self.file_by_ts.get(ts_of(a.version))
            if f is not None and f.checksum != a.checksum:
                out.append((a, f))
        return out

    @property
    def missing(self) -> list[AppliedMigration]:
        return [a for a in self.applied if ts_of(a.version) not in self.file_by_ts]

    def candidates(self) -> list[str]:
        """Every version name a user may refer to (files and tracked rows)."""
        return sorted({f.version for f in self.files} | {a.version for a in self.applied})

    def resolve(self, name: str) -> str | None:
        """Resolve a user's version name; ``0`` means before the first migration (None)."""
        if name.strip() == ZERO:
            return None
        return resolve_version(self.candidates(), name)


# --- plans ------------------------------------------------------------------------------------


def _down_step(state: State, applied: AppliedMigration, directory: str) -> Step:
    f = state.file_by_ts.get(ts_of(applied.version))
    if f is None:
        raise ConfigError(
            f"cannot revert {applied.version}: it is recorded as applied but has no migration "
            f"file in {directory}"
        )
    return Step("down", f, applied.version)


def plan_up(state: State, steps: int | None, target: str | None = None) -> list[Step]:
    """Pending migrations in version order, up to ``target`` (inclusive), at most ``steps``."""
    todo = [
        Step("up", f, f.version)
        for f in state.pending
        if target is None or f.timestamp <= ts_of(target)
    ]
    return todo[:steps] if steps is not None else todo


def plan_down(
    state: State, steps: int | None, target: str | None, directory: str, *, to_zero: bool = False
) -> list[Step]:
    """Applied migrations newer than ``target`` newest first (all when ``to_zero``)."""
    cut = None if to_zero or target is None else ts_of(target)
    newer = [a for a in state.applied if to_zero or (cut is not None and ts_of(a.version) > cut)]
    todo = [_down_step(state, a, directory) for a in reversed(newer)]
    return todo[:steps] if steps is not None else todo


def plan_goto(state: State, target: str | None, steps: int | None, directory: str) -> list[Step]:
    """Reach the state "every file up to ``target`` applied, nothing after": downs, then ups."""
    downs = plan_down(state, None, target, directory, to_zero=target is None)
    ups = plan_up(state, None, target) if target is not None else []
    todo = downs + ups
    return todo[:steps] if steps is not None else todo


def plan_direction(steps: Sequence[Step]) -> str | None:
    """``up``, ``down``, ``down+up`` or None for an empty plan."""
    kinds = sorted({s.direction for s in steps}, reverse=False)
    if not kinds:
        return None
    return kinds[0] if len(kinds) == 1 else "down+up"


# --- checks -----------------------------------------------------------------------------------


def check_clean(state: State, directory: str) -> None:
    """Raise DirtyDatabaseError when a migration failed half-way earlier."""
    if not state.dirty:
        return
    bad = state.dirty[0]
    f = state.file_by_ts.get(ts_of(bad.version))
    where = f" ({f.up_path})" if f else ""
    previous = [a.version for a in state.applied if a.version < bad.version and not a.dirty]
    before = previous[-1] if previous else ZERO
    raise DirtyDatabaseError(
        f"database is dirty at version {bad.version}{where}: a migration failed part-way "
        "outside a transaction (MySQL/MariaDB DDL, or a '-- colmig:no-transaction' file). "
        "Check which of its statements took effect and finish or undo them by hand, then run"
        f" 'colmig force {bad.version}' (if it is now "
        f"fully applied) or 'colmig force {before}' (if you undid it)",
        version=bad.version,
    )


def check_unchanged(state: State, allow_changed: bool, warn: Callable[[str], None]) -> None:
    """Refuse to go on when applied files were edited, unless ``allow_changed``."""
    changed = state.changed
    if not changed:
        return
    names = ", ".join(str(f.up_path) for _, f in changed)
    if allow_changed:
        warn(f"applied migration files were edited since they were applied: {names}")
        return
    a, f = changed[0]
    others = ", ".join(str(g.up_path) for _, g in changed[1:])
    raise ChecksumMismatchError(
        f"migration file {f.up_path} was edited after {a.version} was applied (recorded "
        f"checksum {a.checksum[:12]}, file now {f.checksum[:12]})"
        + (f"; also edited: {others}" if others else "")
        + ". Restore the file, or run with --allow-changed to go on anyway",
        files=[str(g.up_path) for _, g in changed],
    )


# --- running ----------------------------------------------------------------------------------


class LiveRecord(Mapping[str, Any]):
    """A tracking row whose ``duration_ms`` is the time since the migration started, read when
    the target writes the row (after the statements ran)."""

    def __init__(self, values: dict[str, Any], started: float) -> None:
        self._values = values
        self._started = started

    def __getitem__(self, key: str) -> Any:
        if key == "duration_ms":
            return int((time.monotonic() - self._started) * 1000)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def applied_by() -> str:
    """``user@host`` for the tracking table."""
    return f"{current_user()}@{current_host()}"


def now_iso() -> str:
    """The current UTC time as ISO 8601 with a Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tracking_record(f: MigrationFile, started: float | None = None) -> Mapping[str, Any]:
    """The tracking row for applying ``f`` (clean; the target marks it dirty if it must)."""
    values = {
        "version": f.version,
        "description": f.description,
        "checksum": f.checksum,
        "applied_at": now_iso(),
        "duration_ms": 0,
        "applied_by": applied_by(),
        "dirty": False,
    }
    return LiveRecord(values, started) if started is not None else values


@dataclass(frozen=True)
class Prepared:
    """A step's file, read and split; ``in_transaction`` is False for a file whose first line
    is ``-- colmig:no-transaction``."""

    path: Path
    statements: list[Statement]
    in_transaction: bool


@dataclass
class Outcome:
    """What a run did, for the summary line and the audit entry."""

    done: list[Step] = field(default_factory=list)
    reverted: list[str] = field(default_factory=list)


class Runner:
    """Runs a plan of Steps against one target, printing one line per migration."""

    def __init__(
        self,
        target: SchemaTarget,
        table: str,
        *,
        rollback_on_error: bool = False,
        out: Callable[[str], None] | None = None,
        applied: Sequence[str] = (),
    ) -> None:
        self.target = target
        self._applied = {ts_of(v): v for v in applied}
        self.table = table
        self.rollback_on_error = rollback_on_error
        self.out = out or (lambda line: print(line, flush=True))
        self._prepared: dict[tuple[str, str], Prepared] = {}

    def prepare(self, steps: Sequence[Step]) -> None:
        """Read and split every file of the plan before the first step runs, so a plan that
        cannot run to its end (a missing down file, an unreadable file, a refused statement)
        is refused whole instead of stopping half-way; every problem is named at once. With
        -rollback-on-error the files that would undo each step are checked too."""
        problems: list[str] = []
        if self.rollback_on_error:
            steps = [*steps, *(inverse(s) for s in steps)]
        for step in steps:
            try:
                self._prepared[(step.direction, step.version)] = self._read(step)
            except ConfigError as exc:
                problems.append(exc.message)
        if len(problems) == 1:
            raise ConfigError(f"{problems[0]}; nothing was run")
        if problems:
            raise ConfigError(
                f"{len(problems)} migrations of this plan cannot run, so nothing was run: "
                + "; ".join(problems)
            )

    def statements(self, step: Step) -> tuple[Path, list[Statement]]:
        """The file a step runs and its statements, checked for transaction control."""
        prepared = self._prepare_one(step)
        return prepared.path, prepared.statements

    def _prepare_one(self, step: Step) -> Prepared:
        prepared = self._prepared.get((step.direction, step.version))
        return prepared if prepared is not None else self._read(step)

    def _read(self, step: Step) -> Prepared:
        m = step.migration
        if step.direction == "up":
            path, sql = m.up_path, m.read_up()
        else:
            sql = m.read_down()
            path = m.down_path or m.up_path
        in_transaction = not _NO_TRANSACTION.match(sql)
        stmts = split_statements(sql, self.target.dialect)
        if not stmts:
            # A fresh 'colmig create' pair is empty: recording it applied is rarely intended.
            warn(f"{path} has no SQL statements; it only updates the tracking table")
        if self.target.transactional_ddl and in_transaction:
            for s in stmts:
                if _TXN_CONTROL.match(" ".join(s.text.split())):
                    raise ConfigError(
                        f"{path}:{s.line}: remove {s.text!r}: colmig runs each migration file "
                        "in its own transaction (or make '-- colmig:no-transaction' the file's "
                        "first line to run it without one)"
                    )
        for s in stmts:
            if s.text.startswith("\\"):
                command = s.text.split(None, 1)[0]
                raise ConfigError(
                    f"{path}:{s.line}: {command} is a client meta-command (psql, mysql), not "
                    "SQL, and colmig sends only SQL to the server: remove the line (pg_dump "
                    "writes \\restrict and \\unrestrict lines; they are safe to drop here)"
                )
        if self.target.dialect == "postgres":
            for s in stmts:
                try:
                    parse_block(s.text)
                except CopyFormatError as exc:
                    raise ConfigError(f"{path}:{s.line + exc.line_offset}: {exc.message}") from None
        return Prepared(path, stmts, in_transaction)

    def run_one(self, step: Step, verb: str | None = None) -> None:
        """Apply or revert one migration; raise MigrationFailedError naming file and line."""
        prepared = self._prepare_one(step)
        path, stmts = prepared.path, prepared.statements
        log.debug("%s %s: %d statement(s) from %s", step.direction, step.version, len(stmts), path)
        for s in stmts:
            log.debug("%s:%d: %s", path, s.line, " ".join(s.text.split())[:300])
        started = time.monotonic()
        up = step.direction == "up"
        record = tracking_record(step.migration, started) if up else None
        remove = None if up else step.version
        texts = [s.text for s in stmts]
        try:
            if prepared.in_transaction:
                self.target.apply(texts, record, remove, self.table)
            else:
                self.target.apply(texts, record, remove, self.table, in_transaction=False)
        except (MigrationFailedError, ConnectionFailedError) as exc:
            # A connection lost mid-file keeps its own exit code (3), with the file and line.
            raise self._annotate(exc, step, prepared) from None
        except ColmigError:
            raise
        except Exception as exc:  # a driver error the target did not wrap
            raise MigrationFailedError(
                f"migration {step.migration.version} failed in {path}: "
                f"{redact_secrets(str(exc).strip()) or type(exc).__name__}"
            ) from exc
        if up:
            self._applied[step.migration.timestamp] = step.version
        else:
            self._applied.pop(ts_of(step.version), None)
        elapsed = time.monotonic() - started
        self.out(f"{verb or ('applied' if up else 'reverted')} {step.version} ({elapsed:.2f}s)")

    def _annotate(self, exc: ColmigError, step: Step, prepared: Prepared) -> ColmigError:
        path, stmts = prepared.path, prepared.statements
        index = exc.fields.get("statement_index")
        cause = str(exc.fields.get("cause") or exc.message).strip()
        where = str(path)
        line = None
        if isinstance(index, int) and 0 <= index < len(stmts):
            offset = exc.fields.get("line_offset")
            line = stmts[index].line + (offset if isinstance(offset, int) else 0)
            where = f"{path}:{line}"
        message = f"migration {step.migration.version} failed at {where}: {cause}"
        transactional = self.target.transactional_ddl and prepared.in_transaction
        if transactional:
            message += " (its transaction was rolled back: this migration left no trace)"
        elif step.direction == "up":
            earlier = [v for ts, v in self._applied.items() if ts < step.migration.timestamp]
            before = max(earlier) if earlier else ZERO
            message += (
                f" ({step.version} is now marked dirty: statements before the failing one may "
                f"have taken effect. Check them, then either complete them by hand and run "
                f"'colmig force {step.version}', or undo them and run 'colmig force {before}')"
            )
        else:
            message += (
                f" ({step.version} is now marked dirty: part of its down file may have taken "
                f"effect. Check it, then either finish reverting by hand and run 'colmig force "
                f"VERSION' with the version before it, or restore it and run 'colmig force "
                f"{step.version}')"
            )
        fields = {
            **exc.fields,
            "file": str(path),
            "version": step.migration.version,
            "in_transaction": transactional,
        }
        if line is not None:
            fields["line"] = line
        return type(exc)(redact_secrets(message), **fields)

    def run(self, steps: Sequence[Step], outcome: Outcome) -> None:
        """Run ``steps`` in order; with rollback-on-error undo this run's steps on failure."""
        for step in steps:
            try:
                self.run_one(step)
            except ColmigError as exc:
                if not self.rollback_on_error or not outcome.done:
                    raise
                if isinstance(exc, ConnectionFailedError):
                    # Undoing needs the connection (and the migration lock it held).
                    raise type(exc)(
                        f"{exc.message}; -rollback-on-error could not undo the "
                        f"{len(outcome.done)} migration(s) this run applied before: the "
                        "connection is gone. Check 'colmig status' and revert them with "
                        "'colmig down' once the database is reachable",
                        **exc.fields,
                    ) from None
                raise self._roll_back(exc, outcome) from None
            outcome.done.append(step)

    def _roll_back(self, exc: ColmigError, outcome: Outcome) -> ColmigError:
        self.out(f"-rollback-on-error: undoing the {len(outcome.done)} migration(s) of this run")
        failure: ColmigError | None = None
        for step in reversed(outcome.done):
            undo = inverse(step)
            try:
                self.run_one(undo, "rolled back" if undo.direction == "down" else "restored")
            except ColmigError as rb_exc:
                failure = rb_exc
                break
            outcome.reverted.append(step.version)
        undone = ", ".join(outcome.reverted) or "nothing"
        failed = exc.fields.get("version")
        if failure is None and failed and not exc.fields.get("in_transaction", True):
            # Outside a transaction (MySQL/MariaDB DDL, a no-transaction file) the failed
            # file's earlier statements stay applied and its row stays dirty, whatever happens
            # to the other migrations.
            start = outcome.done[0].version if outcome.done else failed
            note = (
                f"; -rollback-on-error undid {undone}, but {failed} stays dirty: it ran"
                " outside a transaction, statement by statement, so the statements of it that"
                " ran before the failure took effect. Undo them by hand, then run 'colmig"
                f" force VERSION' with the version before {start}"
            )
        elif failure is None:
            note = f"; -rollback-on-error undid {undone}: the schema is back where this run started"
        else:
            note = (
                f"; -rollback-on-error undid {undone} but then stopped: {failure}. "
                "Check 'colmig status' before going on"
            )
        self.out(
            f"rolled back {len(outcome.reverted)} of {len(outcome.done)} migration(s) "
            f"applied by this run"
        )
        return type(exc)(exc.message + note, **exc.fields)


def inverse(step: Step) -> Step:
    """The step that undoes ``step`` (-rollback-on-error)."""
    m = step.migration
    return Step("down", m, step.version) if step.direction == "up" else Step("up", m, m.version)


def warn(message: str) -> None:
    """Print a warning line to stderr."""
    print(f"colmig: warning: {redact_secrets(message)}", file=sys.stderr, flush=True)
