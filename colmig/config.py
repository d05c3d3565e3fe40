"""Settings: every option colmig understands, and how they merge.

Precedence, highest first: command-line flags > ``COLMIG_*`` environment variables > the
``-config`` YAML file > defaults. The YAML file may use ``${ENV_VAR}`` (or ``${ENV_VAR:-default}``)
anywhere in a value. Keys may be spelled ``batch_size`` or ``batch-size``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from colmig.errors import ConfigError
from colmig.urls import add_secret, redact


def _opt(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] | None = None,
    group: str = "general",
    metavar: str | None = None,
) -> Any:
    return field(
        default=default,
        metadata={"help": help, "choices": choices, "group": group, "metavar": metavar},
    )


@dataclass(frozen=True)
class Settings:
    """All options of one colmig invocation. Frozen and picklable (it travels to workers)."""

    # --- the spec's flag table ---
    source: str | None = _opt(None, "Source connection string (required)", metavar="URL")
    target: str | None = _opt(None, "Target connection string (for data migrations)", metavar="URL")
    # None = not given: plain runs go up, and -version alone may move either way.
    direction: str | None = _opt(
        None, "Migration direction: up, down (default up)", choices=("up", "down")
    )
    version: str | None = _opt(None, "Target version to migrate to (full name or unique prefix)")
    steps: int | None = _opt(None, "Number of migration steps to execute")
    mode: str = _opt(
        "schema", "Migration mode: schema, data, transform", choices=("schema", "data", "transform")
    )
    batch_size: int = _opt(1000, "Batch size (rows per Arrow batch) for data migrations")
    workers: int = _opt(4, "Number of parallel worker processes")
    dry_run: bool = _opt(False, "Perform dry run without applying changes")
    verbose: bool = _opt(False, "Enable verbose logging (same as -log-level debug)")
    config: str | None = _opt(
        None, "Configuration file path (YAML holding any option)", metavar="FILE"
    )
    transform_config: str | None = _opt(None, "Transformation configuration file", metavar="FILE")
    validate: bool = _opt(False, "Validate data after migration (counts and column checksums)")
    rollback_on_error: bool = _opt(False, "Automatically rollback on error")
    log_level: str = _opt("info", "Log level", choices=("debug", "info", "warning", "error"))

    # --- schema migrations ---
    path: str = _opt(
        "migrations", "Directory of schema migration files", group="schema", metavar="DIR"
    )
    allow_changed: bool = _opt(
        False, "Apply even though applied migration files were edited", group="schema"
    )
    lock_timeout: float = _opt(60.0, "Seconds to wait for another run's lock", group="schema")
    migrations_table: str = _opt(
        "colmig_schema_migrations", "Version tracking table", group="schema"
    )
    audit_log: str | None = _opt(
        None,
        "Audit log file (JSON lines; default .colmig/audit.jsonl)",
        group="schema",
        metavar="FILE",
    )
    state_dir: str = _opt(
        ".colmig", "Directory for colmig's local state (ledger, audit, locks)", metavar="DIR"
    )

    # --- data mode: selection and partitioning ---
    table: str | None = _opt(
        None, "Table (same name on both sides), a comma list or a glob", group="data"
    )
    source_table: str | None = _opt(None, "Source table", group="data")
    target_table: str | None = _opt(None, "Target table", group="data")
    query: str | None = _opt(None, "SQL query that replaces the source table", group="data")
    format: str | None = _opt(
        None, "Source file format (csv, tsv, jsonl, json, parquet, arrow)", group="data"
    )
    target_format: str | None = _opt(
        None, "Target file format (parquet, csv, jsonl, arrow)", group="data"
    )
    partition_on: str | None = _opt(
        None, "Column that splits a table into parallel ranges", group="data", metavar="COLUMN"
    )
    partition_window: str | None = _opt(
        None, "Split a time-series table by windows (1h, 1d, 7d)", group="data"
    )
    partitions: int | None = _opt(
        None, "Number of ranges for -partition-on (default: workers*4)", group="data"
    )
    partition_by: str | None = _opt(
        None,
        "Hive output partitioning: columns or day(col)/month(col)/year(col)/hour(col)",
        group="data",
    )
    write_mode: str = _opt(
        "append",
        "How rows land in a table target",
        choices=("append", "replace", "upsert"),
        group="data",
    )
    key: str | None = _opt(None, "Key columns for upsert (col[,col])", group="data")
    hypertable: str | None = _opt(
        None,
        "Make a created PostgreSQL table a TimescaleDB hypertable on this time column",
        group="data",
        metavar="COLUMN",
    )
    compression: str = _opt(
        "zstd", "Parquet codec (zstd, snappy, gzip, lz4, brotli, none)", group="data"
    )
    row_group_size: int = _opt(1_000_000, "Parquet rows per row group", group="data")
    target_file_size: str = _opt(
        "512MB", "Roll over to a new output file past this size", group="data"
    )
    fresh: bool = _opt(False, "Ignore the checkpoint ledger and start the job over", group="data")
    ledger: str | None = _opt(
        None, "Checkpoint ledger file (default <state-dir>/ledger.db)", group="data", metavar="FILE"
    )
    retries: int = _opt(3, "Retries per partition for transient errors", group="data")
    retry_timeout: float = _opt(
        300.0,
        "Seconds a partition may spend retrying after its first transient error",
        group="data",
    )
    progress: str = _opt(
        "auto", "Progress display", choices=("auto", "bar", "log", "none"), group="data"
    )
    executor: str = _opt(
        "local",
        "Where partitions run: local processes or a Dask cluster",
        choices=("local", "dask"),
        group="data",
    )
    dask_scheduler: str | None = _opt(
        None, "Dask scheduler address (tcp://host:8786)", group="data", metavar="ADDRESS"
    )

    # --- CSV and friends ---
    delimiter: str | None = _opt(None, "CSV delimiter (default , or tab for .tsv)", group="files")
    header: bool = _opt(True, "CSV files have a header row", group="files")
    null_values: str | None = _opt(None, "Comma list of strings read as NULL in CSV", group="files")
    timestamp_format: str | None = _opt(None, "strptime format of CSV timestamps", group="files")
    assume_tz: str | None = _opt(
        None,
        "Zone of naive CSV/JSON timestamps in a column that also has zoned ones (default: refuse)",
        group="files",
        metavar="ZONE",
    )
    schema: str | None = _opt(
        None, "YAML file of CSV/JSON column types (column: type)", group="files", metavar="FILE"
    )
    column_type: str | None = _opt(
        None, "CSV/JSON column types, comma list of col=type", group="files", metavar="COL=TYPE"
    )
    infer: str = _opt(
        "head",
        "CSV column types from each file's first MiB, later values checked (head), or from"
        " every value, one more pass at plan time (all); JSON Lines always reads all",
        choices=("head", "all"),
        group="files",
    )
    recursive: bool = _opt(
        True, "Descend into sub-directories of a source directory", group="files"
    )
    follow_symlinks: bool = _opt(
        False, "Follow symlinks that lead outside the source directory", group="files"
    )
    max_line_bytes: str = _opt(
        "1GiB", "Longest CSV or JSON Lines line (record) read; longer is an error", group="files"
    )

    # --- transforms ---
    transform: str | None = _opt(
        None,
        "Run only this transformation from -transform-config",
        group="transform",
        metavar="NAME",
    )
    transforms_dir: str = _opt(
        "transforms", "Directory of custom Python transforms", group="transform", metavar="DIR"
    )
    on_error: str = _opt(
        "fail",
        "What to do with a row that fails a transform or a load",
        choices=("fail", "skip", "reject"),
        group="transform",
    )
    rejects: str | None = _opt(
        None,
        "Where rejected rows go (default <state-dir>/rejects/)",
        group="transform",
        metavar="PATH",
    )

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("source", "target"):
            if shown[name]:
                shown[name] = redact(shown[name])
        return f"Settings({shown})"

    def with_(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)


FIELD_TYPES: dict[str, type] = {}
for _f in fields(Settings):
    _t = str(_f.type)
    FIELD_TYPES[_f.name] = (
        bool
        if _t.startswith("bool")
        else int
        if _t.startswith("int")
        else float
        if _t.startswith("float")
        else str
    )

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(text: str, *, where: str) -> str:
    """Replace ``${VAR}`` / ``${VAR:-default}`` with environment values; unknown VAR is an error."""

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None:
            if default is None:
                raise ConfigError(f"{where}: environment variable ${{{name}}} is not set")
            return default
        add_secret(value) if _looks_secret(name) else None
        return value

    return _ENV_REF.sub(sub, text)


def _looks_secret(name: str) -> bool:
    return any(word in name.upper() for word in ("PASS", "SECRET", "TOKEN", "KEY", "SALT"))


def coerce(name: str, value: Any, *, where: str) -> Any:
    """Convert a raw value (string from env/YAML) to the option's type, or raise ConfigError."""
    kind = FIELD_TYPES[name]
    if value is None:
        return None
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{where}: {name} must be true or false, got {value!r}")
    if kind in (int, float):
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {name} must be a number, got {value!r}") from None
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _normalise_key(key: str) -> str:
    return key.strip().lstrip("-").replace("-", "_").lower()


