"""Migration files: discovery, per-dialect variants, version names and ``create``.

A migration is a pair ``YYYYMMDD_HHMMSS_description.up.sql`` / ``.down.sql``. A per-dialect
variant ``NAME.up.<dialect>.sql`` (dialect: postgres, mysql, sqlite, duckdb) replaces the generic
``NAME.up.sql`` on that dialect; a version may exist only as dialect variants, and then it does
not exist on the dialects it has no file for.

The timestamp is a migration's identity: two files with the same timestamp and different
descriptions are an error, and a tracking row matches a file by timestamp.

Checksums are the sha256 of the chosen up file's bytes after CRLF -> LF, so a Windows checkout
(``core.autocrlf``) or a touched mtime does not look like an edited migration.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from colmig.errors import ConfigError

DIALECTS = ("postgres", "mysql", "sqlite", "duckdb")
DIALECT_ALIASES = {
    "postgresql": "postgres",
    "timescale": "postgres",
    "timescaledb": "postgres",
    "mariadb": "mysql",
    "sqlite3": "sqlite",
}
EXPECTED_PATTERN = "YYYYMMDD_HHMMSS_description.up.sql / .down.sql (or NAME.up.<dialect>.sql)"
TIMESTAMP_LEN = len("YYYYMMDD_HHMMSS")

_FILE_RE = re.compile(
    r"^(?P<ts>\d{8}_\d{6})_(?P<desc>[A-Za-z0-9][A-Za-z0-9_-]*)"
    r"\.(?P<dir>up|down)(?:\.(?P<dialect>[A-Za-z0-9]+))?\.sql$"
)
_TS_RE = re.compile(r"^\d{8}_\d{6}$")
_DATE_DESC_RE = re.compile(r"^(?P<date>\d{8})_(?P<desc>.+)$")


@dataclass(frozen=True)
class MigrationFile:
    """One migration as seen by one dialect."""

    version: str  # full stem, e.g. "20240115_103000_add_indexes"
    timestamp: str  # "20240115_103000"
    description: str  # "add_indexes"
    up_path: Path
    down_path: Path | None
    checksum: str  # sha256 hex of the chosen up file (CRLF normalised to LF)

    def read_up(self) -> str:
        """The up file's SQL."""
        return _read(self.up_path)

    def read_down(self) -> str:
        """The down file's SQL; ConfigError naming the expected file when there is none."""
        if self.down_path is None:
            expected = self.up_path.with_name(self.up_path.name.replace(".up.", ".down.", 1))
            raise ConfigError(
                f"cannot revert {self.version}: down file {expected} does not exist "
                f"(write it, or use 'colmig force' after undoing the change by hand)"
            )
        return _read(self.down_path)


def normalise_dialect(dialect: str) -> str:
    """Map aliases (postgresql, mariadb, sqlite3) to the four dialect names."""
    name = DIALECT_ALIASES.get(dialect.lower(), dialect.lower())
    if name not in DIALECTS:
        raise ConfigError(f"unknown SQL dialect {dialect!r}; known: {', '.join(DIALECTS)}")
    return name


def checksum_of(data: bytes) -> str:
    """sha256 hex of ``data`` with CRLF normalised to LF."""
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read migration file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


@dataclass
class _Group:
    timestamp: str
    description: str
    first_file: Path
    up: dict[str | None, Path]
    down: dict[str | None, Path]


def _scan(directory: Path) -> dict[str, _Group]:
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise ConfigError(f"migrations directory {directory} {what} (set it with -path DIR)")
    groups: dict[str, _Group] = {}
    for path in sorted(directory.iterdir()):
        name = path.name
        if name.startswith(".") or not name.lower().endswith(".sql") or not path.is_file():
            continue  # README.md, .gitkeep, sub-directories: not migrations
        match = _FILE_RE.match(name)
        if not match:
            raise ConfigError(
                f"{path}: bad migration file name; expected {EXPECTED_PATTERN}, "
                f"e.g. 20240115_143022_create_timeseries_table.up.sql"
            )
        dialect = match["dialect"]
        if dialect is not None:
            if dialect.lower() not in DIALECTS and dialect.lower() not in DIALECT_ALIASES:
                raise ConfigError(
                    f"{path}: unknown dialect {dialect!r} in file name; "
                    f"known dialects: {', '.join(DIALECTS)}"
                )
            dialect = normalise_dialect(dialect)
        ts, desc = match["ts"], match["desc"]
        _check_timestamp(path, ts)
        group = groups.get(ts)
        if group is None:
            group = groups[ts] = _Group(ts, desc, path, {}, {})
        elif group.description != desc:
            raise ConfigError(
                f"duplicate migration version {ts}: {group.first_file} and {path} "
                f"share a timestamp but have different descriptions; rename one"
            )
        bucket = group.up if match["dir"] == "up" else group.down
        if dialect in bucket:
            raise ConfigError(f"duplicate migration files {bucket[dialect]} and {path}")
        bucket[dialect] = path
    return groups


