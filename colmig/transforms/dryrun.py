"""Dry-run helpers: a sample of rows before and after a compiled transformation."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from colmig.transforms.compiler import REJECT_REASON, CompiledTransform

OUTCOME = "_colmig_outcome"
_ROW = "__colmig_row"


def preview(
    compiled: CompiledTransform, batch: pa.RecordBatch | pa.Table
) -> tuple[pa.Table, pa.Table]:
    """Rows of ``batch`` before and after the transformation, aligned row by row.

    ``before`` is the sample plus ``_colmig_outcome`` ("kept", "filtered out" or
    "rejected: <reason>"); ``after`` has the output columns (output_schema) for the same rows,
    null where the row was filtered or rejected. Failed values never raise here.
    """
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    indexed = table.append_column(_ROW, pa.array(range(table.num_rows), pa.int64()))
    probe = _with_row_passthrough(compiled, indexed.schema)
    good, rejects = probe.apply(indexed)
    kept = pl.from_arrow(good).select(_ROW, pl.exclude(_ROW))
    assert isinstance(kept, pl.DataFrame)
    rows = pl.DataFrame({_ROW: pl.Series(range(table.num_rows), dtype=pl.Int64)})
    outcome = pl.when(pl.col(_ROW).is_in(kept[_ROW].implode())).then(pl.lit("kept"))
    if rejects is not None and rejects.num_rows:
        bad = pl.from_arrow(rejects.select([_ROW, REJECT_REASON]))
        assert isinstance(bad, pl.DataFrame)
        rows = rows.join(bad, on=_ROW, how="left")
        outcome = outcome.when(pl.col(REJECT_REASON).is_not_null()).then(
            pl.concat_str(pl.lit("rejected: "), pl.col(REJECT_REASON))
        )
    outcome = outcome.otherwise(pl.lit("filtered out"))
    status = rows.select(outcome.alias(OUTCOME))
    before = table.append_column(OUTCOME, status.to_arrow().column(0).cast(pa.string()))
    after_frame = rows.select(_ROW).join(kept, on=_ROW, how="left").drop(_ROW)
    after = after_frame.to_arrow()
    after = pa.Table.from_arrays(
        [after.column(f.name).cast(f.type, safe=False) for f in compiled.output_schema],
        schema=compiled.output_schema,
    )
    return before, after


def _with_row_passthrough(compiled: CompiledTransform, schema: pa.Schema) -> CompiledTransform:
    from dataclasses import replace

    from colmig.transforms.compiler import compile_transformation
    from colmig.transforms.model import Mapping, Pos

    t = compiled.transformation
    row = Mapping(target=_ROW, source=_ROW, expression=None, steps=(), pos=Pos(t.file, 0, 0))
    extended = replace(t, mappings=(*t.mappings, row), on_error="reject")
    return compile_transformation(extended, schema, compiled.settings)


def render_preview(
    compiled: CompiledTransform, batch: pa.RecordBatch | pa.Table, limit: int = 10
) -> str:
    """A printable side-by-side sample (before | after) and the output schema."""
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    before, after = preview(compiled, table.slice(0, limit))
    left = pl.from_arrow(before)
    right = pl.from_arrow(after)
    assert isinstance(left, pl.DataFrame) and isinstance(right, pl.DataFrame)
    right = right.rename({name: f"→ {name}" for name in right.columns})
    side_by_side = pl.concat([left, right], how="horizontal")
    with pl.Config(tbl_cols=-1, tbl_rows=limit, tbl_width_chars=240, fmt_str_lengths=40):
        text = str(side_by_side)
    schema_lines = "\n".join(f"  {f.name}: {f.type}" for f in compiled.output_schema)
    shown = min(table.num_rows, limit)
    header = f"transformation {compiled.name!r}: {shown} sample source rows (before | → after)"
    return f"{header}\n{text}\noutput schema:\n{schema_lines}"
