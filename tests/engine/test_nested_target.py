"""A files target inside its files source is refused: the next run would read its output."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_target_inside_source_is_refused(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copytree(REPO / "data" / "sample", tmp_path / "data")
    result = run_cli(
        "-mode", "data", "-source", "file://./data", "-target", "file://./data/parquet",
        "-progress", "none",
    )  # fmt: skip
    assert result.returncode == 2
    assert "inside the source" in result.stderr
    assert not (tmp_path / "data" / "parquet").exists()
    beside = run_cli(
        "-mode", "data", "-source", "file://./data", "-target", "file://./data-parquet",
        "-progress", "none",
    )  # fmt: skip
    assert beside.returncode == 0, beside.stderr
