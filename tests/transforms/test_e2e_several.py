"""Several transformations in one file run in order; -transform NAME runs just one."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

CONFIG = """\
version: "1.0"
transformations:
  - name: readings
    source_table: readings_v1
    target_table: readings_v2
    mappings:
      - source: value
        target: celsius
        transform: "round:1"
  - name: devices
    source_table: devices_v1
    target_table: devices_v2
    mappings:
      - source: name
        transform: uppercase
"""


def _setup(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    pq.write_table(pa.table({"value": [20.04, 21.06]}), src / "readings_v1.parquet")
    pq.write_table(pa.table({"name": ["t1", "h2"]}), src / "devices_v1.parquet")
    (tmp_path / "several.yaml").write_text(CONFIG, encoding="utf-8")
    return src


def _rows(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return ds.dataset(path, format="parquet").to_table().to_pylist()


def test_every_transformation_runs_into_its_target_table(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _setup(tmp_path)
    result = run_cli(
        "-mode", "transform", "-source", "file://./src", "-target", "file://./out",
        "-transform-config", "several.yaml", "-progress", "none",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.index("readings:") < result.stdout.index("devices:")
    assert sorted(r["celsius"] for r in _rows(tmp_path / "out" / "readings_v2")) == [20.0, 21.1]
    assert sorted(r["name"] for r in _rows(tmp_path / "out" / "devices_v2")) == ["H2", "T1"]


def test_transform_flag_picks_one(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _setup(tmp_path)
    result = run_cli(
        "-mode", "transform", "-source", "file://./src", "-target", "file://./out",
        "-transform-config", "several.yaml", "-transform", "devices", "-progress", "none",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "devices_v2").is_dir()
    assert not (tmp_path / "out" / "readings_v2").exists()
    wrong = run_cli(
        "-mode", "transform", "-source", "file://./src", "-target", "file://./out",
        "-transform-config", "several.yaml", "-transform", "device", "-progress", "none",
    )  # fmt: skip
    assert wrong.returncode == 2
    assert "did you mean 'devices'" in wrong.stderr
