"""The spec's example config, the repo's example configs, preview, pickling and a 1M-row batch."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from colmig.config import Settings
from colmig.transforms import compile_transformation, load_config, preview, render_preview
from colmig.transforms.check import summarize

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "transforms"
SETTINGS = Settings(transforms_dir=str(EXAMPLES))
UTC = dt.UTC

SPEC_YAML = """version: "1.0"
transformations:
  - name: "upgrade_sensor_data"
    source_table: "sensor_data_v1"
    target_table: "sensor_data_v2"
    mappings:
      - source: "timestamp"
        target: "recorded_at"
        transform: "unix_to_timestamp"
      - source: "value"
        target: "measurement"
        transform: "float_precision:2"
    filters:
      - field: "quality"
        operator: ">="
        value: 0.8
    batch_size: 5000
"""

V1 = pa.table(
    {
        "timestamp": pa.array([1709251200, 1709251210, 1709251220, 1709251230], pa.int64()),
        "sensor_id": [" PA-T01", "pa-t01", "fb-h01", "fb-h01"],
        "site": ["plant-a", "Plant-A ", "field-b", "field-b"],
        "metric": ["temperature", "Temperature", "humidity", "humidity"],
        "value": [21.3749, None, 72.456, 70.0],
        "unit": ["degC", "degC", "%RH", "%RH"],
        "quality": [0.98, 0.99, 0.81, 0.2],
        "battery": [87.44, 101.0, 55.55, 50.0],
    }
)


def test_spec_yaml_works_exactly_as_written(tmp_path: Path) -> None:
    path = tmp_path / "v2_upgrade.yaml"
    path.write_text(SPEC_YAML, encoding="utf-8")
    config = load_config(str(path), SETTINGS)
    assert (EXAMPLES / "v2_upgrade.yaml").read_text().endswith(SPEC_YAML)
    t = config.transformations[0]
    assert (t.name, t.source_table, t.target_table, t.batch_size) == (
        "upgrade_sensor_data",
        "sensor_data_v1",
        "sensor_data_v2",
        5000,
    )
    compiled = compile_transformation(t, V1.schema, SETTINGS)
    assert compiled.output_schema == pa.schema(
        [("recorded_at", pa.timestamp("us", tz="UTC")), ("measurement", pa.float64())]
    )
    out, rejects = compiled.apply(V1)
    assert rejects is None
    assert out.to_pylist() == [
        {"recorded_at": dt.datetime(2024, 3, 1, tzinfo=UTC), "measurement": 21.37},
        {"recorded_at": dt.datetime(2024, 3, 1, 0, 0, 10, tzinfo=UTC), "measurement": None},
        {"recorded_at": dt.datetime(2024, 3, 1, 0, 0, 20, tzinfo=UTC), "measurement": 72.46},
    ]


def test_schema_v2_example_on_a_tsiot_v1_table() -> None:
    config = load_config(str(EXAMPLES / "schema_v2.yaml"), SETTINGS)
    compiled = compile_transformation(config.transformations[0], V1.schema, SETTINGS)
    assert compiled.output_schema.names == [
        "recorded_at",
        "sensor_id",
        "site",
        "metric",
        "measurement",
        "unit",
        "quality",
        "battery_pct",
    ]
    out, rejects = compiled.apply(V1)
    assert rejects is None
    rows = out.to_pylist()
    assert [r["sensor_id"] for r in rows] == ["pa-t01", "fb-h01"]  # null value, low quality out
    assert rows[0]["site"] == "plant-a" and rows[0]["unit"] == "°C" and rows[1]["unit"] == "%"
    assert rows[0]["battery_pct"] == 87.4 and rows[1]["measurement"] == 72.46


def test_every_example_config_passes_check() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        text = summarize(load_config(str(path), SETTINGS))
        assert "OK" in text


def test_preview_aligns_before_and_after() -> None:
    config = load_config(str(EXAMPLES / "v2_upgrade.yaml"), SETTINGS)
    table = V1.select(["timestamp", "value", "quality"])
    table = table.set_column(0, "timestamp", pa.array([0, 1, 2, 3], pa.int64()))
    compiled = compile_transformation(config.transformations[0], table.schema, SETTINGS)
    before, after = preview(compiled, table)
    assert before.num_rows == after.num_rows == 4
    assert after.schema == compiled.output_schema
    assert before.column("_colmig_outcome").to_pylist() == ["kept", "kept", "kept", "filtered out"]
    assert after.column("measurement").to_pylist() == [21.37, None, 72.46, None]
    text = render_preview(compiled, table, limit=3)
    assert "→ recorded_at" in text and "output schema:" in text and "3 sample" in text


def test_preview_shows_rejected_rows_with_reason() -> None:
    table = pa.table({"x": ["1", "oops"]})
    from tests.transforms.helpers import compile_yaml

    compiled = compile_yaml(
        "transformations:\n  - name: t\n    mappings:\n"
        "      - {source: x, transform: 'cast:int64'}\n",
        table,
        on_error="fail",
    )
    before, after = preview(compiled, table)
    outcome = before.column("_colmig_outcome").to_pylist()
    assert outcome[0] == "kept" and outcome[1].startswith("rejected: x -> x: cast:int64 failed")
    assert after.column("x").to_pylist() == [1, None]


def test_compiled_transform_pickles_for_workers() -> None:
    config = load_config(str(EXAMPLES / "custom_example.yaml"), SETTINGS)
    compiled = compile_transformation(config.transformations[0], V1.schema, SETTINGS)
    clone = pickle.loads(pickle.dumps(compiled))
    assert clone.output_schema == compiled.output_schema
    assert clone.apply(V1)[0].equals(compiled.apply(V1)[0])


def test_stages_and_select(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(
        "transformations:\n"
        "  - {name: a, source_table: raw, target_table: clean, passthrough: true}\n"
        "  - {name: b, source_table: other, target_table: other2, passthrough: true}\n"
        "  - {name: c, source_table: clean, target_table: hourly, passthrough: true}\n",
        encoding="utf-8",
    )
    config = load_config(str(path), SETTINGS)
    assert [[t.name for t in wave] for wave in config.stages()] == [["a", "b"], ["c"]]
    assert config.select("c").source_table == "clean"
    with pytest.raises(Exception, match="no transformation named 'cc'; did you mean 'c'"):
        config.select("cc")


def test_one_million_rows_run_as_one_vectorized_polars_plan() -> None:
    n = 1_000_000
    rng = np.random.default_rng(7)
    table = pa.table(
        {
            "timestamp": pa.array(np.arange(1_709_251_200, 1_709_251_200 + n), pa.int64()),
            "value": rng.normal(20, 5, n),
            "quality": rng.random(n),
        }
    )
    config = load_config(str(EXAMPLES / "v2_upgrade.yaml"), SETTINGS)
    compiled = compile_transformation(config.transformations[0], table.schema, SETTINGS)
    plan = compiled.explain()
    assert plan.count("FROM") == 1 and "FILTER" in plan
    assert "python" not in plan.lower() and "map" not in plan.lower()  # no per-row UDF
    out, rejects = compiled.apply(table)
    expected = int(pc_count(table))
    assert out.num_rows == expected and rejects is None
    assert out.schema == compiled.output_schema


def pc_count(table: pa.Table) -> int:
    return pl.from_arrow(table).filter(pl.col("quality") >= 0.8).height


def test_computed_columns_including_constants() -> None:
    from tests.transforms.helpers import compile_yaml

    table = pa.table({"value": [10.0, None, 30.0], "quality": [0.9, 0.5, 0.95]})
    compiled = compile_yaml(
        """
        transformations:
          - name: t
            mappings:
              - {target: schema_version, expression: "'v2'"}
              - {target: fahrenheit, expression: "value * 1.8 + 32", transform: "round:1"}
              - target: grade
                expression: "CASE WHEN quality > 0.9 THEN 'good' ELSE 'fair' END"
        """,
        table,
    )
    out, _ = compiled.apply(table)
    assert out.to_pylist() == [
        {"schema_version": "v2", "fahrenheit": 50.0, "grade": "fair"},
        {"schema_version": "v2", "fahrenheit": None, "grade": "fair"},
        {"schema_version": "v2", "fahrenheit": 86.0, "grade": "good"},
    ]
    only_constant = compile_yaml(
        "transformations:\n  - name: t\n    mappings:\n      - {target: c, expression: '42'}\n",
        table,
    )
    assert only_constant.apply(table)[0].column("c").to_pylist() == [42, 42, 42]
