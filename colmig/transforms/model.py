"""The parsed transformation config: plain frozen dataclasses that remember YAML positions.

Everything here pickles (the engine ships a :class:`Transformation` to worker processes), so
positions are kept as :class:`Pos` values rather than yaml marks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from colmig.errors import ConfigError


@dataclass(frozen=True)
class Pos:
    """A place in a YAML file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def error(self, message: str) -> ConfigError:
        """A ConfigError prefixed with this position, carrying file/line/column fields."""
        return ConfigError(f"{self}: {message}", file=self.file, line=self.line, column=self.column)


@dataclass(frozen=True)
class Step:
    """One transform in a mapping's chain, e.g. ``float_precision:2``.

    ``text`` is what follows the colon in the ``name:a,b`` form (each transform splits it its
    own way: a timestamp format may hold commas); ``args`` are YAML values from
    ``{name: value}`` / ``{name: [a, b]}``; ``kwargs`` come from ``{name: {key: value}}``.
    """

    name: str
    pos: Pos
    text: str | None = None
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[Any, Any], ...] = ()

    @property
    def kwargs_dict(self) -> dict[str, Any]:
        return dict(self.kwargs)

    def describe(self) -> str:
        if self.text is not None:
            return f"{self.name}:{self.text}"
        parts = [str(a) for a in self.args] + [f"{k}={v}" for k, v in self.kwargs]
        return self.name + (":" + ",".join(parts) if parts else "")


@dataclass(frozen=True)
class Mapping:
    """One output column: from ``source`` (or a SQL ``expression``) through ``steps``."""

    target: str
    source: str | None
    expression: str | None
    steps: tuple[Step, ...]
    pos: Pos
    source_pos: Pos | None = None
    expression_pos: Pos | None = None

    @property
    def dropped(self) -> bool:
        return any(step.name == "drop" for step in self.steps)

    def describe(self) -> str:
        origin = self.source if self.source is not None else f"({self.expression})"
        chain = " | ".join(step.describe() for step in self.steps)
        return f"{origin} -> {self.target}" + (f"  [{chain}]" if chain else "")


@dataclass(frozen=True)
class Condition:
    """A single filter: ``field operator value``."""

    field: str
    operator: str
    value: Any
    pos: Pos
    field_pos: Pos
    operator_pos: Pos
    value_pos: Pos | None

    def describe(self) -> str:
        if self.operator in ("is_null", "not_null"):
            return f"{self.field} {self.operator}"
        return f"{self.field} {self.operator} {self.value!r}"


@dataclass(frozen=True)
class Group:
    """``any:`` (OR) or ``all:`` (AND) of conditions and nested groups."""

    kind: str  # "any" | "all"
    items: tuple[Condition | Group, ...]
    pos: Pos

    def describe(self) -> str:
        joiner = " OR " if self.kind == "any" else " AND "
        return "(" + joiner.join(item.describe() for item in self.items) + ")"


@dataclass(frozen=True)
class Filter:
    """A top-level filter entry and the stage it runs at (``before`` or ``after`` mapping)."""

    test: Condition | Group
    stage: str
    pos: Pos

    def describe(self) -> str:
        return self.test.describe() + (" (after mapping)" if self.stage == "after" else "")


@dataclass(frozen=True)
class Transformation:
    """One entry of ``transformations:``."""

    name: str
    source_table: str | None
    target_table: str | None
    mappings: tuple[Mapping, ...]
    filters: tuple[Filter, ...]
    batch_size: int | None
    passthrough: bool
    on_error: str | None
    description: str | None
    pos: Pos

    @property
    def file(self) -> str:
        return self.pos.file


@dataclass(frozen=True)
class TransformConfig:
    """A whole transformation file."""

    path: str
    version: str
    transformations: list[Transformation] = field(default_factory=list)

    def select(self, name: str) -> Transformation:
        """The transformation called ``name`` (for ``-transform NAME``), or a ConfigError."""
        import difflib

        for t in self.transformations:
            if t.name == name:
                return t
        names = [t.name for t in self.transformations]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{self.path}: no transformation named {name!r}{hint} (defined: {', '.join(names)})",
            file=self.path,
        )

    def stages(self) -> list[list[Transformation]]:
        """Transformations grouped into waves: each wave may run in parallel; waves run in order.

        A transformation depends on an earlier one when it reads the table the earlier one
        writes, or writes the same target table (so the file order is kept for those).
        """
        waves: list[list[Transformation]] = []
        level: dict[str, int] = {}
        for index, t in enumerate(self.transformations):
            depth = 0
            for earlier in self.transformations[:index]:
                writes = earlier.target_table or earlier.source_table
                if writes is not None and writes in (t.source_table, t.target_table):
                    depth = max(depth, level[earlier.name] + 1)
            level[t.name] = depth
            while len(waves) <= depth:
                waves.append([])
            waves[depth].append(t)
        return waves
