"""The object-storage path logic every fsspec backend shares (s3, gs, az), exercised on
fsspec's in-memory filesystem in-process, plus the install hint for missing gcsfs/adlfs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from colmig.backends.files import fs as fsmod
from colmig.cli import parse_args
from colmig.engine.job import run_job
from colmig.urls import parse
from tests.conftest import RunCli
from tests.engine.helpers import assert_same_rows, read_dataset, sample_table

COLUMNS = ["id", "ts", "sensor_id", "value", "ok"]
HOSTILE = ["../../escape", "a/b", ".hidden", "k=v", "50%", None]


@pytest.fixture
def memory_bucket() -> Iterator[str]:
    """A unique top-level directory of the in-memory filesystem, removed afterwards."""
    name = f"bucket-{uuid.uuid4().hex[:8]}"
    yield name
    memory = fsspec.filesystem("memory")
    if memory.exists(f"/{name}"):
        memory.rm(f"/{name}", recursive=True)


def _put_csv(bucket: str, name: str, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    fsspec.filesystem("memory").pipe(f"/{bucket}/raw/{name}", sink.getvalue().to_pybytes())


def _run(*args: str) -> int:
    _, settings = parse_args(["-mode", "data", "-workers", "1", "-progress", "none", *args])
    return run_job(settings)


def test_url_to_filesystem_root_and_display() -> None:
    url = parse("memory://bucket/some/prefix/?format=csv&delimiter=;")
    fs, root = fsmod.filesystem(url)
    assert fs.protocol[0] == "memory" or "memory" in fs.protocol
    assert root == "/bucket/some/prefix"
    assert fsmod.join(root, "day=2024-03-01", "/part-x.parquet") == (
        "/bucket/some/prefix/day=2024-03-01/part-x.parquet"
    )
    shown = fsmod.display(url, fs, "/bucket/some/prefix/part-x.parquet")
    assert shown == "memory://bucket/some/prefix/part-x.parquet"


def test_memory_to_memory_with_hostile_partition_values(
    memory_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    first = sample_table(0, 600)
    values = pa.array([HOSTILE[i % len(HOSTILE)] for i in range(600)], pa.string())
    first = first.set_column(first.schema.get_field_index("sensor_id"), "sensor_id", values)
    second = sample_table(600, 400)
    _put_csv(memory_bucket, "a.csv", first)
    _put_csv(memory_bucket, "b.csv", second)
    args = (
        "-source", f"memory://{memory_bucket}/raw",
        "-target", f"memory://{memory_bucket}/lake",
        "-partition-by", "sensor_id",
        "-validate",
    )  # fmt: skip
    assert _run(*args) == 0
    out = capsys.readouterr().out
    assert "1,000 rows written" in out and "validated 2 partition(s)" in out

    memory = fsspec.filesystem("memory")
    files = memory.find(f"/{memory_bucket}")
    lake = [f for f in files if not f.startswith(f"/{memory_bucket}/raw/")]
    # Every output is exactly one escaped directory level below the target prefix.
    for path in lake:
        relative = path.removeprefix(f"/{memory_bucket}/lake/")
        assert relative != path, f"{path} is outside the target prefix"
        directory, name = relative.split("/")
        assert directory.startswith("sensor_id=") and name.startswith("part-"), path
        assert not name.endswith(".tmp")
    assert len({p.split("/")[-2] for p in lake}) == len(HOSTILE) + 3

    back = read_dataset(f"/{memory_bucket}/lake", filesystem=memory, hive=True)
    back = back.set_column(
        back.schema.get_field_index("sensor_id"),
        "sensor_id",
        back.column("sensor_id").cast(pa.string()),
    )
    expected = pa.concat_tables([first, second])
    assert_same_rows(back, expected, COLUMNS)

    # The same command again resumes: nothing rewritten, nothing duplicated.
    assert _run(*args) == 0
    assert "0 done, 2 skipped by resume" in capsys.readouterr().out
    assert sorted(memory.find(f"/{memory_bucket}/lake")) == sorted(lake)


CLOUD = [("gs", "gcsfs", "gcs"), ("az", "adlfs", "azure"), ("abfs", "adlfs", "azure")]


def _without_cloud_libraries(
    run_cli: RunCli, tmp_path: Path, scheme: str, side: str
) -> tuple[str, str]:
    """Run colmig with gcsfs and adlfs made unimportable, as on a machine without the extras."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    for module in ("gcsfs", "adlfs"):
        (shadow / f"{module}.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{module}'\", name='{module}')\n"
        )
    pacsv.write_csv(sample_table(0, 10), tmp_path / "in.csv")
    url = f"{scheme}://bucket/prefix"
    source, target = (url, "file://./out") if side == "source" else ("file://./in.csv", url)
    result = run_cli(
        "-mode", "data", "-source", source, "-target", target,
        env={"PYTHONPATH": str(shadow)}, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    return result.stdout, result.stderr


@pytest.mark.parametrize(("scheme", "module", "extra"), CLOUD)
@pytest.mark.parametrize("side", ["source", "target"])
def test_missing_cloud_library_names_the_extra(
    run_cli: RunCli, tmp_path: Path, scheme: str, module: str, extra: str, side: str
) -> None:
    _, stderr = _without_cloud_libraries(run_cli, tmp_path, scheme, side)
    assert f"{scheme}://" in stderr
    assert f"pip install 'colmig[{extra}]'" in stderr


@pytest.mark.parametrize(("scheme", "module", "extra"), CLOUD[:2])
def test_missing_cloud_library_names_the_module(
    run_cli: RunCli, tmp_path: Path, scheme: str, module: str, extra: str
) -> None:
    _, stderr = _without_cloud_libraries(run_cli, tmp_path, scheme, "source")
    assert f"needs {module}" in stderr
    assert "None" not in stderr
