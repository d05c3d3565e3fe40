"""Shared fixtures: throwaway servers (started lazily, once per session), fresh per-test
databases and buckets, local SQLite/DuckDB URLs, and ``run_cli`` for the real command line.

A server whose binary is missing skips the tests that need it, unless
``COLMIG_REQUIRE_SERVERS=1`` (CI), which makes it a failure so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple, TypeVar

import pytest

from tests.servers import (
    AzuriteServer,
    GcsEmulatorServer,
    MariaDBServer,
    MosquittoServer,
    PostgresServer,
    S3Server,
    Server,
    ServerUnavailable,
    exit_cleanly_on_sigterm,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
CLI_TIMEOUT = 300.0

MARKERS_BY_FIXTURE = {
    "pg_server": "postgres",
    "pg_url": "postgres",
    "mariadb_server": "mariadb",
    "mariadb_url": "mariadb",
    "s3_server": "s3",
    "s3_bucket": "s3",
    "azurite_server": "azure",
    "azurite_container": "azure",
    "gcs_server": "gcs",
    "gcs_bucket": "gcs",
}

ServerT = TypeVar("ServerT", bound=Server)


def servers_required() -> bool:
    return os.environ.get("COLMIG_REQUIRE_SERVERS", "") not in ("", "0", "false", "no")


def pytest_configure(config: pytest.Config) -> None:
    exit_cleanly_on_sigterm()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by the server fixtures they use, so ``-m 'not postgres'`` works."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, marker in MARKERS_BY_FIXTURE.items():
            if fixture in names and not item.get_closest_marker(marker):
                item.add_marker(getattr(pytest.mark, marker))


def _start(factory: Callable[[], ServerT]) -> ServerT:
    try:
        server = factory()
    except ServerUnavailable as exc:
        if servers_required():
            pytest.fail(f"COLMIG_REQUIRE_SERVERS=1 but {exc}", pytrace=False)
        pytest.skip(str(exc))
    return server.start()  # type: ignore[attr-defined,no-any-return]


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


# --- session servers -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL 15 server for the whole session (``.url(db)``, ``.admin_sql(sql)``)."""
    server = _start(PostgresServer)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """A MariaDB server for the whole session (``.url(db)``, ``.admin_sql(sql)``)."""
    server = _start(MariaDBServer)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server for the whole session (``.endpoint``, ``.env``, ``.client()``)."""
    server = _start(S3Server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[AzuriteServer]:
    """Azurite's blob service for the whole session (``.endpoint``, ``.env``, ``.key``)."""
    server = _start(AzuriteServer)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[GcsEmulatorServer]:
    """A GCS emulator for the whole session (``.endpoint``, ``.env``)."""
    server = _start(GcsEmulatorServer)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mosquitto_server() -> Iterator[MosquittoServer]:
    """A Mosquitto broker for the whole session (``.host``, ``.port``, ``.url``)."""
    server = _start(MosquittoServer)
    yield server
    server.stop()


# --- per-test resources ----------------------------------------------------------------------


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database: postgres://colmig:PASSWORD@127.0.0.1:PORT/name."""
    name = _unique("colmig")
    url = pg_server.create_database(name)
    yield url
    pg_server.drop_database(name)


@pytest.fixture
def mariadb_url(mariadb_server: MariaDBServer) -> Iterator[str]:
    """A fresh, empty MariaDB database: mysql://colmig:PASSWORD@127.0.0.1:PORT/name."""
    name = _unique("colmig")
    url = mariadb_server.create_database(name)
    yield url
    mariadb_server.drop_database(name)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """AWS_* variables pointing at the moto server, set in os.environ for this test."""
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    return s3_server.env


@pytest.fixture
def s3_bucket(s3_server: S3Server, s3_env: dict[str, str]) -> str:
    """A fresh, empty bucket ``s3://name``; AWS_* env is set so s3fs and children use it."""
    return s3_server.create_bucket(_unique("colmig").replace("_", "-"))


class CloudPrefix(NamedTuple):
    """A fresh bucket/container as a URL prefix and the variables a user would set for it."""

    url: str
    env: dict[str, str]


#: Other credentials a developer's shell may hold; removed so only the emulator's are used.
_AZURE_VARS = (
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CLIENT_ID",
    "AZURE_STORAGE_CLIENT_SECRET",
    "AZURE_STORAGE_TENANT_ID",
    "AZURE_STORAGE_ANON",
)
_GCS_VARS = ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT")


@pytest.fixture
def azurite_container(
    azurite_server: AzuriteServer, monkeypatch: pytest.MonkeyPatch
) -> CloudPrefix:
    """A fresh container ``az://name``; AZURE_STORAGE_CONNECTION_STRING is set for this test."""
    for key in _AZURE_VARS:
        monkeypatch.delenv(key, raising=False)
    for key, value in azurite_server.env.items():
        monkeypatch.setenv(key, value)
    name = _unique("colmig").replace("_", "-")
    return CloudPrefix(azurite_server.create_container(name), dict(azurite_server.env))


@pytest.fixture
def gcs_bucket(gcs_server: GcsEmulatorServer, monkeypatch: pytest.MonkeyPatch) -> CloudPrefix:
    """A fresh bucket ``gs://name``; STORAGE_EMULATOR_HOST is set for this test."""
    for key in _GCS_VARS:
        monkeypatch.delenv(key, raising=False)
    for key, value in gcs_server.env.items():
        monkeypatch.setenv(key, value)
    # Never ask a cloud metadata server for credentials: keep any such probe on loopback.
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    name = _unique("colmig").replace("_", "-")
    return CloudPrefix(gcs_server.create_bucket(name), dict(gcs_server.env))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """``sqlite:///abs/path/test.db`` in the test's temp dir (the file does not exist yet)."""
    return f"sqlite://{tmp_path / 'test.db'}"


@pytest.fixture
def duckdb_url(tmp_path: Path) -> str:
    """``duckdb:///abs/path/test.duckdb`` in the test's temp dir (the file does not exist yet)."""
    return f"duckdb://{tmp_path / 'test.duckdb'}"


RunCli = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run ``python -m colmig *args`` in a subprocess and return the CompletedProcess (text).

    ``cwd`` defaults to the test's tmp_path so colmig's local state never lands in the repo.
    ``env`` is merged over os.environ; a value of None removes that variable.
    """

    def run(
        *args: str | os.PathLike[str],
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str | None] | None = None,
        timeout: float = CLI_TIMEOUT,
        input: str | None = None,
    ) -> subprocess.CompletedProcess:
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), full_env.get("PYTHONPATH")) if p
        )
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        return subprocess.run(
            [sys.executable, "-m", "colmig", *map(str, args)],
            cwd=cwd if cwd is not None else tmp_path,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            check=False,
        )

    return run