def load_file(path: str) -> dict[str, Any]:
    """Read a YAML settings file, interpolating ``${ENV}``; every key must be a known option."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        # Parse first, then interpolate values: a commented-out ${VAR} is not an error and a
        # value holding "#" or ": " cannot change the YAML's structure.
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}{pos}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of option: value at the top level")
    out: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = _normalise_key(str(raw_key))
        if key not in FIELD_TYPES:
            raise ConfigError(f"{path}: unknown option {raw_key!r}; see colmig --help")
        value = _interpolate_value(value, where=f"{path}: {raw_key}")
        out[key] = coerce(key, value, where=path)
    return out


def _interpolate_value(value: Any, *, where: str) -> Any:
    if isinstance(value, str):
        return interpolate(value, where=where)
    if isinstance(value, list):
        return [_interpolate_value(item, where=where) for item in value]
    return value


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Options from ``COLMIG_<OPTION>`` variables (e.g. COLMIG_BATCH_SIZE=5000)."""
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for name in FIELD_TYPES:
        var = f"COLMIG_{name.upper()}"
        if var in env:
            out[name] = coerce(name, env[var], where=var)
    return out


def build_settings(flags: dict[str, Any], environ: dict[str, str] | None = None) -> Settings:
    """Merge flags > env > config file > defaults into one Settings and check it."""
    env = from_environment(environ)
    config_path = flags.get("config") or env.get("config")
    from_file = load_file(config_path) if config_path else {}
    merged = {**from_file, **env, **flags}
    if merged.get("verbose") and "log_level" not in flags:
        merged["log_level"] = "debug"
    settings = Settings(**merged)
    _check(settings)
    return settings


def _check(s: Settings) -> None:
    for f in fields(s):
        choices = f.metadata.get("choices")
        value = getattr(s, f.name)
        if choices and value is not None and value not in choices:
            raise ConfigError(
                f"-{f.name.replace('_', '-')} must be one of {', '.join(choices)}, got {value!r}"
            )
    if s.batch_size < 1:
        raise ConfigError(f"-batch-size must be at least 1, got {s.batch_size}")
    if s.workers < 1:
        raise ConfigError(f"-workers must be at least 1, got {s.workers}")
    if s.steps is not None and s.steps < 1:
        raise ConfigError(f"-steps must be at least 1, got {s.steps}")
    for secret_holder in (s.source, s.target):
        if secret_holder and "://" in secret_holder:
            from colmig.urls import parse

            add_secret(parse(secret_holder).password)


def parse_size(text: str) -> int:
    """Parse '512MB', '1GiB', '1000' into bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*", text.lower())
    if not match:
        raise ConfigError(f"cannot read size {text!r}; use e.g. 512MB or 1GiB")
    number, unit = float(match.group(1)), (match.group(2) or "").rstrip("b").rstrip("i")
    power = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}[unit]
    base = 1024 if "i" in (match.group(2) or "") else 1000
    return int(number * base**power)
