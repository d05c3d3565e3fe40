"""Config mistakes: one ConfigError naming file:line:column, what was found, what is allowed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from colmig.config import Settings
from colmig.errors import ConfigError
from colmig.transforms import compile_transformation, load_config


def load(tmp_path: Path, text: str) -> str:
    path = tmp_path / "t.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    load_config(str(path), Settings(transforms_dir=str(tmp_path / "none")))
    return str(path)


def error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return info.value


BASE = """
version: "1.0"
transformations:
  - name: "t"
    mappings:
      - source: "timestamp"
        target: "recorded_at"
        transform: {transform}
"""


def test_unknown_transform_suggests_nearest_with_position(tmp_path: Path) -> None:
    err = error(tmp_path, BASE.format(transform='"unix_to_timestmp"'))
    assert str(err).startswith(f"{tmp_path / 't.yaml'}:7:20: unknown transform 'unix_to_timestmp'")
    assert "did you mean 'unix_to_timestamp'?" in str(err)
    assert (err.fields["line"], err.fields["column"]) == (7, 20)


def test_unknown_transform_inside_a_chain_points_at_the_item(tmp_path: Path) -> None:
    err = error(tmp_path, BASE.format(transform='[unix_to_timestamp, "convert_zt:UTC"]'))
    assert ":7:40: unknown transform 'convert_zt'; did you mean 'convert_tz'?" in str(err)


def test_bad_arguments(tmp_path: Path) -> None:
    assert ":7:20: float_precision: argument digits must be an integer, found 'two'" in str(
        error(tmp_path, BASE.format(transform='"float_precision:two"'))
    )
    assert (
        "unix_to_timestamp: argument unit must be one of auto, s, ms, us, ns, found 'sec'"
        in str(error(tmp_path, BASE.format(transform='"unix_to_timestamp:sec"')))
    )
    assert "takes at most 1 argument(s)" in str(
        error(tmp_path, BASE.format(transform='"round:1,2"'))
    )
    assert "mask has no argument 'keep_lst'; did you mean 'keep_last'?" in str(
        error(tmp_path, BASE.format(transform="{mask: {keep_lst: 2}}"))
    )
    assert "float_precision needs the argument 'digits'" in str(
        error(tmp_path, BASE.format(transform="float_precision"))
    )
    assert "unknown time zone 'Mars/Base'" in str(
        error(tmp_path, BASE.format(transform='"convert_tz:Mars/Base"'))
    )


def test_unknown_keys_everywhere(tmp_path: Path) -> None:
    err = error(tmp_path, 'version: "1.0"\ntransformation: []\n')
    assert (
        ":2:1: unknown key 'transformation' in the top level; did you mean 'transformations'?"
        in str(err)
    )
    err = error(
        tmp_path, BASE.format(transform="trim").replace('target: "recorded_at"', 'traget: "x"')
    )
    assert ":6:9: unknown key 'traget' in a mapping; did you mean 'target'?" in str(err)
    assert "(allowed: source, target, transform, expression, description)" in str(err)
    err = error(tmp_path, BASE.format(transform="trim") + "    batch_sise: 5\n")
    assert ":8:5: unknown key 'batch_sise' in a transformation; did you mean 'batch_size'?" in str(
        err
    )


def test_wrong_operator_and_filter_shapes(tmp_path: Path) -> None:
    text = (
        BASE.format(transform="trim")
        + "    filters:\n      - field: q\n        operator: ~=\n        value: 1\n"
    )
    assert ":10:19: unknown operator '~='" in str(error(tmp_path, text))
    text = (
        BASE.format(transform="trim")
        + "    filters:\n      - field: q\n        operator: in\n        value: 1\n"
    )
    assert ":11:16: operator in needs a non-empty list value" in str(error(tmp_path, text))


def test_structure_errors(tmp_path: Path) -> None:
    assert "is empty" in str(error(tmp_path, ""))
    assert ":1:10: unsupported version '2.0'" in str(
        error(tmp_path, 'version: "2.0"\ntransformations: []\n')
    )
    assert "missing key 'transformations'" in str(error(tmp_path, 'version: "1.0"\n'))
    assert "invalid YAML" in str(error(tmp_path, "transformations: [\n"))
    dup = BASE.format(transform="trim") + '  - name: "t"\n    passthrough: true\n'
    assert ":8:5: transformation name 't' is already used at" in str(error(tmp_path, dup))
    both = BASE.format(transform="trim") + '      - source: a\n        expression: "a + 1"\n'
    assert "either source: or expression:, not both" in str(error(tmp_path, both))
    twice = BASE.format(transform="trim") + '      - source: x\n        target: "recorded_at"\n'
    assert "target column 'recorded_at' is already produced by the mapping at" in str(
        error(tmp_path, twice)
    )
    assert "batch_size must be a whole number" in str(
        error(tmp_path, BASE.format(transform="trim") + "    batch_size: lots\n")
    )


def test_duplicate_yaml_keys_are_errors(tmp_path: Path) -> None:
    text = BASE.format(transform="trim").replace(
        'target: "recorded_at"', 'target: "a"\n        target: "b"'
    )
    assert ":7:9: a mapping: key 'target' appears twice" in str(error(tmp_path, text))


def compile_against(tmp_path: Path, text: str, schema: pa.Schema) -> None:
    path = load(tmp_path, text)
    config = load_config(path, Settings(transforms_dir=str(tmp_path / "none")))
    compile_transformation(config.transformations[0], schema, Settings())


def test_unknown_source_column_lists_available_columns(tmp_path: Path) -> None:
    schema = pa.schema([("ts", pa.int64()), ("value", pa.float64())])
    with pytest.raises(ConfigError) as info:
        compile_against(tmp_path, BASE.format(transform="unix_to_timestamp"), schema)
    assert ":5:17: unknown source column 'timestamp'" in str(info.value)
    assert "(available: ts, value)" in str(info.value)


def test_type_that_cannot_be_converted(tmp_path: Path) -> None:
    schema = pa.schema([("timestamp", pa.bool_())])
    with pytest.raises(ConfigError) as info:
        compile_against(tmp_path, BASE.format(transform="unix_to_timestamp"), schema)
    assert ":7:20: unix_to_timestamp on column 'timestamp': needs a number" in str(info.value)
    assert "but the column is boolean" in str(info.value)
    schema = pa.schema([("timestamp", pa.string())])
    with pytest.raises(
        ConfigError, match=r":7:20: float_precision on column 'timestamp': needs a numeric"
    ):
        compile_against(tmp_path, BASE.format(transform='"float_precision:2"'), schema)


def test_bad_expression(tmp_path: Path) -> None:
    schema = pa.schema([("value", pa.float64())])
    text = (
        "transformations:\n  - name: t\n    mappings:\n      - target: f\n"
        '        expression: "valu * 2"\n'
    )
    with pytest.raises(
        ConfigError,
        match=r":5:21: unknown column in expression 'valu \* 2': 'valu'; did you mean 'value'",
    ):
        compile_against(tmp_path, text, schema)
    text = text.replace("valu * 2", "value * * 2")
    with pytest.raises(ConfigError, match=r":5:21: invalid SQL expression"):
        compile_against(tmp_path, text, schema)
