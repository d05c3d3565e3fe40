"""S3 test helpers: list what a bucket shows, read Parquet back through s3fs like a user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import s3fs

from tests.engine.helpers import read_dataset
from tests.servers import S3Server

COLUMNS = ["id", "ts", "sensor_id", "value", "ok"]


def bucket_name(bucket_url: str) -> str:
    """``s3://name`` -> ``name``."""
    return bucket_url.removeprefix("s3://")


def keys(server: S3Server, bucket: str, prefix: str = "") -> list[str]:
    """Every visible object key under ``prefix`` (complete objects only, by S3 semantics)."""
    client = server.client()
    out: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out.extend(item["Key"] for item in page.get("Contents", []))
    return sorted(out)


def etags(server: S3Server, bucket: str, prefix: str = "") -> dict[str, tuple[str, Any]]:
    """Key -> (ETag, LastModified): changes whenever an object is rewritten."""
    client = server.client()
    out: dict[str, tuple[str, Any]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            out[item["Key"]] = (item["ETag"], item["LastModified"])
    return out


def open_uploads(server: S3Server, bucket: str) -> list[str]:
    """Keys of multipart uploads still in progress (neither completed nor aborted)."""
    response = server.client().list_multipart_uploads(Bucket=bucket)
    return [upload["Key"] for upload in response.get("Uploads", [])]


def filesystem(server: S3Server) -> s3fs.S3FileSystem:
    """An s3fs filesystem on the test server, uncached so every listing is fresh."""
    return s3fs.S3FileSystem(
        key=server.access_key,
        secret=server.secret_key,
        client_kwargs={"endpoint_url": server.endpoint, "region_name": server.region},
        skip_instance_cache=True,
        use_listings_cache=False,
    )


def read_back(server: S3Server, path: str, hive: bool = False) -> pa.Table:
    """All Parquet rows under ``bucket/prefix``."""
    return read_dataset(path, filesystem=filesystem(server), hive=hive)


def upload_dir(server: S3Server, bucket: str, prefix: str, directory: Path) -> None:
    """Upload every file of ``directory`` to ``s3://bucket/prefix/``."""
    client = server.client()
    for path in sorted(directory.iterdir()):
        client.upload_file(str(path), bucket, f"{prefix}/{path.name}")


def all_text(root: Path) -> str:
    """Everything readable under ``root`` (state files, ledger, logs) as one string."""
    return "\n".join(
        path.read_bytes().decode("utf-8", errors="replace")
        for path in root.rglob("*")
        if path.is_file()
    )
