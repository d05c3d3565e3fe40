"""Small helpers: compile a YAML snippet against an Arrow table and run it."""

from __future__ import annotations

import textwrap
from typing import Any

import pyarrow as pa

from colmig.config import Settings
from colmig.transforms import compile_transformation, parse_config
from colmig.transforms.compiler import CompiledTransform


def compile_yaml(
    text: str, table: pa.Table, on_error: str = "fail", **settings: Any
) -> CompiledTransform:
    config = parse_config(textwrap.dedent(text), "test.yaml")
    return compile_transformation(
        config.transformations[0], table.schema, Settings(on_error=on_error, **settings)
    )


def one_column(
    transform: str, values: pa.Array | list[Any], on_error: str = "reject", **settings: Any
) -> tuple[list[Any], pa.Table | None, pa.DataType]:
    """Apply ``transform`` (YAML text after 'transform: ') to a column x; return values."""
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    table = pa.table({"x": array})
    compiled = compile_yaml(
        f"""
        transformations:
          - name: t
            mappings:
              - source: x
                target: y
                transform: {transform}
        """,
        table,
        on_error,
        **settings,
    )
    out, rejects = compiled.apply(table)
    assert out.schema == compiled.output_schema
    return out.column("y").to_pylist(), rejects, compiled.output_schema.field("y").type
