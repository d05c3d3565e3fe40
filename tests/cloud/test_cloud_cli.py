"""Files <-> gs:// and az:// through the real CLI, against the GCS emulator and Azurite.

Each object store is reached exactly as a user would reach it: through the standard variables
(STORAGE_EMULATOR_HOST, AZURE_STORAGE_CONNECTION_STRING) or the URL's query, with gcsfs and
adlfs. Covers: CSV -> Parquet on a prefix and back with -validate, day() partitioning, resume
after a failed partition, wrong endpoints and credentials failing fast with a clear message,
and keys kept out of every output.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pytest

from tests.cloud.helpers import (
    Cloud,
    assert_same_rows,
    objects,
    read_back,
    sample_table,
    versions,
    write_csv_archive,
)
from tests.conftest import RunCli
from tests.servers import AZURE_KEY, AzuriteServer, GcsEmulatorServer, free_port

PART = re.compile(r"^lake/(?:[^/]+=[^/]+/)*part-[0-9a-f]{16}-\d+\.parquet$")
DATA = ("-mode", "data", "-progress", "none")


def _all_text(directory: Path) -> str:
    """Every readable byte under ``directory`` (state dir, ledger), as text."""
    if not directory.exists():
        return ""
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in directory.rglob("*") if p.is_file()
    )


def test_csv_to_cloud_parquet_and_back(run_cli: RunCli, tmp_path: Path, cloud: Cloud) -> None:
    source = write_csv_archive(tmp_path / "archive", files=3, rows_per_file=2_000)
    target = f"{cloud.prefix}/lake"
    up = run_cli(*DATA, "-source", "file://./archive", "-target", target, "-validate")
    assert up.returncode == 0, up.stderr
    assert "6,000 rows written" in up.stdout
    assert "validated 3 partition(s)" in up.stdout
    written = objects(cloud, "lake")
    assert len(written) == 3 and all(PART.match(key) for key in written), written
    assert_same_rows(read_back(cloud, "lake"), source)

    down = run_cli(*DATA, "-source", target, "-target", "file://./back", "-validate")
    assert down.returncode == 0, down.stderr
    assert "validated 3 partition(s)" in down.stdout
    assert_same_rows(ds.dataset(tmp_path / "back", format="parquet").to_table(), source)


def test_partition_by_day_on_cloud(run_cli: RunCli, tmp_path: Path, cloud: Cloud) -> None:
    source = write_csv_archive(tmp_path / "archive", files=2, rows_per_file=4_000)
    result = run_cli(*DATA, "-source", "file://./archive", "-target", f"{cloud.prefix}/lake",
                     "-partition-by", "day(timestamp)", "-validate")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "validated 2 partition(s)" in result.stdout
    written = objects(cloud, "lake")
    assert all(PART.match(key) for key in written), written
    days = pc.unique(pc.strftime(source.column("timestamp"), format="%Y-%m-%d")).to_pylist()
    assert len(days) == 2
    assert {key.split("/")[1] for key in written} == {f"day={day}" for day in days}
    back = read_back(cloud, "lake", hive=True)
    per_day = {
        day: pc.sum(pc.equal(back.column("day").cast(pa.string()), day)).as_py() for day in days
    }
    expected = {
        day: pc.sum(
            pc.equal(pc.strftime(source.column("timestamp"), format="%Y-%m-%d"), day)
        ).as_py()
        for day in days
    }
    assert per_day == expected
    assert_same_rows(back, source)


def test_resume_skips_committed_partitions(run_cli: RunCli, tmp_path: Path, cloud: Cloud) -> None:
    archive = tmp_path / "archive"
    source = write_csv_archive(archive, files=2, rows_per_file=2_000)
    late = sample_table(10_000, 3_000, seed=9)
    pacsv.write_csv(late, archive / "zz-late.csv")
    good_text = (archive / "zz-late.csv").read_text()
    lines = good_text.splitlines(keepends=True)
    lines[-3] = "oops,not,a,valid,row,extra\n"
    (archive / "zz-late.csv").write_text("".join(lines))
    args = (*DATA, "-source", "file://./archive", "-target", f"{cloud.prefix}/lake")

    first = run_cli(*args)
    assert first.returncode == 8, first.stderr  # the other partitions are committed
    assert "zz-late.csv" in first.stderr
    assert "partitions 2 done, 0 skipped by resume, 1 failed" in first.stdout
    committed = versions(cloud, "lake")
    assert len(committed) == 2

    (archive / "zz-late.csv").write_text(good_text)  # the user fixes the bad line
    second = run_cli(*args, "-validate")
    assert second.returncode == 0, second.stderr
    assert "partitions 1 done, 2 skipped by resume, 0 failed" in second.stdout
    assert "validated 3 partition(s)" in second.stdout
    after = versions(cloud, "lake")
    assert len(after) == 3
    for path, version in committed.items():
        assert after[path] == version, f"{path} was rewritten although it was committed"
    assert_same_rows(read_back(cloud, "lake"), pa.concat_tables([source, late]))

    third = run_cli(*args)
    assert third.returncode == 0, third.stderr
    assert "partitions 0 done, 3 skipped by resume, 0 failed" in third.stdout
    assert versions(cloud, "lake") == after


@pytest.mark.parametrize("side", ["target", "source"])
def test_wrong_endpoint_fails_fast(
    run_cli: RunCli, tmp_path: Path, cloud: Cloud, side: str
) -> None:
    write_csv_archive(tmp_path / "archive", files=1, rows_per_file=100)
    closed = f"127.0.0.1:{free_port()}"
    env: dict[str, str | None]
    if cloud.name == "gcs":
        env = {"STORAGE_EMULATOR_HOST": f"http://{closed}"}
    else:
        env = {
            "AZURE_STORAGE_CONNECTION_STRING": re.sub(
                r"127\.0\.0\.1:\d+", closed, cloud.env["AZURE_STORAGE_CONNECTION_STRING"]
            )
        }
    url = f"{cloud.prefix}/lake"
    source, target = ("file://./archive", url) if side == "target" else (url, "file://./out")
    started = time.monotonic()
    try:
        result = run_cli(*DATA, "-source", source, "-target", target, env=env, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a closed endpoint did not fail within 30 s ({side})")
    assert time.monotonic() - started < 30
    assert result.returncode == 3, result.stderr
    assert f"cannot reach the storage endpoint http://{closed}" in result.stderr
    assert "Traceback" not in result.stderr
    for secret in cloud.secrets:
        assert secret not in result.stdout + result.stderr


# --- Azure: credentials and URL forms ----------------------------------------------------------


def test_azure_wrong_key_is_a_clear_error_without_the_key(
    run_cli: RunCli, tmp_path: Path, azure: Cloud
) -> None:
    write_csv_archive(tmp_path / "archive", files=1, rows_per_file=100)
    wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMTIz"
    env: dict[str, str | None] = {
        "AZURE_STORAGE_CONNECTION_STRING": azure.env["AZURE_STORAGE_CONNECTION_STRING"].replace(
            AZURE_KEY, wrong
        )
    }
    args = (*DATA, "-source", "file://./archive", "-target", f"{azure.prefix}/lake")
    result = run_cli(*args, env=env, timeout=60)
    assert result.returncode == 3, result.stderr
    assert f"colmig: error: cannot prepare {azure.prefix}/lake" in result.stderr
    assert "</Error>" not in result.stderr  # the first line, not the service's XML
    assert "authenticate" in result.stderr.lower()
    assert "Traceback" not in result.stderr
    # -log-level debug prints the traceback: the key must not be in it either.
    debug = run_cli(*args, "-log-level", "debug", env=env, timeout=60)
    assert debug.returncode == 3, debug.stderr
    everything = result.stdout + result.stderr + debug.stdout + debug.stderr
    everything += _all_text(tmp_path / ".colmig")
    assert wrong not in everything and AZURE_KEY not in everything
    assert objects(azure, "lake") == []


def test_azure_endpoint_and_key_in_url_are_redacted(
    run_cli: RunCli, tmp_path: Path, azure: Cloud, azurite_server: AzuriteServer
) -> None:
    source = write_csv_archive(tmp_path / "archive", files=2, rows_per_file=500)
    # No connection string: the account and endpoint come from the URL, the key from the URL
    # for the first runs and from AZURE_STORAGE_ACCOUNT_KEY for the last.
    no_env: dict[str, str | None] = {"AZURE_STORAGE_CONNECTION_STRING": None}
    base = (f"{azure.prefix}/lake?endpoint_url={azurite_server.endpoint}"
            f"&account_name={azurite_server.account}")  # fmt: skip
    outputs = []
    for extra in (("-dry-run",), ("-validate",), ("-validate", "-log-level", "debug")):
        result = run_cli(*DATA, "-source", "file://./archive", "-target",
                         f"{base}&account_key={AZURE_KEY}", *extra,
                         env=no_env)  # fmt: skip
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    assert_same_rows(read_back(azure, "lake"), source)
    env_key = {**no_env, "AZURE_STORAGE_ACCOUNT_KEY": AZURE_KEY}
    again = run_cli(*DATA, "-source", base, "-target", "file://./back", "-validate", env=env_key)
    assert again.returncode == 0, again.stderr
    assert "validated 2 partition(s)" in again.stdout
    outputs.append(again.stdout + again.stderr)
    # A failure whose cause names the endpoint: the key must not come with it.
    bad = run_cli(*DATA, "-source", f"{base}&account_key=bm90LXRoZS1rZXktZm9yLXN1cmU=",
                  "-target", "file://./out2", env=no_env, timeout=60)  # fmt: skip
    assert bad.returncode == 3, bad.stderr
    outputs.append(bad.stdout + bad.stderr)
    everything = "\n".join(outputs) + _all_text(tmp_path / ".colmig")
    assert AZURE_KEY not in everything
    assert "bm90LXRoZS1rZXktZm9yLXN1cmU=" not in everything
    assert "account_key=***" in everything  # the URL is shown, redacted


def test_azure_endpoint_without_key_is_a_config_error(run_cli: RunCli, azure: Cloud) -> None:
    env: dict[str, str | None] = {"AZURE_STORAGE_CONNECTION_STRING": None}
    result = run_cli(*DATA, "-source", f"{azure.prefix}/x?endpoint_url=http://127.0.0.1:9/a",
                     "-target", "file://./out", env=env)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "needs an account name and its key" in result.stderr


def test_abfss_container_at_account_url(run_cli: RunCli, tmp_path: Path, azure: Cloud) -> None:
    source = write_csv_archive(tmp_path / "archive", files=2, rows_per_file=500)
    url = f"abfss://{azure.bucket}@colmigtest.dfs.core.windows.net/lake"
    result = run_cli(*DATA, "-source", "file://./archive", "-target", url, "-validate")
    assert result.returncode == 0, result.stderr
    assert "validated 2 partition(s)" in result.stdout
    written = objects(azure, "lake")
    assert len(written) == 2 and all(PART.match(key) for key in written), written
    assert_same_rows(read_back(azure, "lake"), source)


# --- GCS: endpoint in the URL, credentials ---------------------------------------------------


def test_gcs_endpoint_in_url_query(
    run_cli: RunCli, tmp_path: Path, gcs: Cloud, gcs_server: GcsEmulatorServer
) -> None:
    source = write_csv_archive(tmp_path / "archive", files=2, rows_per_file=500)
    env: dict[str, str | None] = {"STORAGE_EMULATOR_HOST": None}
    target = f"{gcs.prefix}/lake?endpoint_url={gcs_server.endpoint}"
    result = run_cli(*DATA, "-source", "file://./archive", "-target", target, "-validate", env=env)
    assert result.returncode == 0, result.stderr
    assert "validated 2 partition(s)" in result.stdout
    assert_same_rows(read_back(gcs, "lake"), source)


def test_gcs_bad_credentials_file(run_cli: RunCli, tmp_path: Path, gcs: Cloud) -> None:
    write_csv_archive(tmp_path / "archive", files=1, rows_per_file=100)
    secret = (
        "-----BEGIN PRIVATE KEY-----\\nc2VjcmV0LWtleS1ub3QtcmVhbA==\\n-----END PRIVATE KEY-----"
    )
    (tmp_path / "key.json").write_text(
        '{"type": "service_account", "client_email": "x@colmig-test.iam", '
        f'"private_key": "{secret}"}}'
    )
    for token, words in (
        ("./key.json", "cannot set up storage"),
        ("./missing.json", "does not exist"),
    ):
        result = run_cli(*DATA, "-source", "file://./archive", "-target",
                         f"{gcs.prefix}/lake?token={token}")  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert words in result.stderr
        assert "Traceback" not in result.stderr
        assert "c2VjcmV0LWtleS1ub3QtcmVhbA" not in result.stdout + result.stderr
    assert objects(gcs, "lake") == []
