"""Run-time failures follow on_error: fail raises, skip drops (and reports), reject returns rows."""

from __future__ import annotations

import pyarrow as pa
import pytest

from colmig.errors import TransformError
from tests.transforms.helpers import compile_yaml

CONFIG = """
transformations:
  - name: "readings"
    mappings:
      - source: id
      - source: when
        target: recorded_at
        transform: "parse_timestamp:%Y-%m-%d %H:%M"
      - source: reading
        target: value
        transform: [trim, "cast:float64"]
    filters:
      - {field: id, operator: "!=", value: 99}
"""

TABLE = pa.table(
    {
        "id": pa.array([1, 2, 3, 4, 99], pa.int32()),
        "when": ["2024-03-01 10:00", "yesterday", "2024-03-01 11:00", None, "bad but filtered"],
        "reading": ["1.5", "2.5", "n/a", " 4 ", "x"],
    }
)


def test_fail_names_transformation_column_transform_and_value() -> None:
    compiled = compile_yaml(CONFIG, TABLE, on_error="fail")
    with pytest.raises(TransformError) as info:
        compiled.apply(TABLE)
    message = str(info.value)
    assert "transformation 'readings'" in message
    assert "'when' -> 'recorded_at'" in message
    assert "parse_timestamp:%Y-%m-%d %H:%M" in message and "test.yaml:8:20" in message
    assert "'yesterday'" in message
    assert "2 of 5 rows" in message
    assert info.value.fields["transformation"] == "readings"
    assert info.value.fields["value"] == "yesterday"


def test_skip_drops_bad_rows_and_returns_them_for_counting() -> None:
    compiled = compile_yaml(CONFIG, TABLE, on_error="skip")
    out, rejects = compiled.apply(TABLE)
    assert out.column("id").to_pylist() == [1, 4]
    assert rejects is not None and rejects.column("id").to_pylist() == [2, 3]


def test_reject_returns_source_rows_with_reasons() -> None:
    compiled = compile_yaml(CONFIG, TABLE, on_error="reject")
    out, rejects = compiled.apply(TABLE)
    assert out.schema == compiled.output_schema
    assert out.to_pylist()[1] == {"id": 4, "recorded_at": None, "value": 4.0}
    assert rejects is not None
    assert rejects.schema == compiled.reject_schema
    assert rejects.schema.names == ["id", "when", "reading", "_colmig_reject_reason"]
    assert rejects.schema.field("id").type == pa.int32()  # source types are kept
    reasons = rejects.column("_colmig_reject_reason").to_pylist()
    assert (
        reasons[0]
        == "when -> recorded_at: parse_timestamp:%Y-%m-%d %H:%M failed for value yesterday"
    )
    assert reasons[1] == "reading -> value: cast:float64 failed for value n/a"


def test_per_transformation_on_error_overrides_settings() -> None:
    compiled = compile_yaml(CONFIG + "    on_error: reject\n", TABLE, on_error="fail")
    _, rejects = compiled.apply(TABLE)
    assert rejects is not None and rejects.num_rows == 2


def test_clean_batch_has_no_rejects_and_empty_batch_works() -> None:
    compiled = compile_yaml(CONFIG, TABLE, on_error="reject")
    out, rejects = compiled.apply(TABLE.slice(0, 1))
    assert out.num_rows == 1 and rejects is None
    out, rejects = compiled.apply(TABLE.slice(0, 0))
    assert out.num_rows == 0 and out.schema == compiled.output_schema and rejects is None


def test_record_batch_input() -> None:
    compiled = compile_yaml(CONFIG, TABLE, on_error="skip")
    out, _ = compiled.apply(TABLE.to_batches()[0])
    assert out.column("id").to_pylist() == [1, 4]
