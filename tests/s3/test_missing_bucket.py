"""A target bucket that does not exist is one clear configuration error before any work."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_missing_target_bucket_is_a_clear_error(run_cli, s3_bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copytree(REPO / "data" / "sample", tmp_path / "sample")
    result = run_cli(
        "-mode", "data", "-source", "file://./sample",
        "-target", "s3://colmig-no-such-bucket/lake", "-progress", "none",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "colmig-no-such-bucket" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
