"""docs/types.md shows what colmig actually does with every Arrow type in every target: the
matrix is run again and each cell compared, so the documentation cannot drift."""

from __future__ import annotations

import pytest

from tests.types.matrix import LOCAL_TARGETS, _cell, documented, run_matrix


def _assert_documented(targets: tuple[str, ...], servers: dict[str, str]) -> None:
    doc = documented()
    result = run_matrix(targets, servers)
    drift = [
        f"{name} -> {target}: docs say {doc.get((name, target))!r}, colmig does {_cell(o)!r}"
        for name, by_target in result.items()
        for target, o in by_target.items()
        if doc.get((name, target)) != _cell(o)
    ]
    assert not drift, (
        "docs/types.md is out of date; regenerate it with"
        " `python -m tests.types.matrix --write docs/types.md`:\n  " + "\n  ".join(drift)
    )


@pytest.mark.slow
def test_local_targets_match_docs() -> None:
    _assert_documented(LOCAL_TARGETS, {})


@pytest.mark.slow
def test_postgres_matches_docs(pg_url: str) -> None:
    _assert_documented(("postgres",), {"postgres": pg_url})


@pytest.mark.slow
def test_mariadb_matches_docs(mariadb_url: str) -> None:
    _assert_documented(("mariadb",), {"mariadb": mariadb_url})
