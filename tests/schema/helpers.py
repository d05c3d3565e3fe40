"""Shared helpers for schema-migration tests on the embedded databases (SQLite, DuckDB)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from colmig.config import Settings
from colmig.schema.commands import run_schema_command

# A small TSIoT-like set that runs unchanged on SQLite and DuckDB.
BASE_SET = {
    "20240115_103000_create_timeseries_table": (
        "-- time-series table; a ';' in a comment\n"
        "CREATE TABLE readings (\n"
        "  sensor_id TEXT NOT NULL,\n"
        "  recorded_at TIMESTAMP NOT NULL,\n"
        "  value DOUBLE,\n"
        "  note TEXT DEFAULT 'a;b'\n"
        ");\n"
        "INSERT INTO readings (sensor_id, recorded_at, value) "
        "VALUES ('s1', '2024-01-15 10:30:00', 1.5);\n",
        "DROP TABLE readings;\n",
    ),
    "20240115_143022_add_indexes": (
        "CREATE INDEX readings_sensor_time ON readings (sensor_id, recorded_at);\n",
        "DROP INDEX readings_sensor_time;\n",
    ),
    "20240116_090000_add_privacy_fields": (
        "CREATE TABLE privacy (sensor_id TEXT, anonymized BOOLEAN DEFAULT FALSE);\n"
        "/* two statements; one file */\n"
        "INSERT INTO privacy VALUES ('s1', TRUE);\n",
        "DROP TABLE privacy;\n",
    ),
}


def write_set(directory: Path, migrations: dict[str, tuple[str, str | None]]) -> Path:
    """Write ``{version: (up_sql, down_sql or None)}`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for version, (up, down) in migrations.items():
        (directory / f"{version}.up.sql").write_text(up)
        if down is not None:
            (directory / f"{version}.down.sql").write_text(down)
    return directory


@dataclass
class Db:
    """An embedded database under test: its URL, file, and a direct query helper."""

    kind: str  # sqlite | duckdb
    url: str
    path: Path

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.path)
            try:
                return conn.execute(sql).fetchall()
            finally:
                conn.close()
        dconn = duckdb.connect(str(self.path))
        try:
            return dconn.execute(sql).fetchall()
        finally:
            dconn.close()

    def execute(self, sql: str) -> None:
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.path, isolation_level=None)
            try:
                conn.execute(sql)
            finally:
                conn.close()
        else:
            dconn = duckdb.connect(str(self.path))
            try:
                dconn.execute(sql)
            finally:
                dconn.close()

    def tables(self) -> set[str]:
        if not self.path.exists():
            return set()
        if self.kind == "sqlite":
            rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = self.query("SELECT table_name FROM duckdb_tables()")
        return {r[0] for r in rows if not str(r[0]).startswith("sqlite_")}

    def applied(self) -> list[str]:
        if "colmig_schema_migrations" not in self.tables():
            return []
        return [r[0] for r in self.query("SELECT version FROM colmig_schema_migrations ORDER BY 1")]


def make_db(kind: str, tmp_path: Path) -> Db:
    path = tmp_path / ("test.db" if kind == "sqlite" else "test.duckdb")
    return Db(kind, f"{kind}://{path}", path)


def settings_for(db: Db, migrations: Path, **changes: Any) -> Settings:
    return Settings(
        source=db.url,
        path=str(migrations),
        state_dir=str(migrations.parent / ".colmig"),
        lock_timeout=changes.pop("lock_timeout", 10.0),
        **changes,
    )


def run(db: Db, migrations: Path, command: str | None, *args: str, **changes: Any) -> int:
    """Run a schema command in-process."""
    return run_schema_command(command, list(args), settings_for(db, migrations, **changes))


def audit_lines(state_dir: Path) -> list[dict[str, Any]]:
    path = state_dir / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
