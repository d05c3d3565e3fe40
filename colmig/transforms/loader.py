"""Parse and validate a transformation YAML file, keeping every value's line and column.

The file is composed into yaml nodes (not loaded), so each error can point at the exact
``file:line:column`` of the key or value at fault. Validation here needs no data and no
schema: keys, operators, transform names and their arguments. Column names and types are
checked later, against the source schema, by :mod:`colmig.transforms.compiler`.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from colmig.errors import ConfigError
from colmig.transforms import registry
from colmig.transforms.model import (
    Condition,
    Filter,
    Group,
    Mapping,
    Pos,
    Step,
    Transformation,
    TransformConfig,
)

if TYPE_CHECKING:
    from colmig.config import Settings

SUPPORTED_VERSIONS = ("1", "1.0")
TOP_KEYS = ("version", "transformations")
TRANSFORMATION_KEYS = (
    "name",
    "description",
    "source_table",
    "target_table",
    "mappings",
    "filters",
    "batch_size",
    "passthrough",
    "on_error",
)
MAPPING_KEYS = ("source", "target", "transform", "expression", "description")
CONDITION_KEYS = ("field", "operator", "value", "stage")
GROUP_KEYS = ("any", "all", "stage")
OPERATORS = (
    "==",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "in",
    "not_in",
    "between",
    "is_null",
    "not_null",
    "like",
    "regex",
)
_OPERATOR_TYPOS = {"=>": ">=", "=<": "<=", "=": "==", "<>": "!=", "not in": "not_in"}
NO_VALUE_OPERATORS = ("is_null", "not_null")
ON_ERROR = ("fail", "skip", "reject")


class _Reader:
    """Walks yaml nodes of one file, turning them into values and positioned errors."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.loader = yaml.SafeLoader(text)

    def root(self) -> yaml.Node | None:
        try:
            return self.loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            pos = self.pos_of_mark(mark) if mark else None
            problem = exc.problem or exc.context or "invalid YAML"
            where = f"{pos}" if pos else self.path
            raise ConfigError(
                f"{where}: invalid YAML: {problem}",
                file=self.path,
                line=pos.line if pos else None,
                column=pos.column if pos else None,
            ) from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{self.path}: invalid YAML: {exc}", file=self.path) from None

    def pos_of_mark(self, mark: yaml.Mark) -> Pos:
        return Pos(self.path, mark.line + 1, mark.column + 1)

    def pos(self, node: yaml.Node) -> Pos:
        return self.pos_of_mark(node.start_mark)

    def value(self, node: yaml.Node) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise self.pos(node).error(f"invalid value: {exc}") from None

    def mapping(
        self, node: yaml.Node, what: str, allowed: tuple[str, ...]
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """The entries of a mapping node by key: {key: (key_node, value_node)}."""
        if not isinstance(node, yaml.MappingNode):
            raise self.pos(node).error(
                f"{what} must be a mapping with keys {', '.join(allowed)}, found {self.kind(node)}"
            )
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str):
                raise self.pos(key_node).error(f"{what}: keys must be strings, found {key!r}")
            if key in out:
                raise self.pos(key_node).error(f"{what}: key {key!r} appears twice")
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise self.pos(key_node).error(
                    f"unknown key {key!r} in {what}{hint} (allowed: {', '.join(allowed)})"
                )
            out[key] = (key_node, value_node)
        return out

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.pos(node).error(f"{what} must be a list, found {self.kind(node)}")
        return list(node.value)

    def string(self, node: yaml.Node, what: str, *, allow_empty: bool = False) -> str:
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else node
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise self.pos(node).error(
                f"{what} must be a non-empty string, found {self.show(node)}"
            )
        return value

    def kind(self, node: yaml.Node) -> str:
        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        return self.show(node)

    def show(self, node: yaml.Node) -> str:
        if isinstance(node, yaml.ScalarNode):
            value = self.value(node)
            return "nothing" if value is None else f"{value!r}"
        return self.kind(node)


