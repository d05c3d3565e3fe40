"""Compile a :class:`Transformation` against an input schema into one Polars plan.

Compilation happens once (in the coordinator, and again in each worker when the compiled
object is unpickled); :meth:`CompiledTransform.apply` then runs the same expressions on every
Arrow batch: filter -> select (mapped, computed and passthrough columns) -> filter(after).
Values that fail a fallible transform are detected vectorized (a non-null input whose result
is null) and routed by ``on_error``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from colmig.errors import ConfigError, TransformError
from colmig.transforms import registry
from colmig.transforms.context import StepContext, type_name
from colmig.transforms.filters import compile_filters, unknown_column
from colmig.transforms.model import Mapping, Pos, Step, Transformation

if TYPE_CHECKING:
    from colmig.config import Settings

REJECT_REASON = "_colmig_reject_reason"
_BAD = "__colmig_bad"


@dataclass(frozen=True)
class _Output:
    target: str
    expr: pl.Expr
    source_identity: str | None  # the source column, when the output is that column unchanged


@dataclass(frozen=True)
class _Failure:
    flag: pl.Expr  # true where this step failed
    reason: pl.Expr  # the reject reason text (evaluated on failed rows only)
    mapping: Mapping
    step: Step
    value: pl.Expr  # the step's input value as text, for messages


class CompiledTransform:
    """A transformation compiled against one input schema; apply() runs it on a batch."""

    def __init__(
        self,
        transformation: Transformation,
        input_schema: pa.Schema,
        settings: Settings | None,
        *,
        pre: pl.Expr | None,
        post: pl.Expr | None,
        outputs: list[_Output],
        failures: list[_Failure],
        slow: list[str],
    ) -> None:
        self.transformation = transformation
        self.input_schema = input_schema
        self.settings = settings
        self.on_error = transformation.on_error or (settings.on_error if settings else "fail")
        self.slow_transforms = slow
        self._pre = pre
        self._post = post
        self._outputs = outputs
        self._failures = failures
        self._select = [o.expr.alias(o.target) for o in outputs]
        self._temp = [f"__colmig_out_{i}" for i in range(len(outputs))]
        self.output_schema = self._derive_output_schema()
        self.reject_schema = input_schema.append(pa.field(REJECT_REASON, pa.string()))

    @property
    def name(self) -> str:
        return self.transformation.name

    def __reduce__(self) -> tuple[Any, ...]:
        # Polars plans holding Python callables do not pickle; recompile in the worker.
        return (compile_transformation, (self.transformation, self.input_schema, self.settings))

    def apply(self, batch: pa.RecordBatch | pa.Table) -> tuple[pa.Table, pa.Table | None]:
        """Transform one batch: (rows to write, rejected rows or None).

        Rows to write match :attr:`output_schema` exactly. Rejected rows hold the source
        columns plus ``_colmig_reject_reason``; with on_error=fail a failed value raises
        TransformError instead (skip returns the rejects too, so the engine can count them).
        """
        frame = self._frame(batch)
        try:
            good, bad = self._run(frame)
        except (ConfigError, TransformError):
            raise
        except Exception as exc:
            raise self._runtime_error(exc) from None
        rejects = None
        if bad is not None and bad.height:
            if self.on_error == "fail":
                raise self._failure_error(bad, frame.height)
            rejects = self._arrow(bad.select(*self.input_schema.names, REJECT_REASON))
            rejects = _conform(rejects, self.reject_schema)
        return _conform(self._arrow(good), self.output_schema), rejects

    def required_columns(self) -> list[str] | None:
        """The source columns the plan reads, in input order, or None when it needs every
        column (rejected rows are written whole, so -on-error reject reads them all)."""
        if self.on_error == "reject":
            return None
        exprs = [o.expr for o in self._outputs]
        if self._pre is not None:
            exprs.append(self._pre)
        for failure in self._failures:
            exprs.extend((failure.flag, failure.reason, failure.value))
        names: set[str] = set()
        for expr in exprs:
            try:
                names.update(expr.meta.root_names())
            except Exception:
                return None
        known = self.input_schema.names
        if not names <= set(known):
            return None
        # A plan of constants alone still needs one column to know how many rows there are.
        return [n for n in known if n in names] or known[:1]

    def explain(self) -> str:
        """The optimized Polars plan for one batch (what apply() executes)."""
        frame = pl.from_arrow(self.input_schema.empty_table())
        assert isinstance(frame, pl.DataFrame)
        return self._plan(frame.lazy()).explain()

    # --- internals ------------------------------------------------------------------------

    def _frame(self, batch: pa.RecordBatch | pa.Table) -> pl.DataFrame:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def _plan(self, lazy: pl.LazyFrame) -> pl.LazyFrame:
        if self._pre is not None:
            lazy = lazy.filter(self._pre)
        if self._failures:
            flags = pl.any_horizontal([f.flag for f in self._failures]).alias(_BAD)
            temps = [o.expr.alias(t) for o, t in zip(self._outputs, self._temp, strict=True)]
            return lazy.with_columns(*temps, flags)
        lazy = lazy.select(self._select)
        return lazy.filter(self._post) if self._post is not None else lazy

    def _run(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame | None]:
        result = self._plan(frame.lazy()).collect()
        if not self._failures:
            return result, None
        failed = result.get_column(_BAD)
        any_failed = bool(failed.any())
        good_rows = result.lazy()
        if any_failed:
            good_rows = good_rows.filter(~pl.col(_BAD))
        good_rows = good_rows.select(
            pl.col(t).alias(o.target) for o, t in zip(self._outputs, self._temp, strict=True)
        )
        if self._post is not None:
            good_rows = good_rows.filter(self._post)
        good = good_rows.collect()
        if not any_failed:
            return good, None
        reasons = pl.coalesce([pl.when(f.flag).then(f.reason) for f in self._failures])
        bad = result.filter(pl.col(_BAD)).with_columns(reasons.alias(REJECT_REASON))
        return good, bad

    def _arrow(self, frame: pl.DataFrame) -> pa.Table:
        return frame.to_arrow()

    def _derive_output_schema(self) -> pa.Schema:
        empty = pl.from_arrow(self.input_schema.empty_table())
        assert isinstance(empty, pl.DataFrame)
        try:
            good, _ = self._run(empty)
        except pl.exceptions.PolarsError as exc:
            raise self.transformation.pos.error(
                f"transformation {self.name!r} cannot run on the source schema: {_first_line(exc)}"
            ) from None
        schema = good.to_arrow().schema
        fields = []
        for output, field in zip(self._outputs, schema, strict=True):
            if output.source_identity is not None:
                # A renamed or passed-through column keeps its exact source Arrow type.
                source = self.input_schema.field(output.source_identity)
                field = pa.field(output.target, source.type, source.nullable, source.metadata)
            fields.append(field)
        return pa.schema(fields)

    def _failure_error(self, bad: pl.DataFrame, total: int) -> TransformError:
        first = bad.row(0, named=True)
        for failure in self._failures:
            row = bad.head(1).select(failure.flag.alias("f"), failure.value.alias("v"))
            if row["f"][0]:
                example = row["v"][0]
                break
        else:  # pragma: no cover - a bad row always has a failing step
            failure, example = self._failures[0], None
        m, step = failure.mapping, failure.step
        column = m.source if m.source is not None else f"({m.expression})"
        return TransformError(
            f"transformation {self.name!r}: column {column!r} -> {m.target!r}: transform "
            f"{step.describe()!r} ({step.pos}) cannot convert value {example!r}; "
            f"{bad.height} of {total} rows in this batch failed. Use -on-error skip or "
            "-on-error reject to set such rows aside.",
            transformation=self.name,
            column=column,
            transform=step.describe(),
            value=example,
            file=step.pos.file,
            line=step.pos.line,
            column_number=step.pos.column,
            reason=first.get(REJECT_REASON),
        )

    def _runtime_error(self, exc: Exception) -> TransformError:
        hint = ""
        if self.slow_transforms:
            hint = f" (custom transforms in use: {', '.join(self.slow_transforms)})"
        return TransformError(
            f"transformation {self.name!r} failed on a batch{hint}: {_first_line(exc)}",
            transformation=self.name,
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    if table.schema.equals(schema):
        return table
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.Table.from_arrays(
            [table.column(i).cast(f.type, safe=False) for i, f in enumerate(schema)],
            schema=schema,
        )


class _Compiler:
    def __init__(self, t: Transformation, input_schema: pa.Schema, settings: Settings | None):
        self.t = t
        self.settings = settings
        frame = pl.from_arrow(input_schema.empty_table())
        assert isinstance(frame, pl.DataFrame)
        self.empty = frame.lazy()
        self.dtypes: dict[str, pl.DataType] = dict(frame.schema)
        self.columns = list(input_schema.names)
        self.failures: list[_Failure] = []
        self.slow: list[str] = []

    def dtype_of(self, expr: pl.Expr, pos: Pos, what: str) -> pl.DataType:
        try:
            probe = self.empty.select(expr.alias("__probe"))
            dtype = probe.collect_schema()["__probe"]
            probe.collect()
        except pl.exceptions.PolarsError as exc:
            raise pos.error(f"{what}: {_first_line(exc)}") from None
        return dtype

    def outputs(self) -> list[_Output]:
        outputs: list[_Output] = []
        used_sources: set[str] = set()
        for mapping in self.t.mappings:
            if mapping.source is not None:
                used_sources.add(mapping.source)
            output = self.mapping(mapping)
            if output is not None:
                outputs.append(output)
        if self.t.passthrough:
            targets = {o.target for o in outputs} | {m.target for m in self.t.mappings}
            outputs.extend(
                _Output(column, pl.col(column), column)
                for column in self.columns
                if column not in used_sources and column not in targets
            )
        if not outputs:
            raise self.t.pos.error(f"transformation {self.t.name!r} produces no columns")
        return outputs

    def mapping(self, m: Mapping) -> _Output | None:
        if m.source is not None:
            if m.source not in self.dtypes:
                raise unknown_column(m.source, self.columns, m.source_pos or m.pos, "source column")
            expr = pl.col(m.source)
            dtype = self.dtypes[m.source]
            label = m.source
        else:
            assert m.expression is not None
            where = m.expression_pos or m.pos
            expr = self.expression(m.expression, where)
            dtype = self.dtype_of(expr, where, f"expression {m.expression!r}")
            label = m.target
        if m.dropped:
            return None
        identity = m.source if not m.steps else None
        for step in m.steps:
            expr, dtype = self.step(m, step, expr, dtype, label)
        return _Output(m.target, expr, identity)

    def expression(self, text: str, pos: Pos) -> pl.Expr:
        try:
            expr = pl.sql_expr(text)
        except Exception as exc:
            raise pos.error(f"invalid SQL expression {text!r}: {_first_line(exc)}") from None
        names = expr.meta.root_names()
        for name in names:
            if name not in self.dtypes:
                raise unknown_column(name, self.columns, pos, f"column in expression {text!r}:")
        # A constant ('v2') is one value; repeat it so the column has one per row.
        return expr if names else pl.repeat(expr, pl.len())

    def step(
        self, m: Mapping, step: Step, expr: pl.Expr, dtype: pl.DataType, label: str
    ) -> tuple[pl.Expr, pl.DataType]:
        spec = registry.get(step.name)
        if spec is None:
            registry.load_custom(self.settings.transforms_dir if self.settings else None)
            spec = registry.get(step.name)
        if spec is None:
            raise step.pos.error(f"unknown transform {step.name!r}")
        ctx = StepContext(expr, dtype, step.pos, label, step.name, self.settings)
        built = spec.build(ctx, step)
        new_dtype = self.dtype_of(
            built.expr,
            step.pos,
            f"{step.name} cannot convert column {label!r} ({type_name(dtype)})",
        )
        if spec.per_row:
            self.slow.append(step.name)
        if built.fallible or spec.fallible:
            value = expr.cast(pl.String, strict=False)
            column = m.source if m.source is not None else m.target
            reason = pl.concat_str(
                pl.lit(f"{column} -> {m.target}: {step.describe()} failed for value "),
                value.fill_null("null"),
            )
            flag = expr.is_not_null() & built.expr.is_null()
            self.failures.append(_Failure(flag, reason, m, step, value))
        return built.expr, new_dtype


def compile_transformation(
    t: Transformation, input_schema: pa.Schema, settings: Settings | None = None
) -> CompiledTransform:
    """Check ``t`` against ``input_schema`` and compile it once to Polars expressions.

    Raises ConfigError (with file:line:column) for an unknown source column (listing the
    available ones), a transform that cannot take the column's type, or a bad filter value.
    """
    if settings is not None:
        registry.load_custom(settings.transforms_dir)
    compiler = _Compiler(t, input_schema, settings)
    before = [f for f in t.filters if f.stage == "before"]
    after = [f for f in t.filters if f.stage == "after"]
    pre = compile_filters(before, compiler.dtypes, "source column")
    if pre is not None:
        compiler.dtype_of(pre, before[0].pos, "filter")
    outputs = compiler.outputs()
    post = None
    if after:
        output_dtypes = {
            o.target: compiler.dtype_of(o.expr, t.pos, f"column {o.target!r}") for o in outputs
        }
        post = compile_filters(after, output_dtypes, "output column (stage: after)")
    return CompiledTransform(
        t,
        input_schema,
        settings,
        pre=pre,
        post=post,
        outputs=outputs,
        failures=compiler.failures,
        slow=compiler.slow,
    )