def _check_timestamp(path: Path, ts: str) -> None:
    try:
        datetime.strptime(ts, "%Y%m%d_%H%M%S")
    except ValueError:
        raise ConfigError(
            f"{path}: {ts} is not a valid YYYYMMDD_HHMMSS timestamp; expected {EXPECTED_PATTERN}"
        ) from None


def discover(directory: str | Path, dialect: str) -> list[MigrationFile]:
    """Every migration available to ``dialect`` in ``directory``, sorted by version.

    Raises ConfigError naming the file for a bad name, duplicate versions, a down file without
    any up file, or a missing directory. An up file without a down file is allowed here;
    reverting it fails later with a clear message.
    """
    dialect = normalise_dialect(dialect)
    out: list[MigrationFile] = []
    for ts, group in sorted(_scan(Path(directory)).items()):
        if not group.up:
            down = next(iter(group.down.values()))
            expected = down.name.replace(".down.", ".up.", 1)
            raise ConfigError(f"{down}: down file without an up file ({expected} is missing)")
        up = group.up.get(dialect) or group.up.get(None)
        if up is None:
            continue  # only variants for other dialects: this version does not exist here
        down_path = group.down.get(dialect) or group.down.get(None)
        version = f"{ts}_{group.description}"
        out.append(
            MigrationFile(
                version=version,
                timestamp=ts,
                description=group.description,
                up_path=up,
                down_path=down_path,
                checksum=checksum_of(up.read_bytes()),
            )
        )
    return out


def resolve_version(candidates: Sequence[str], name: str) -> str:
    """Resolve a user's version name to one of ``candidates`` (full stems).

    Accepted: the full stem, its ``YYYYMMDD_HHMMSS`` timestamp, any unambiguous prefix, or the
    spec's ``YYYYMMDD_description`` style (date and description without the time). Unknown or
    ambiguous names raise ConfigError listing the candidates.
    """
    name = name.strip()
    for suffix in (".up.sql", ".down.sql", ".sql"):
        name = name.removesuffix(suffix)
    unique = sorted(set(candidates))
    if name in unique:
        return name
    matches: list[str] = []
    if name:
        if _TS_RE.match(name):
            matches = [c for c in unique if c[:TIMESTAMP_LEN] == name]
        if not matches:
            matches = [c for c in unique if c.startswith(name)]
        date_desc = _DATE_DESC_RE.match(name)
        if not matches and date_desc:
            date, desc = date_desc["date"], date_desc["desc"]
            same_date = [c for c in unique if c[:8] == date]
            matches = [c for c in same_date if c[TIMESTAMP_LEN + 1 :] == desc] or [
                c for c in same_date if c[TIMESTAMP_LEN + 1 :].startswith(desc)
            ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ConfigError(
            f"version {name!r} is ambiguous; it matches: {', '.join(matches)} "
            "(give the full YYYYMMDD_HHMMSS timestamp)"
        )
    listing = ", ".join(unique) if unique else "(no migrations found)"
    raise ConfigError(f"unknown version {name!r}; known versions: {listing}")


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    if not slug:
        raise ConfigError(
            f"migration name {name!r} has no letters or digits; e.g. colmig create add_indexes"
        )
    return slug


def create_pair(directory: str | Path, name: str, now: datetime | None = None) -> tuple[Path, Path]:
    """Write an empty ``up``/``down`` pair named with the current UTC time; return both paths.

    A timestamp already used by another migration moves one second on, so two quick ``create``
    calls never produce duplicate versions.
    """
    slug = _slug(name)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    taken = {p.name[:TIMESTAMP_LEN] for p in directory.iterdir() if _FILE_RE.match(p.name)}
    while stamp.strftime("%Y%m%d_%H%M%S") in taken:
        stamp += timedelta(seconds=1)
    stem = f"{stamp.strftime('%Y%m%d_%H%M%S')}_{slug}"
    up, down = directory / f"{stem}.up.sql", directory / f"{stem}.down.sql"
    for path in (up, down):
        with path.open("x", encoding="utf-8"):
            pass
    return up, down
