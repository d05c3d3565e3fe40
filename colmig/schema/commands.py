"""The schema-migration commands: up, down, goto, force, status, version, create, and the
spec's flag form (``-direction up|down`` with ``-version`` / ``-steps``).

Every mutating command takes the target's migration lock, re-reads the tracking table under
it, refuses a dirty database, and writes an audit entry whatever the outcome. ``-dry-run``
reads only (never creates the tracking table) and prints the plan with each file's SQL.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from colmig import audit
from colmig.errors import ConfigError
from colmig.registry import open_schema_target
from colmig.schema.files import create_pair, discover
from colmig.schema.runner import (
    ZERO,
    Outcome,
    Runner,
    State,
    Step,
    check_clean,
    check_unchanged,
    plan_direction,
    plan_down,
    plan_goto,
    plan_up,
    tracking_record,
    ts_of,
    warn,
)
from colmig.urls import redact

if TYPE_CHECKING:
    from colmig.backends.base import SchemaTarget
    from colmig.config import Settings


@dataclass
class Request:
    """A parsed schema command."""

    operation: str  # up, down, goto, force, status, version
    version: str | None = None
    steps: int | None = None


@dataclass
class AuditInfo:
    """What goes into the audit entry, filled in as the command runs."""

    direction: str | None = None
    from_version: str | None = None
    to_version: str | None = None
    versions: list[str] = field(default_factory=list)
    outcome: str = "success"


def _steps_arg(command: str, args: list[str], settings: Settings) -> int | None:
    if not args:
        return settings.steps
    if len(args) > 1 or not args[0].isdigit() or int(args[0]) < 1:
        raise ConfigError(f"usage: colmig {command} [N] (N: number of migrations, at least 1)")
    n = int(args[0])
    if settings.steps is not None and settings.steps != n:
        raise ConfigError(f"colmig {command} {n} contradicts -steps {settings.steps}")
    return n


def parse_request(command: str | None, args: list[str], settings: Settings) -> Request:
    """Turn the command words and flags into a Request, or raise ConfigError."""
    if command in ("up", "down") and settings.direction not in (None, command):
        raise ConfigError(f"colmig {command} contradicts -direction {settings.direction}")
    if command == "goto" and settings.direction is not None:
        raise ConfigError(
            f"colmig goto moves up or down; with -direction {settings.direction} use "
            f"'colmig {settings.direction} -version VERSION' instead"
        )
    if command is None:
        if args:
            raise ConfigError(f"unexpected arguments: {' '.join(args)}")
        if settings.direction == "down":
            if settings.version is None and settings.steps is None:
                raise ConfigError(
                    "-direction down needs -steps N or -version VERSION (colmig never reverts "
                    "every migration silently; -version 0 reverts them all)"
                )
            return Request("down", settings.version, settings.steps)
        if settings.version is not None and settings.direction is None:
            # Only -version without a direction may move either way (the spec's example);
            # an explicit -direction up never runs a down file.
            return Request("goto", settings.version, settings.steps)
        return Request("up", settings.version, settings.steps)
    if command == "up":
        return Request("up", settings.version, _steps_arg("up", args, settings))
    if command == "down":
        steps = _steps_arg("down", args, settings)
        if steps is None and settings.version is None:
            raise ConfigError(
                "colmig down needs -steps N (or 'colmig down N') or -version VERSION; it never "
                "reverts every migration silently (-version 0 reverts them all)"
            )
        return Request("down", settings.version, steps)
    if command in ("goto", "force"):
        if len(args) > 1 or (not args and (command == "force" or settings.version is None)):
            raise ConfigError(f"usage: colmig {command} VERSION")
        return Request(command, args[0] if args else settings.version, settings.steps)
    if command in ("status", "version"):
        if args:
            raise ConfigError(f"usage: colmig {command} (no arguments)")
        return Request(command)
    raise ConfigError(f"unknown schema command {command!r}")


def run_schema_command(command: str | None, args: list[str], settings: Settings) -> int:
    """Run one schema-migration command and return its exit code (errors are raised)."""
    if command == "create":
        return _create(args, settings)
    request = parse_request(command, args, settings)
    if not settings.source:
        raise ConfigError(
            "-source is required for schema migrations (e.g. -source sqlite://db.sqlite "
            "or -source postgres://user@host/db)"
        )
    if request.operation in ("status", "version"):
        return _read_only(request, settings)
    return _mutate(request, settings)


def _create(args: list[str], settings: Settings) -> int:
    if len(args) != 1:
        raise ConfigError("usage: colmig create NAME (e.g. colmig create add_privacy_fields)")
    started = time.monotonic()
    if settings.dry_run:
        print(f"dry run: would create an up/down pair for {args[0]!r} in {settings.path}")
        return 0
    try:
        up, down = create_pair(settings.path, args[0])
    except OSError as exc:
        raise ConfigError(f"cannot create migration files in {settings.path}: {exc}") from None
    print(f"created {up}", flush=True)
    print(f"created {down}", flush=True)
    version = up.name.removesuffix(".up.sql")
    entry = audit.make_entry(
        operation="create",
        source=settings.source,
        direction=None,
        from_version=None,
        to_version=None,
        versions=[version],
        duration_ms=int((time.monotonic() - started) * 1000),
        outcome="success",
        error=None,
    )
    audit.record(settings, entry)
    return 0


def _load_state(target: SchemaTarget, settings: Settings) -> State:
    return State(discover(settings.path, target.dialect), target.applied(settings.migrations_table))


def _read_only(request: Request, settings: Settings) -> int:
    started = time.monotonic()
    info = AuditInfo()
    error: BaseException | None = None
    target = open_schema_target(settings.source or "", settings)
    try:
        state = _load_state(target, settings)
        info.from_version = info.to_version = state.current
        if request.operation == "status":
            print_status(state, settings)
        else:
            current = state.current or "none"
            print(current + (" (dirty)" if state.dirty else ""), flush=True)
        return 0
    except BaseException as exc:
        info.outcome, error = "failed", exc
        raise
    finally:
        try:
            target.close()
        finally:
            # Read-only commands leave the database untouched: the audit goes to the file only.
            _audit(settings, request.operation, info, started, error, None)


def _audit(
    settings: Settings,
    operation: str,
    info: AuditInfo,
    started: float,
    error: BaseException | None,
    target: SchemaTarget | None,
) -> None:
    if isinstance(error, KeyboardInterrupt):
        error_text: BaseException | str | None = "interrupted"
    else:
        error_text = error
    entry = audit.make_entry(
        operation=operation,
        source=settings.source,
        direction=info.direction,
        from_version=info.from_version,
        to_version=info.to_version,
        versions=info.versions,
        duration_ms=int((time.monotonic() - started) * 1000),
        outcome=info.outcome,
        error=error_text,
    )
    audit.record(settings, entry, target)


def _plan(request: Request, state: State, settings: Settings) -> list[Step]:
    directory = settings.path
    target = state.resolve(request.version) if request.version is not None else None
    to_zero = request.version is not None and target is None
    if request.operation == "up":
        if to_zero:
            raise ConfigError("up -version 0 makes no sense; use down -version 0")
        steps = plan_up(state, request.steps, target)
        if (
            target is not None
            and not steps
            and state.current
            and ts_of(target) < ts_of(state.current)
        ):
            raise ConfigError(
                f"{target} is older than the current version {state.current}: reaching it "
                f"means going down, and an explicit up never reverts anything. Use "
                f"'colmig down -version {target}' (or -version {target} without -direction)"
            )
        return steps
    if request.operation == "down":
        if target is not None and ts_of(target) not in state.applied_by_ts:
            newer = state.current is None or ts_of(target) > ts_of(state.current)
            why = (
                f"it is newer than the current version {state.current or 'none'}: reaching it "
                f"means going up, and an explicit down never applies anything. Use "
                f"'colmig up -version {target}' (or -version {target} without -direction)"
                if newer
                else f"it is not applied, so the schema cannot go down to it; use 'colmig goto "
                f"{target}' to apply it and revert what follows"
            )
            raise ConfigError(
                f"cannot go down to {target}: {why}; applied: "
                f"{', '.join(a.version for a in state.applied) or 'none'}"
            )
        if target is None and not to_zero:  # -steps N: the newest N
            _check_down_steps(state, request.steps)
            return plan_down(state, request.steps, None, directory, to_zero=True)
        return plan_down(state, request.steps, target, directory, to_zero=to_zero)
    return plan_goto(state, target, request.steps, directory)


def _check_down_steps(state: State, steps: int | None) -> None:
    """``down -steps N`` with fewer than N (but some) applied is refused: reverting everything
    must be asked for by name (-version 0), never reached by an oversized count."""
    applied = len(state.applied)
    if steps is not None and 0 < applied < steps:
        raise ConfigError(
            f"down -steps {steps}: only {applied} migration{'s' * (applied != 1)} "
            f"{'are' if applied != 1 else 'is'} applied; nothing was reverted. Use -steps "
            f"{applied} or -version 0 to revert all of them"
        )


def _end_version(state: State, steps: list[Step]) -> str | None:
    applied = {ts_of(a.version): a.version for a in state.applied}
    for step in steps:
        if step.direction == "up":
            applied[step.migration.timestamp] = step.version
        else:
            applied.pop(ts_of(step.version), None)
    return applied[max(applied)] if applied else None


def _mutate(request: Request, settings: Settings) -> int:
    started = time.monotonic()
    info = AuditInfo()
    error: BaseException | None = None
    target = open_schema_target(settings.source or "", settings)
    locked = tables_ready = False
    try:
        if settings.dry_run:
            info.outcome = "dry-run"
            return _dry_run(request, target, settings, info)
        files = discover(settings.path, target.dialect)  # file errors before touching the DB
        target.lock(settings.lock_timeout)
        locked = True
        target.ensure_tables(settings.migrations_table)
        tables_ready = True
        state = State(files, target.applied(settings.migrations_table))
        info.from_version = info.to_version = state.current
        if request.operation == "force":
            return _force(request, state, target, settings, info)
        check_clean(state, settings.path)
        for a in state.missing:
            warn(f"{a.version} is recorded as applied but has no migration file in {settings.path}")
        steps = _plan(request, state, settings)
        info.direction = plan_direction(steps)
        if request.operation == "up" or any(s.direction == "up" for s in steps):
            check_unchanged(state, settings.allow_changed, warn)
        if settings.rollback_on_error:
            _check_reversible(steps)
        _note_out_of_order(state, steps)
        outcome = Outcome()
        runner = Runner(
            target,
            settings.migrations_table,
            rollback_on_error=settings.rollback_on_error,
            applied=[a.version for a in state.applied],
        )
        runner.prepare(steps)
        try:
            runner.run(steps, outcome)
        finally:
            info.versions = [s.version for s in outcome.done]
            info.to_version = _current_or(target, settings, files, _end_version(state, steps))
        _summary(steps, info, started)
        return 0
    except BaseException as exc:
        info.outcome, error = "failed", exc
        raise
    finally:
        try:
            db_audit = target if tables_ready else None
            _audit(settings, request.operation, info, started, error, db_audit)
        finally:
            try:
                if locked:
                    target.unlock()
            finally:
                target.close()


def _current_or(
    target: SchemaTarget, settings: Settings, files: list, fallback: str | None
) -> str | None:
    """The version the database is at now; ``fallback`` if it cannot be read (a lost
    connection must not hide the error being reported)."""
    try:
        return State(files, target.applied(settings.migrations_table)).current
    except Exception:
        return fallback


def _check_reversible(steps: list[Step]) -> None:
    missing = [
        s.migration.up_path.name.replace(".up.", ".down.", 1)
        for s in steps
        if s.direction == "up" and s.migration.down_path is None
    ]
    if missing:
        raise ConfigError(
            "-rollback-on-error needs a down file for every migration it may apply; missing: "
            + ", ".join(missing)
        )


def _note_out_of_order(state: State, steps: list[Step]) -> None:
    if not state.applied:
        return
    newest = ts_of(state.applied[-1].version)
    for s in steps:
        if s.direction == "up" and s.migration.timestamp < newest:
            warn(f"applying {s.version} out of order: it is older than {state.applied[-1].version}")


def _summary(steps: list[Step], info: AuditInfo, started: float) -> None:
    elapsed = time.monotonic() - started
    at = info.to_version or "none (no migrations applied)"
    if not steps:
        print(f"no change: schema is at version {at}", flush=True)
        return
    ups = sum(1 for s in steps if s.direction == "up")
    downs = len(steps) - ups
    parts = []
    if downs:
        parts.append(f"{downs} migration{'s' * (downs != 1)} reverted")
    if ups:
        parts.append(f"{ups} migration{'s' * (ups != 1)} applied")
    print(f"{', '.join(parts)}; schema is now at version {at} ({elapsed:.2f}s)", flush=True)


def _force(
    request: Request, state: State, target: SchemaTarget, settings: Settings, info: AuditInfo
) -> int:
    version = state.resolve(request.version or "")
    cut = ts_of(version) if version is not None else ""
    table = settings.migrations_table
    marked: list[str] = []
    for f in state.files:
        if f.timestamp > cut:
            continue
        row = state.applied_by_ts.get(f.timestamp)
        refresh = f.timestamp == cut and row is not None and row.checksum != f.checksum
        if row is None or row.dirty or row.version != f.version or refresh:
            stale = [row.version] if row is not None and row.version != f.version else []
            target.set_version(table, tracking_record(f), stale)
            marked.append(f.version)
    for row in state.applied:
        if ts_of(row.version) <= cut and row.dirty and ts_of(row.version) not in state.file_by_ts:
            clean = {**asdict(row), "dirty": False}
            target.set_version(table, clean, [])
            marked.append(row.version)
    removed = [a.version for a in state.applied if ts_of(a.version) > cut]
    if removed:
        target.set_version(table, None, removed)
    for v in marked:
        print(f"marked {v} applied", flush=True)
    for v in removed:
        print(f"removed {v} from {table}", flush=True)
    info.versions = marked + removed
    info.direction = None
    info.to_version = version
    print(
        f"forced version {version or ZERO + ' (no migrations applied)'}: {len(marked)} marked "
        f"applied and clean, {len(removed)} removed (no SQL was run)",
        flush=True,
    )
    return 0


def _dry_run(request: Request, target: SchemaTarget, settings: Settings, info: AuditInfo) -> int:
    state = _load_state(target, settings)  # applied() never creates the tracking table
    info.from_version = info.to_version = state.current
    if request.operation == "force":
        version = state.resolve(request.version or "")
        print(f"dry run: would force version {version or ZERO}; nothing was changed", flush=True)
        return 0
    check_clean(state, settings.path)
    steps = _plan(request, state, settings)
    info.direction = plan_direction(steps)
    if any(s.direction == "up" for s in steps):
        check_unchanged(state, settings.allow_changed, warn)
    source = redact(settings.source or "")
    if not steps:
        print(f"dry run: no change; schema is at version {state.current or 'none'}", flush=True)
        return 0
    end = _end_version(state, steps)
    print(
        f"dry run: plan for {source}: {len(steps)} migration(s), from "
        f"{state.current or 'none'} to {end or 'none'}",
        flush=True,
    )
    runner = Runner(target, settings.migrations_table)
    runner.prepare(steps)
    for i, step in enumerate(steps, 1):
        path = step.migration.up_path if step.direction == "up" else step.migration.down_path
        print(f"  {i}. {step.direction:<4} {step.version}  ({path})", flush=True)
    for step in steps:
        path, stmts = runner.statements(step)
        sql = step.migration.read_up() if step.direction == "up" else step.migration.read_down()
        count = f"{len(stmts)} statement{'s' * (len(stmts) != 1)}"
        print(f"\n-- {step.direction} {step.version}: {path} ({count})")
        print(sql.rstrip("\n"), flush=True)
    info.versions = [s.version for s in steps]
    info.to_version = end
    print("\ndry run: nothing was changed", flush=True)
    return 0


def print_status(state: State, settings: Settings) -> None:
    """Print one row per migration (applied, pending, dirty, changed, missing) and a summary."""
    changed = {ts_of(a.version) for a, _ in state.changed}
    rows: list[tuple[str, str, str, str]] = []
    for ts in sorted(set(state.file_by_ts) | set(state.applied_by_ts)):
        a = state.applied_by_ts.get(ts)
        f = state.file_by_ts.get(ts)
        version = a.version if a is not None else f.version if f is not None else ts
        if a is None:
            rows.append((version, "pending", "", ""))
            continue
        if a.dirty:
            status = "dirty"
        elif f is None:
            status = "missing"
        else:
            status = "changed" if ts in changed else "applied"
        note = ""
        if status == "changed" and f is not None:
            note = f"{f.up_path} edited since it was applied"
        elif status == "missing":
            note = f"no file in {settings.path}"
        elif status == "dirty":
            note = "failed part-way: fix by hand, then colmig force"
        rows.append((version, status, a.applied_at, note))
    width = max([len("VERSION"), *(len(r[0]) for r in rows)])
    print(f"{'VERSION':<{width}}  {'STATE':<8}  {'APPLIED AT':<24}  NOTE", flush=True)
    for version, status, at, note in rows:
        print(f"{version:<{width}}  {status:<8}  {at:<24}  {note}".rstrip(), flush=True)
    counts = {
        name: sum(1 for r in rows if r[1] == name)
        for name in ("applied", "pending", "dirty", "changed", "missing")
    }
    current = state.current or "none"
    print(
        f"current version: {current}; " + ", ".join(f"{n} {name}" for name, n in counts.items()),
        flush=True,
    )
