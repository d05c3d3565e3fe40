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
