"""Custom transforms from a directory and from the colmig.transforms entry-point group."""

from __future__ import annotations

import sys
import textwrap
import uuid
import zlib
from pathlib import Path

import pyarrow as pa
import pytest

from colmig.config import Settings
from colmig.errors import ConfigError, TransformError
from colmig.transforms import compile_transformation, load_config
from colmig.transforms.check import run_list


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def write_config(tmp_path: Path, transform: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(
        "transformations:\n  - name: t\n    mappings:\n      - source: x\n"
        f"        transform: {transform}\n",
        encoding="utf-8",
    )
    return str(path)


def run(tmp_path: Path, transform: str, settings: Settings, values: list[object]) -> pa.Table:
    config = load_config(write_config(tmp_path, transform), settings)
    table = pa.table({"x": values})
    compiled = compile_transformation(config.transformations[0], table.schema, settings)
    return compiled.apply(table)[0]


def test_transform_from_directory_with_string_and_named_arguments(tmp_path: Path) -> None:
    name = unique("scale_shift")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "mine.py").write_text(
        textwrap.dedent(
            f"""
            import colmig

            @colmig.transform("{name}")
            def scale_shift(factor, shift="0"):
                "Multiply then add."
                return lambda col: col * float(factor) + float(shift)
            """
        ),
        encoding="utf-8",
    )
    settings = Settings(transforms_dir=str(plugins))
    assert run(tmp_path, f'"{name}:2,1"', settings, [1.0, None]).column("x").to_pylist() == [
        3.0,
        None,
    ]
    out = run(tmp_path, f"{{{name}: {{factor: 10}}}}", settings, [1.0])
    assert out.column("x").to_pylist() == [10.0]
    with pytest.raises(
        ConfigError, match=rf"config.yaml:5:20: custom transform {name}\(factor, shift='0'\)"
    ):
        run(tmp_path, f'"{name}:1,2,3"', settings, [1.0])


def test_per_row_transform_is_listed_as_slow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("py_title")
    (tmp_path / "slow.py").write_text(
        textwrap.dedent(
            f"""
            import polars as pl
            import colmig

            @colmig.transform("{name}", per_row=True)
            def title():
                reverse = lambda s: s[::-1].title()
                return lambda col: col.map_elements(reverse, return_dtype=pl.String)
            """
        ),
        encoding="utf-8",
    )
    settings = Settings(transforms_dir=str(tmp_path))
    assert run(tmp_path, name, settings, ["ab cd"]).column("x").to_pylist() == ["Dc Ba"]
    run_list(settings)
    line = next(li for li in capsys.readouterr().out.splitlines() if name in li)
    assert "SLOW: per-row Python" in line and "slow.py" in line


def test_broken_custom_file_reports_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import colmig\n\nx = 1 / 0\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"broken.py:3: cannot load custom transforms: ZeroDivisionError"
    ):
        load_config(write_config(tmp_path, "trim"), Settings(transforms_dir=str(tmp_path)))


def test_custom_name_cannot_shadow_a_builtin(tmp_path: Path) -> None:
    (tmp_path / "shadow.py").write_text(
        'import colmig\n\n@colmig.transform("trim")\ndef trim():\n    return lambda c: c\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="transform name 'trim' is a built-in"):
        load_config(write_config(tmp_path, "trim"), Settings(transforms_dir=str(tmp_path)))


def test_custom_runtime_exception_becomes_transform_error(tmp_path: Path) -> None:
    name = unique("explode")
    (tmp_path / "boom.py").write_text(
        textwrap.dedent(
            f"""
            import polars as pl
            import colmig

            def fail(value):
                raise ValueError("sensor offline")

            @colmig.transform("{name}", per_row=True)
            def explode():
                return lambda col: col.map_elements(fail, return_dtype=pl.Float64)
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(
        TransformError,
        match=rf"transformation 't' failed on a batch \(custom transforms in use: {name}\)",
    ):
        run(tmp_path, name, Settings(transforms_dir=str(tmp_path)), [1.0])


@pytest.fixture
def entry_point_dist(tmp_path: Path) -> tuple[Path, str, str]:
    """A tiny installed distribution (dist-info on sys.path) with two entry points."""
    decorated, plain = unique("ep_double"), unique("ep_negate")
    module = unique("colmig_ep_plugin")
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{module}.py").write_text(
        textwrap.dedent(
            f"""
            import colmig

            @colmig.transform("{decorated}")
            def double():
                return lambda col: col * 2

            def negate():
                return lambda col: -col
            """
        ),
        encoding="utf-8",
    )
    info = site / "colmig_ep_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: colmig-ep-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[colmig.transforms]\n{decorated} = {module}:double\n{plain} = {module}:negate\n"
    )
    sys.path.insert(0, str(site))
    yield site, decorated, plain
    sys.path.remove(str(site))
    sys.modules.pop(module, None)


def test_transforms_from_entry_points(
    tmp_path: Path, entry_point_dist: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, decorated, plain = entry_point_dist
    settings = Settings(transforms_dir=str(tmp_path / "none"))
    out = run(tmp_path, f"[{decorated}, {plain}]", settings, [1.5, None])
    assert out.column("x").to_pylist() == [-3.0, None]
    run_list(settings)
    listing = capsys.readouterr().out
    assert f"entry point {plain} = " in listing and "(colmig-ep-plugin)" in listing


def test_repo_example_custom_transform() -> None:
    repo = Path(__file__).resolve().parents[2]
    settings = Settings(transforms_dir=str(repo / "transforms"))
    config = load_config(str(repo / "transforms" / "custom_example.yaml"), settings)
    table = pa.table(
        {
            "timestamp": pa.array([1709251200, 1709251210, 1709251220], pa.int64()),
            "sensor_id": ["pa-t01", "pa-t01", "fb-h01"],
            "site": ["plant-a", "plant-a", "field-b"],
            "battery": [3.0, 50.0, 12.34],
            "quality": [0.99, 0.3, 0.9],
        }
    )
    compiled = compile_transformation(config.transformations[0], table.schema, settings)
    assert compiled.slow_transforms == ["sensor_crc32"]
    out, _ = compiled.apply(table)
    assert out.column("battery_state").to_pylist() == ["critical", "ok", "low"]
    assert out.column("sensor_key").to_pylist() == [zlib.crc32(b"pa-t01")] * 2 + [
        zlib.crc32(b"fb-h01")
    ]
    assert out.column("site").to_pylist() == ["plant-a", "plant-a", "field-b"]
    assert out.column("battery_pct").to_pylist() == [3.0, 50.0, 12.3]
