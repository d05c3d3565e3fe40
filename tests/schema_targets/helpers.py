"""Helpers for the schema-target tests: settings, targets, independent catalog queries."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from dataclasses import replace
from typing import Any

from colmig.backends.base import SchemaTarget
from colmig.config import Settings
from colmig.registry import open_schema_target
from colmig.urls import parse

PASSWORD = "colmig-s3cret-pw"
TABLE = "colmig_schema_migrations"


def settings(**overrides: Any) -> Settings:
    return replace(Settings(), **overrides)


def open_target(url: str, **overrides: Any) -> SchemaTarget:
    return open_schema_target(url, settings(**overrides))


def record(version: str, checksum: str = "c" * 64, **extra: Any) -> dict[str, Any]:
    """A tracking record as the runner passes it to ``apply``."""
    return {
        "version": version,
        "description": version.split("_", 2)[-1],
        "checksum": checksum,
        "applied_at": "2024-01-15T10:30:00+00:00",
        "duration_ms": 0,
        "applied_by": "tester@host",
        "dirty": False,
        **extra,
    }


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` on its own connection (not the target's) and return every row."""
    parsed = parse(url)
    if parsed.scheme.startswith("postgres"):
        import adbc_driver_postgresql.dbapi as pg

        uri = "postgresql://" + url.split("://", 1)[1]
        with pg.connect(uri) as conn, conn.cursor() as cur:
            cur.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})
            cur.execute(sql)
            out = [tuple(r) for r in cur.fetchall()] if cur.description else []
            conn.commit()
            return out
    import pymysql

    conn = pymysql.connect(
        host=parsed.host,
        port=parsed.port or 3306,
        user=parsed.username,
        password=parsed.password or "",
        database=parsed.database,
    )
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute(sql)
        out = [tuple(r) for r in cur.fetchall()]
        conn.commit()
        return out


def table_names(url: str) -> set[str]:
    if parse(url).scheme.startswith("postgres"):
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    else:
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
    return {str(r[0]) for r in rows(url, sql)}


def column_names(url: str, table: str) -> list[str]:
    schema = "'public'" if parse(url).scheme.startswith("postgres") else "DATABASE()"
    return [
        str(r[0])
        for r in rows(
            url,
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            f" {schema} AND table_name = '{table}' ORDER BY ordinal_position",
        )
    ]


def hold_lock(url: str, ready: Any, release: Any) -> None:
    """Child process: take the migration lock, signal ``ready``, hold it until ``release``."""
    target = open_target(url)
    target.lock(5.0)
    ready.set()
    release.wait(60)
    target.close()


def start_lock_holder(url: str) -> tuple[Any, Any]:
    """Start a separate process holding the lock; returns (process, release event)."""
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=hold_lock, args=(url, ready, release), daemon=True)
    proc.start()
    deadline = time.monotonic() + 60
    while not ready.wait(0.2):
        if not proc.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"lock holder did not start (exit code {proc.exitcode})")
    return proc, release
