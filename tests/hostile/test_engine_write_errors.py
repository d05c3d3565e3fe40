"""Write and read errors through the real CLI surface with their cause and the documented exit
code: a full disk, a read-only target, a name too long and a type Parquet cannot store are the
target's (exit 5, errno text and path, no traceback); a corrupted Parquet footer is bad source
data (exit 4); a missing driver extra is a configuration error with the install command
(exit 2); a partition column called ``key`` is not redacted out of paths."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO_ROOT, RunCli
from tests.engine.helpers import write_csv_archive

Mount = Callable[[str, str], Path]


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Mount]:
    """Mount a small tmpfs (``mount -t tmpfs -o OPTIONS``) under tmp_path; skip if not allowed."""
    mounted: list[Path] = []

    def make(name: str, options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(point)
        return point

    yield make
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)


def _data(source: str, target: str, *extra: str) -> tuple[str, ...]:
    return ("-mode", "data", "-source", source, "-target", target, "-progress", "none", *extra)


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr and "GeneratorExit" not in stderr, stderr


def test_disk_full_is_exit_5_with_the_cause(run_cli: RunCli, tmp_path: Path, mount: Mount) -> None:
    write_csv_archive(tmp_path / "archive", files=2, rows_per_file=50_000, tz=None)
    full = mount("full", "size=256k")
    for workers in ("1", "2"):
        result = run_cli(
            *_data("file://./archive", f"file://{full}/out{workers}", "-workers", workers)
        )
        assert result.returncode == 5, result.stderr
        _no_traceback(result.stderr)
        assert "No space left on device (ENOSPC)" in result.stderr
    assert not [p for p in full.rglob(".*.tmp")], "temporary files left on the full disk"


def test_read_only_target_is_exit_5_naming_the_path(
    run_cli: RunCli, tmp_path: Path, mount: Mount
) -> None:
    write_csv_archive(tmp_path / "archive", files=1, rows_per_file=100)
    read_only = mount("ro", "ro,size=64k")
    for target in (f"file://{read_only}", f"file://{read_only}/sub"):
        result = run_cli(*_data("file://./archive", target))
        assert result.returncode == 5, result.stderr
        _no_traceback(result.stderr)
        assert "Read-only file system (EROFS)" in result.stderr
        assert str(read_only) in result.stderr


def test_file_name_too_long_is_exit_5(run_cli: RunCli, tmp_path: Path) -> None:
    write_csv_archive(tmp_path / "archive", files=1, rows_per_file=100)
    result = run_cli(*_data("file://./archive", "file://./" + "n" * 300))
    assert result.returncode == 5, result.stderr
    _no_traceback(result.stderr)
    assert "File name too long (ENAMETOOLONG)" in result.stderr


def test_type_parquet_cannot_store_is_exit_5_with_the_type(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    interval = pa.array([pa.MonthDayNano([1, 2, 3]), None], pa.month_day_nano_interval())
    feather.write_feather(pa.table({"id": [1, 2], "span": interval}), tmp_path / "src/a.arrow")
    result = run_cli(*_data("file://./src", "file://./out", "-workers", "1"))
    assert result.returncode == 5, result.stderr
    _no_traceback(result.stderr)
    assert "month_day_nano_interval" in result.stderr


def test_corrupted_parquet_footer_is_bad_source_data(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    path = tmp_path / "src" / "a.parquet"
    pq.write_table(pa.table({"id": list(range(1000))}), path)
    data = path.read_bytes()
    path.write_bytes(data[:-12] + b"\0" * 8 + data[-4:])  # footer length kept, footer zeroed
    result = run_cli(*_data("file://./src", "file://./out"))
    assert result.returncode == 4, result.stderr
    _no_traceback(result.stderr)
    assert "a.parquet" in result.stderr


BLOCKER = """
import os, sys
_blocked = tuple(filter(None, os.environ.get("COLMIG_TEST_BLOCK_IMPORTS", "").split(",")))


class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in _blocked):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _Blocker())
"""


@pytest.mark.parametrize(
    ("module", "url", "extra"),
    [
        ("adbc_driver_postgresql", "postgres://u:pw-secret@127.0.0.1:9/db", "postgres"),
        ("pymysql", "mysql://u:pw-secret@127.0.0.1:9/db", "mysql"),
        ("s3fs", "s3://some-bucket/data", "s3"),
    ],
)
@pytest.mark.parametrize("side", ["source", "target", "schema"])
def test_missing_driver_extra_is_exit_2_with_the_install_command(
    run_cli: RunCli, tmp_path: Path, module: str, url: str, extra: str, side: str
) -> None:
    """As on a machine where ``pip install colmig`` ran without the extra."""
    if side == "schema" and extra == "s3":
        pytest.skip("object storage is no schema migration target")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(BLOCKER)
    write_csv_archive(tmp_path / "archive", files=1, rows_per_file=10)
    if side == "source":
        args = _data(url, "file://./out", "-table", "t")
    elif side == "target":
        args = _data("file://./archive", url)
    else:
        (tmp_path / "migrations").mkdir()
        args = ("-source", url, "up")
    env = {
        "COLMIG_TEST_BLOCK_IMPORTS": module,
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(REPO_ROOT)]),
    }
    result = run_cli(*args, env=env)
    assert result.returncode == 2, result.stderr
    _no_traceback(result.stderr)
    assert f"pip install 'colmig[{extra}]'" in result.stderr
    assert "pw-secret" not in result.stderr


def test_partition_column_named_key_stays_visible_in_errors(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    long_value = "v" * 300  # a hive directory name longer than the file system allows
    pq.write_table(pa.table({"key": [long_value], "n": [1]}), tmp_path / "src" / "a.parquet")
    result = run_cli(*_data("file://./src", "file://./out", "-partition-by", "key"))
    assert result.returncode == 5, result.stderr
    _no_traceback(result.stderr)
    assert "key=***" not in result.stderr
    assert f"key={long_value[:50]}" in result.stderr
