"""How gs:// and az:// URLs and variables become gcsfs/adlfs filesystems (no data moved)."""

from __future__ import annotations

import pytest

from colmig.backends.files import fs as fsmod
from colmig.errors import ConfigError
from colmig.urls import parse, redact_secrets
from tests.cloud.helpers import Cloud
from tests.servers import AZURE_KEY, AzuriteServer, GcsEmulatorServer


def test_gcs_emulator_uses_json_api_client_anonymously(gcs: Cloud) -> None:
    from gcsfs.core import GCSFileSystem

    fs, root = fsmod.filesystem(parse(f"{gcs.prefix}/lake/2024"))
    assert type(fs) is GCSFileSystem  # not gcsfs's gRPC-probing subclass
    assert fs.credentials.token == "anon"
    assert root == f"{gcs.bucket}/lake/2024"
    fs.pipe(f"{root}/probe.txt", b"hello")
    assert gcs.fs.cat(f"{gcs.bucket}/lake/2024/probe.txt") == b"hello"


def test_gcs_endpoint_query_overrides_env(
    gcs: Cloud, gcs_server: GcsEmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    fs, root = fsmod.filesystem(parse(f"{gcs.prefix}/x?endpoint_url={gcs_server.endpoint}"))
    fs.pipe(f"{root}/a.txt", b"1")
    assert gcs.fs.cat(f"{gcs.bucket}/x/a.txt") == b"1"


def test_azure_endpoint_query_builds_a_connection_string(
    azure: Cloud, azurite_server: AzuriteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", azurite_server.account)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", AZURE_KEY)
    fs, root = fsmod.filesystem(parse(f"{azure.prefix}/p?endpoint_url={azurite_server.endpoint}"))
    assert root == f"{azure.bucket}/p"
    fs.pipe(f"{root}/a.txt", b"az")
    assert azure.fs.cat(f"{azure.bucket}/p/a.txt") == b"az"
    assert redact_secrets(f"failed with {AZURE_KEY}") == "failed with ***"


def test_azure_connection_string_secrets_are_redacted(azure: Cloud) -> None:
    fsmod.filesystem(parse(f"{azure.prefix}/p"))
    connection = azure.env["AZURE_STORAGE_CONNECTION_STRING"]
    assert AZURE_KEY not in redact_secrets(f"bad: {connection}")
    assert AZURE_KEY not in redact_secrets(f"key was {AZURE_KEY}")


def test_abfss_container_at_account_is_the_container(azure: Cloud) -> None:
    url = parse(f"abfss://{azure.bucket}@colmigtest.dfs.core.windows.net/deep/er/")
    _, root = fsmod.filesystem(url)
    assert root == f"{azure.bucket}/deep/er"


def test_azure_endpoint_needs_an_account(
    azure: Cloud, azurite_server: AzuriteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    with pytest.raises(ConfigError, match="needs an account name and its key"):
        fsmod.filesystem(parse(f"{azure.prefix}/p?endpoint_url={azurite_server.endpoint}"))
