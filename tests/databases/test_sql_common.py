"""Unit tests: table naming, table selection, partition planning, window parsing."""

from __future__ import annotations

import datetime as dt

import pytest

from colmig.backends.sql_common import (
    choose_sources,
    default_table_name,
    parse_window,
    plan_ranges,
    quote_ident,
    range_predicate,
)
from colmig.config import Settings
from colmig.errors import ConfigError


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("file://./data/2024", "data_2024"),
        ("s3://bucket/iot/readings.parquet", "readings"),
        ("file:///x/Sensor Data.csv.gz", "sensor_data"),
        ("file://./data/*.csv", "data"),
    ],
)
def test_default_table_name(source: str, name: str) -> None:
    assert default_table_name(source) == name


def test_quote_ident_doubles_quotes_and_splits_schema() -> None:
    assert quote_ident('we"ird') == '"we""ird"'
    assert quote_ident("s.t", "`") == "`s`.`t`"


def test_choose_sources_single_list_glob_query() -> None:
    tables = lambda: ["a1", "a2", "b"]  # noqa: E731
    one = choose_sources(Settings(table="b"), tables)
    assert [(c.source, c.target) for c in one] == [("b", "b")]
    renamed = choose_sources(Settings(source_table="b", target_table="c"), tables)
    assert [(c.source, c.target) for c in renamed] == [("b", "c")]
    globbed = choose_sources(Settings(table="a*,b"), tables)
    assert [c.source for c in globbed] == ["a1", "a2", "b"]
    query = choose_sources(Settings(query="select 1;", target_table="t"), tables)
    assert query[0].query == "select 1" and query[0].target == "t"
    with pytest.raises(ConfigError, match="matches no table"):
        choose_sources(Settings(table="zz*"), tables)
    with pytest.raises(ConfigError):
        choose_sources(Settings(), tables)


def test_parse_window() -> None:
    assert parse_window("1h") == dt.timedelta(hours=1)
    assert parse_window("7d") == dt.timedelta(days=7)
    with pytest.raises(ConfigError):
        parse_window("1 fortnight")


def test_int_ranges_cover_everything_once_and_ids_are_stable() -> None:
    kwargs = dict(
        source_key="t",
        target_table="t",
        column="id",
        low=1,
        high=100,
        parts=4,
        window=None,
        base_spec={"table": "t"},
    )
    parts = plan_ranges(**kwargs)  # type: ignore[arg-type]
    assert [p.id for p in parts] == [p.id for p in plan_ranges(**kwargs)]  # type: ignore[arg-type]
    covered = set()
    for p in parts:
        lo, hi = p.spec["lo"], p.spec["hi"]
        covered |= set(range(lo, hi + 1 if p.spec["hi_inclusive"] else hi))
    assert covered == set(range(1, 101)) and len(parts) == 4
    assert sum(len(range(p.spec["lo"], p.spec["hi"])) for p in parts) + 1 == 100
    where = range_predicate(parts[-1].spec, quote_ident, lambda v, k: str(v))
    assert where == '"id" >= 76 AND "id" <= 100'


def test_time_windows_align_to_the_window() -> None:
    low = dt.datetime(2024, 1, 1, 5, tzinfo=dt.UTC)
    high = dt.datetime(2024, 1, 3, 1, tzinfo=dt.UTC)
    parts = plan_ranges(
        source_key="t",
        target_table=None,
        column="ts",
        low=low,
        high=high,
        parts=1,
        window="1d",
        base_spec={},
    )
    assert [p.spec["lo"] for p in parts] == [
        "2024-01-01 00:00:00",
        "2024-01-02 00:00:00",
        "2024-01-03 00:00:00",
    ]
    assert parts[0].spec["kind"] == "timestamptz"


def test_no_column_gives_one_partition() -> None:
    parts = plan_ranges(
        source_key="q",
        target_table=None,
        column=None,
        low=None,
        high=None,
        parts=8,
        window=None,
        base_spec={"query": "select 1"},
    )
    assert len(parts) == 1 and parts[0].spec["column"] is None
