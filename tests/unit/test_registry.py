"""The scheme registry: lazy imports, unknown schemes, missing roles."""

from __future__ import annotations

import pickle

import pytest

from colmig import registry
from colmig.config import Settings
from colmig.errors import (
    EXIT_CONFIG,
    BackendNotFoundError,
    ConfigError,
    PartialFailureError,
    SourceDataError,
)


def test_every_builtin_scheme_is_listed() -> None:
    for scheme in ("postgres", "postgresql", "mysql", "mariadb", "sqlite", "duckdb", "file", "s3"):
        assert scheme in registry.schemes()


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(BackendNotFoundError) as info:
        registry.open_reader("nosuch://host/db", Settings())
    assert "nosuch" in str(info.value)
    assert "postgres" in str(info.value)
    assert info.value.exit_code == EXIT_CONFIG


def test_role_a_backend_lacks_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="schema migration target"):
        registry.open_schema_target("file:///tmp/x", Settings())


def test_errors_keep_their_fields_across_processes() -> None:
    err = SourceDataError("bad row in a.csv line 3", file="a.csv", line=3)
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is SourceDataError
    assert copy.fields == {"file": "a.csv", "line": 3}
    assert str(copy) == "bad row in a.csv line 3"
    assert PartialFailureError("x").exit_code == 8


def test_a_driver_missing_before_use_is_a_config_error_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "_importable", lambda module: module != "pymysql")
    with pytest.raises(BackendNotFoundError) as info:
        registry.open_writer("mysql://u:pw@127.0.0.1:9/db", Settings())
    assert info.value.exit_code == EXIT_CONFIG
    assert "pip install 'colmig[mysql]'" in str(info.value)


def test_a_driver_imported_lazily_by_a_factory_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types

    module = types.ModuleType("fake_backend")

    def open_reader(url: object, settings: object) -> object:
        raise ModuleNotFoundError(
            "No module named 'adbc_driver_postgresql'", name="adbc_driver_postgresql"
        )

    module.open_reader = open_reader  # type: ignore[attr-defined]
    monkeypatch.setattr(registry, "backend_module", lambda url: module)
    with pytest.raises(BackendNotFoundError, match=r"colmig\[postgres\]"):
        registry.open_reader("postgres://u@h/db", Settings())