def load_config(path: str, settings: Settings | None = None) -> TransformConfig:
    """Parse and validate the transformation file at ``path``.

    Custom transforms are loaded first (from ``settings.transforms_dir`` and the
    ``colmig.transforms`` entry points) so their names validate. Raises ConfigError with
    ``file:line:column`` for every problem; no data is read.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read transformation config {path}: {exc.strerror or exc}", file=path
        ) from None
    registry.load_custom(settings.transforms_dir if settings is not None else "transforms")
    return parse_config(text, path)


def parse_config(text: str, path: str) -> TransformConfig:
    """Parse a transformation config from ``text`` (``path`` names it in errors)."""
    reader = _Reader(path, text)
    root = reader.root()
    if root is None:
        raise ConfigError(f"{path}: the file is empty; expected version: and transformations:")
    top = reader.mapping(root, "the top level", TOP_KEYS)
    version = "1.0"
    if "version" in top:
        _key_node, node = top["version"]
        version = str(reader.value(node)).strip()
        if version not in SUPPORTED_VERSIONS:
            raise reader.pos(node).error(
                f"unsupported version {version!r} (supported: {', '.join(SUPPORTED_VERSIONS)})"
            )
    if "transformations" not in top:
        raise reader.pos(root).error("missing key 'transformations' (a list of transformations)")
    nodes = reader.sequence(top["transformations"][1], "transformations")
    if not nodes:
        raise reader.pos(top["transformations"][1]).error("transformations is empty")
    transformations: list[Transformation] = []
    seen: dict[str, Pos] = {}
    for node in nodes:
        t = _transformation(reader, node)
        if t.name in seen:
            raise t.pos.error(f"transformation name {t.name!r} is already used at {seen[t.name]}")
        seen[t.name] = t.pos
        transformations.append(t)
    return TransformConfig(path=path, version=version, transformations=transformations)


def _transformation(reader: _Reader, node: yaml.Node) -> Transformation:
    entries = reader.mapping(node, "a transformation", TRANSFORMATION_KEYS)
    if "name" not in entries:
        raise reader.pos(node).error("transformation needs a 'name'")
    name = reader.string(entries["name"][1], "name")

    def optional_string(key: str) -> str | None:
        if key not in entries:
            return None
        value_node = entries[key][1]
        if reader.value(value_node) is None:
            return None
        return reader.string(value_node, key)

    batch_size = None
    if "batch_size" in entries:
        value_node = entries["batch_size"][1]
        value = reader.value(value_node)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise reader.pos(value_node).error(
                f"batch_size must be a whole number of rows >= 1, found {reader.show(value_node)}"
            )
        batch_size = value
    passthrough = False
    if "passthrough" in entries:
        value_node = entries["passthrough"][1]
        passthrough = reader.value(value_node)
        if not isinstance(passthrough, bool):
            raise reader.pos(value_node).error(
                f"passthrough must be true or false, found {reader.show(value_node)}"
            )
    on_error = optional_string("on_error")
    if on_error is not None and on_error not in ON_ERROR:
        raise reader.pos(entries["on_error"][1]).error(
            f"on_error must be one of {', '.join(ON_ERROR)}, found {on_error!r}"
        )
    mappings = _mappings(reader, entries["mappings"][1]) if "mappings" in entries else ()
    if not mappings and not passthrough:
        raise reader.pos(node).error(
            f"transformation {name!r} has no mappings; add mappings: or passthrough: true"
        )
    filters = _filters(reader, entries["filters"][1]) if "filters" in entries else ()
    return Transformation(
        name=name,
        source_table=optional_string("source_table"),
        target_table=optional_string("target_table"),
        mappings=mappings,
        filters=filters,
        batch_size=batch_size,
        passthrough=passthrough,
        on_error=on_error,
        description=optional_string("description"),
        pos=reader.pos(node),
    )


def _mappings(reader: _Reader, node: yaml.Node) -> tuple[Mapping, ...]:
    if isinstance(node, yaml.ScalarNode) and reader.value(node) is None:
        return ()
    out: list[Mapping] = []
    targets: dict[str, Pos] = {}
    for item in reader.sequence(node, "mappings"):
        mapping = _mapping(reader, item)
        if not mapping.dropped:
            if mapping.target in targets:
                raise mapping.pos.error(
                    f"target column {mapping.target!r} is already produced by the mapping at "
                    f"{targets[mapping.target]}"
                )
            targets[mapping.target] = mapping.pos
        out.append(mapping)
    return tuple(out)


def _mapping(reader: _Reader, node: yaml.Node) -> Mapping:
    entries = reader.mapping(node, "a mapping", MAPPING_KEYS)
    source = source_pos = expression = expression_pos = None
    if "source" in entries:
        source = reader.string(entries["source"][1], "source")
        source_pos = reader.pos(entries["source"][1])
    if "expression" in entries:
        expression = reader.string(entries["expression"][1], "expression")
        expression_pos = reader.pos(entries["expression"][1])
    if source is not None and expression is not None:
        raise reader.pos(entries["expression"][0]).error(
            "a mapping has either source: or expression:, not both "
            "(an expression can name the source column itself)"
        )
    if source is None and expression is None:
        raise reader.pos(node).error(
            "a mapping needs source: (a column) or expression: (a SQL expression)"
        )
    target = source
    if "target" in entries:
        target = reader.string(entries["target"][1], "target")
    if target is None:
        raise reader.pos(node).error("a computed column (expression:) needs a target: name")
    steps = _steps(reader, entries["transform"][1]) if "transform" in entries else ()
    for step in steps:
        if step.name == "drop" and len(steps) > 1:
            raise step.pos.error("drop cannot be chained with other transforms")
    return Mapping(
        target=target,
        source=source,
        expression=expression,
        steps=steps,
        pos=reader.pos(node),
        source_pos=source_pos,
        expression_pos=expression_pos,
    )


def _steps(reader: _Reader, node: yaml.Node) -> tuple[Step, ...]:
    if isinstance(node, yaml.SequenceNode):
        steps = tuple(_step(reader, item) for item in node.value)
        if not steps:
            raise reader.pos(node).error("transform list is empty")
        return steps
    if isinstance(node, yaml.ScalarNode) and reader.value(node) is None and not _null_word(node):
        return ()
    return (_step(reader, node),)


def _null_word(node: yaml.Node) -> bool:
    # `transform: null` parses as a YAML null; the user means the `null` transform.
    return (
        isinstance(node, yaml.ScalarNode)
        and node.style is None
        and node.value in ("null", "Null", "NULL")
    )


def _step(reader: _Reader, node: yaml.Node) -> Step:
    pos = reader.pos(node)
    if isinstance(node, yaml.ScalarNode):
        text = "null" if _null_word(node) else reader.value(node)
        if not isinstance(text, str) or not text.strip():
            raise pos.error(
                f"transform must be a name like 'float_precision:2', found {reader.show(node)}"
            )
        name, colon, rest = text.partition(":")
        step = Step(name=name.strip(), pos=pos, text=rest if colon else None)
    elif isinstance(node, yaml.MappingNode):
        if len(node.value) != 1:
            raise pos.error(
                "a transform written as a mapping has exactly one key, the transform name "
                "(e.g. {clip: [0, 100]}); list several transforms to chain them"
            )
        key_node, value_node = node.value[0]
        name = reader.string(key_node, "transform name")
        pos = reader.pos(key_node)
        value = reader.value(value_node)
        if isinstance(value_node, yaml.MappingNode):
            step = Step(name=name, pos=pos, kwargs=tuple(value.items()))
        elif isinstance(value_node, yaml.SequenceNode):
            step = Step(name=name, pos=pos, args=tuple(value))
        elif value is None:
            step = Step(name=name, pos=pos)
        else:
            step = Step(name=name, pos=pos, args=(value,))
    else:
        raise pos.error("transform must be a string, a {name: arguments} mapping or a list")
    spec = registry.get(step.name)
    if spec is None:
        close = registry.suggest(step.name)
        hint = f"; did you mean {close!r}?" if close else ""
        raise step.pos.error(
            f"unknown transform {step.name!r}{hint} (see `colmig transform list`; custom "
            "transforms load from -transforms-dir and the colmig.transforms entry points)"
        )
    spec.check(step)
    return step


def _filters(reader: _Reader, node: yaml.Node) -> tuple[Filter, ...]:
    if isinstance(node, yaml.ScalarNode) and reader.value(node) is None:
        return ()
    out = []
    for item in reader.sequence(node, "filters"):
        test, stage = _test(reader, item, top=True)
        out.append(Filter(test=test, stage=stage or "before", pos=reader.pos(item)))
    return tuple(out)


def _test(reader: _Reader, node: yaml.Node, *, top: bool) -> tuple[Condition | Group, str | None]:
    if isinstance(node, yaml.MappingNode):
        keys = {reader.value(k) for k, _ in node.value}
        if keys & {"any", "all"}:
            return _group(reader, node, top=top)
    entries = reader.mapping(node, "a filter", (*CONDITION_KEYS, "any", "all"))
    stage = _stage(reader, entries, top)
    for key in ("field", "operator"):
        if key not in entries:
            raise reader.pos(node).error(
                f"a filter needs {key}: (filters look like field: quality, operator: '>=', "
                "value: 0.8)"
            )
    field_node = entries["field"][1]
    field = reader.string(field_node, "field")
    op_node = entries["operator"][1]
    operator = str(reader.value(op_node)).strip()
    if operator not in OPERATORS:
        close = [_OPERATOR_TYPOS[operator]] if operator in _OPERATOR_TYPOS else []
        close = close or difflib.get_close_matches(operator, OPERATORS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise reader.pos(op_node).error(
            f"unknown operator {operator!r}{hint} (operators: {', '.join(OPERATORS)})"
        )
    value_node = entries["value"][1] if "value" in entries else None
    value = reader.value(value_node) if value_node is not None else None
    pos = reader.pos(node)
    value_pos = reader.pos(value_node) if value_node is not None else None
    if operator in NO_VALUE_OPERATORS:
        if value_node is not None:
            raise reader.pos(value_node).error(f"operator {operator} takes no value")
    else:
        if value_node is None:
            raise pos.error(f"operator {operator!r} needs a value:")
        _check_value(operator, value, value_pos or pos)
    return (
        Condition(
            field=field,
            operator=operator,
            value=value,
            pos=pos,
            field_pos=reader.pos(field_node),
            operator_pos=reader.pos(op_node),
            value_pos=value_pos,
        ),
        stage,
    )


def _check_value(operator: str, value: Any, pos: Pos) -> None:
    if operator in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise pos.error(f"operator {operator} needs a non-empty list value, found {value!r}")
    elif operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise pos.error(f"operator between needs a list [low, high], found {value!r}")
    elif operator in ("like", "regex"):
        if not isinstance(value, str):
            raise pos.error(f"operator {operator} needs a string pattern, found {value!r}")
        if operator == "regex":
            from colmig.transforms.builtins import check_regex

            check_regex(value, Step(name="regex", pos=pos), "regex filter")
    elif isinstance(value, list | dict):
        raise pos.error(
            f"operator {operator} compares with one value, found {value!r} "
            "(use in / between for several)"
        )
    elif value is None:
        raise pos.error(f"operator {operator} needs a value; use is_null / not_null for nulls")


def _stage(
    reader: _Reader, entries: dict[str, tuple[yaml.Node, yaml.Node]], top: bool
) -> str | None:
    if "stage" not in entries:
        return None
    key_node, value_node = entries["stage"]
    if not top:
        raise reader.pos(key_node).error(
            "stage: belongs on the top-level filter entry, not inside an any:/all: group"
        )
    stage = reader.value(value_node)
    if stage not in ("before", "after"):
        raise reader.pos(value_node).error(
            f"stage must be before or after, found {reader.show(value_node)}"
        )
    return str(stage)


def _group(reader: _Reader, node: yaml.Node, *, top: bool) -> tuple[Group, str | None]:
    entries = reader.mapping(node, "a filter group", GROUP_KEYS)
    stage = _stage(reader, entries, top)
    kinds = [k for k in ("any", "all") if k in entries]
    if len(kinds) != 1:
        raise reader.pos(node).error("a filter group has one of any: or all:, not both")
    kind = kinds[0]
    items_node = entries[kind][1]
    items = []
    for item in reader.sequence(items_node, f"{kind}:"):
        test, _ = _test(reader, item, top=False)
        items.append(test)
    if not items:
        raise reader.pos(items_node).error(f"{kind}: needs at least one filter")
    return Group(kind=kind, items=tuple(items), pos=reader.pos(node)), stage
