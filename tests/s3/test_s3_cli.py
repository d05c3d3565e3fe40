"""Files <-> S3 through the real CLI against the moto server, used through s3fs like real S3.

Covers: Parquet on a prefix, S3 as source, the endpoint in the URL, hive partitioning,
-validate, and secrets kept out of every output. Failure paths are in test_s3_failures.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tests.conftest import RunCli
from tests.engine.helpers import assert_same_rows, write_csv_archive
from tests.s3.helpers import (
    COLUMNS,
    all_text,
    bucket_name,
    keys,
    open_uploads,
    read_back,
    upload_dir,
)
from tests.servers import S3_SECRET_KEY, S3Server

PART_KEY = re.compile(r"^lake/(?:[^/]+=[^/]+/)*part-[0-9a-f]{16}-\d+\.parquet$")


def test_files_to_s3_parquet_validates(
    run_cli: RunCli, tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    source = write_csv_archive(tmp_path / "archive", files=3, rows_per_file=2_000)
    bucket = bucket_name(s3_bucket)
    result = run_cli(
        "-mode",
        "data",
        "-source",
        "file://./archive",
        "-target",
        f"{s3_bucket}/lake",
        "-validate",
        "-progress",
        "none",
    )
    assert result.returncode == 0, result.stderr
    assert "validated 3 partition(s)" in result.stdout
    assert "6,000 rows written" in result.stdout
    objects = keys(s3_server, bucket)
    assert len(objects) == 3
    assert all(PART_KEY.match(key) for key in objects), objects
    assert open_uploads(s3_server, bucket) == []
    assert_same_rows(read_back(s3_server, f"{bucket}/lake"), source, COLUMNS)


def test_s3_source_to_local_parquet(
    run_cli: RunCli, tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    source = write_csv_archive(tmp_path / "archive", files=3, rows_per_file=1_500)
    upload_dir(s3_server, bucket_name(s3_bucket), "raw/2024", tmp_path / "archive")
    result = run_cli(
        "-mode",
        "data",
        "-source",
        f"{s3_bucket}/raw",
        "-target",
        "file://./out",
        "-validate",
        "-progress",
        "none",
    )
    assert result.returncode == 0, result.stderr
    assert "validated 3 partition(s)" in result.stdout
    files = sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert len(files) == 3 and all(name.startswith("part-") for name in files), files
    from tests.engine.helpers import read_dataset

    assert_same_rows(read_dataset(tmp_path / "out"), source, COLUMNS)


def test_endpoint_from_url_query(
    run_cli: RunCli, tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    write_csv_archive(tmp_path / "archive", files=2, rows_per_file=500)
    target = f"{s3_bucket}/lake?endpoint_url={s3_server.endpoint}"
    # Without the query the standard variables would be the only way to find the server.
    no_endpoint_env: dict[str, str | None] = {
        "AWS_ENDPOINT_URL": None,
        "AWS_ENDPOINT_URL_S3": None,
    }
    result = run_cli(
        "-mode",
        "data",
        "-source",
        "file://./archive",
        "-target",
        target,
        "-validate",
        "-progress",
        "none",
        env=no_endpoint_env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(keys(s3_server, bucket_name(s3_bucket), "lake/")) == 2


def test_partition_by_on_s3(
    run_cli: RunCli, tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    source = write_csv_archive(tmp_path / "archive", files=2, rows_per_file=3_000)
    bucket = bucket_name(s3_bucket)
    result = run_cli(
        "-mode",
        "data",
        "-source",
        "file://./archive",
        "-target",
        f"{s3_bucket}/lake",
        "-partition-by",
        "day(ts),sensor_id",
        "-validate",
        "-progress",
        "none",
    )
    assert result.returncode == 0, result.stderr
    objects = keys(s3_server, bucket)
    assert all(PART_KEY.match(key) for key in objects), objects
    layout = {tuple(key.split("/")[1:3]) for key in objects}
    days = pc.unique(pc.strftime(source.column("ts"), format="%Y-%m-%d")).to_pylist()
    sensors = pc.unique(source.column("sensor_id")).to_pylist()
    assert layout == {(f"day={d}", f"sensor_id={s}") for d in days for s in sensors}
    back = read_back(s3_server, f"{bucket}/lake", hive=True)
    back = back.set_column(
        back.schema.get_field_index("sensor_id"),
        "sensor_id",
        back.column("sensor_id").cast(pa.string()),
    )
    assert_same_rows(back, source, COLUMNS)


def test_secrets_never_leak(
    run_cli: RunCli, tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    write_csv_archive(tmp_path / "archive", files=2, rows_per_file=500)
    secret = "url-only-s3cret-value"
    # Credentials in the URL only (moto accepts any key pair); the environment's are removed.
    env: dict[str, str | None] = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}
    target = f"{s3_bucket}/lake?key=someaccess&secret={secret}"
    outputs = []
    for extra in (("-dry-run",), ("-validate", "-log-level", "debug")):
        result = run_cli(
            "-mode",
            "data",
            "-source",
            "file://./archive",
            "-target",
            target,
            "-progress",
            "log",
            "-audit-log",
            "audit.jsonl",
            *extra,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    # A failure through the env credentials: its message must not carry them either.
    bad = run_cli(
        "-mode",
        "data",
        "-source",
        f"{s3_bucket}/missing-prefix",
        "-target",
        "file://./out",
        "-log-level",
        "debug",
    )
    assert bad.returncode != 0
    outputs.append(bad.stdout + bad.stderr)
    everything = "\n".join(outputs) + all_text(tmp_path / ".colmig")
    if (tmp_path / "audit.jsonl").exists():
        everything += (tmp_path / "audit.jsonl").read_text()
    assert secret not in everything
    assert S3_SECRET_KEY not in everything
    assert "someaccess" not in everything
    assert "secret=***" in everything  # the URL is shown, redacted
