"""Every filter operator, AND/any:/all: combinations, stages, nulls and NaN."""

from __future__ import annotations

import datetime as dt
import textwrap

import pyarrow as pa
import pytest

from colmig.errors import ConfigError
from tests.transforms.helpers import compile_yaml

NAN = float("nan")
TABLE = pa.table(
    {
        "id": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
        "q": [0.9, 0.8, 0.5, None, NAN, float("inf")],
        "name": ["Plant-A", "field-b", "plant_c", None, "Ünïcode", "100%"],
        "ts": pa.array(
            [dt.datetime(2024, 3, d, tzinfo=dt.UTC) for d in (1, 2, 3, 4, 5, 6)],
            pa.timestamp("us", tz="UTC"),
        ),
    }
)


def kept(filters: str, table: pa.Table = TABLE) -> list[int]:
    """Ids of the rows kept by ``filters`` (YAML list items, any indentation)."""
    items = textwrap.indent(textwrap.dedent(filters.rstrip()).strip("\n"), "      ")
    text = f"transformations:\n  - name: t\n    passthrough: true\n    filters:\n{items}\n"
    compiled = compile_yaml(text, table)
    out, _ = compiled.apply(table)
    return out.column("id").to_pylist()


def one(field: str, operator: str, value: str | None = None) -> list[int]:
    extra = f", value: {value}" if value is not None else ""
    return kept(f"- {{field: {field}, operator: '{operator}'{extra}}}")


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("==", "0.8", [2]),
        ("!=", "0.8", [1, 3, 6]),  # null and NaN never match
        (">", "0.8", [1, 6]),
        (">=", "0.8", [1, 2, 6]),
        ("<", "0.8", [3]),
        ("<=", "0.8", [2, 3]),
        ("in", "[0.5, 0.9]", [1, 3]),
        ("not_in", "[0.5, 0.9]", [2, 6]),
        ("between", "[0.5, 0.8]", [2, 3]),
        ("is_null", None, [4]),
        ("not_null", None, [1, 2, 3, 5, 6]),
    ],
)
def test_numeric_operators_with_null_nan_inf(
    operator: str, value: str | None, expected: list[int]
) -> None:
    assert one("q", operator, value) == expected


def test_string_operators_and_unicode() -> None:
    assert one("name", "==", "Ünïcode") == [5]
    assert one("name", "like", "'plant%'") == [3]  # case-sensitive
    assert one("name", "like", "'plant_c'") == [3]
    assert one("name", "like", "'%-%'") == [1, 2]
    assert one("name", "like", "'100%'") == [6]
    assert one("name", "regex", "'(?i)^plant'") == [1, 3]
    assert one("name", "in", "[field-b, Ünïcode]") == [2, 5]
    assert one("name", "not_in", "[field-b]") == [1, 3, 5, 6]


def test_like_is_anchored_and_escapes_regex_characters() -> None:
    table = pa.table({"id": [1, 2, 3], "name": ["a.c", "abc", "xa.cx"]})
    assert kept("- {field: name, operator: like, value: 'a.c'}", table) == [1]
    assert kept("- {field: name, operator: like, value: '%a.c%'}", table) == [1, 3]


def test_timestamp_comparisons_accept_iso_strings() -> None:
    assert one("ts", ">=", "'2024-03-05T00:00:00Z'") == [5, 6]
    assert one("ts", "<", "2024-03-02") == [1]  # YAML date, midnight UTC
    assert one("ts", "between", "['2024-03-02T01:00:00+01:00', '2024-03-03']") == [2, 3]


def test_filters_are_anded_and_any_gives_or() -> None:
    text = """
    - field: q
      operator: '>='
      value: 0.5
    - any:
        - {field: name, operator: like, value: 'plant%'}
        - {field: id, operator: '==', value: 2}
    """
    assert kept(text) == [2, 3]
    nested = """
    - any:
        - {field: q, operator: is_null}
        - all:
            - {field: id, operator: '>', value: 1}
            - {field: id, operator: '<', value: 3}
    """
    assert kept(nested) == [2, 4]


def test_stage_after_filters_on_output_columns() -> None:
    table = pa.table({"id": [1, 2, 3], "v": [10.0, 20.0, 30.0]})
    compiled = compile_yaml(
        """
        transformations:
          - name: t
            mappings:
              - {source: id}
              - {target: f, expression: "v * 1.8 + 32"}
            filters:
              - {field: f, operator: '>', value: 60, stage: after}
              - {field: v, operator: '<', value: 30}
        """,
        table,
    )
    out, _ = compiled.apply(table)
    assert out.to_pylist() == [{"id": 2, "f": 68.0}]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            "- {field: qq, operator: '>', value: 1}",
            r"test.yaml:5:17: unknown source column 'qq'; did you mean 'q'\? "
            r"\(available: id, q, name, ts\)",
        ),
        (
            "- {field: q, operator: '>', value: high}",
            r"value 'high' is not a number \(column is float64\)",
        ),
        (
            "- {field: name, operator: '==', value: 5}",
            r"5 is a int but the column is a string; quote it",
        ),
        (
            "- {field: q, operator: like, value: 'x%'}",
            r"operator like needs a string column, but 'q' is float64",
        ),
        (
            "- {field: ts, operator: '>', value: yesterday}",
            r"'yesterday' is not an ISO 8601 timestamp",
        ),
        ("- {field: name, operator: regex, value: '('}", r"invalid regular expression"),
        ("- {field: q, operator: between, value: [1]}", r"between needs a list \[low, high\]"),
        ("- {field: q, operator: is_null, value: 1}", r"operator is_null takes no value"),
        ("- {field: q, operator: '>'}", r"operator '>' needs a value"),
        ("- {field: q, operator: '=>', value: 1}", r"unknown operator '=>'; did you mean '>='\?"),
        ("- {field: q, operator: '>', value: 1, stage: later}", r"stage must be before or after"),
    ],
)
def test_filter_errors(filters: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        kept(filters)
