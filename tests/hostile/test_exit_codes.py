"""One real failure per documented exit code, through the CLI, and the README's exit-code table
lists exactly those codes (and so does ``colmig --help`` and colmig.errors).

Object storage decisions (issue 16): a target bucket that does not exist is a configuration
error (2: the URL names something that is not there); an endpoint that cannot be reached is a
connection failure (3); data partitions failing after their retries while others are committed
is 8, and when every partition failed the failure's own code.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from colmig.errors import EXIT_CODE_MEANINGS
from tests.conftest import REPO_ROOT, RunCli
from tests.engine import procs
from tests.engine.helpers import write_csv_archive
from tests.servers import S3Server, ServerUnavailable, free_port

TESTED: set[int] = set()
SKIPPED = {1: "exit 1 is an internal error (a bug); no real input is known to reach it"}


def _data(source: str, target: str, *extra: str) -> tuple[str, ...]:
    return ("-mode", "data", "-source", source, "-target", target, "-progress", "none", *extra)


def _expect(result: subprocess.CompletedProcess, code: int) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    TESTED.add(code)


def test_0_success(run_cli: RunCli, tmp_path: Path) -> None:
    write_csv_archive(tmp_path / "archive", files=1, rows_per_file=10)
    _expect(run_cli(*_data("file://./archive", "file://./out")), 0)


def test_1_internal_error() -> None:
    pytest.skip(SKIPPED[1])


@pytest.mark.parametrize(
    "args",
    [
        ("-mode", "data", "-workers", "0"),
        ("-mode", "data", "-target", "file://./out"),  # no -source
        ("-no-such-flag",),
        _data("file://./not-there", "file://./out"),  # a source path that does not exist
    ],
    ids=["bad-value", "missing-source", "unknown-flag", "missing-source-path"],
)
def test_2_configuration_error(run_cli: RunCli, args: tuple[str, ...]) -> None:
    _expect(run_cli(*args), 2)


@pytest.mark.parametrize("password", ["pw-s3cret", "pa@ss-w0rd-tail"])
def test_3_connection_failed(run_cli: RunCli, tmp_path: Path, password: str) -> None:
    # An unencoded "@" in the password: no piece of it may come back in a driver's message.
    url = f"postgres://colmig:{password}@127.0.0.1:{free_port()}/db"
    result = run_cli(*_data(url, "file://./out", "-table", "t"), timeout=120)
    _expect(result, 3)
    for piece in [password, *password.split("@")]:
        assert len(piece) < 4 or piece not in result.stderr


def test_4_bad_source_data(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "a.csv").write_text("id,v\n1,2\n3,4,5\n")
    result = run_cli(*_data("file://./archive", "file://./out"))
    _expect(result, 4)
    assert "a.csv:3" in result.stderr


def test_5_target_refused(run_cli: RunCli, tmp_path: Path) -> None:
    write_csv_archive(tmp_path / "archive", files=1, rows_per_file=10)
    result = run_cli(*_data("file://./archive", "file://./" + "n" * 300))
    _expect(result, 5)
    assert "ENAMETOOLONG" in result.stderr


def test_6_validation_mismatch(run_cli: RunCli, tmp_path: Path) -> None:
    write_csv_archive(tmp_path / "archive", files=1, rows_per_file=100)
    with sqlite3.connect(tmp_path / "t.db") as db:  # a trigger changes what was loaded
        db.executescript(
            "CREATE TABLE readings (id BIGINT, ts TIMESTAMPTZ(9), sensor_id TEXT,"
            " value DOUBLE, ok BOOLEAN);"
            "CREATE TRIGGER bump AFTER INSERT ON readings BEGIN"
            " UPDATE readings SET id = id + 1000000 WHERE rowid = NEW.rowid; END;"
        )
    result = run_cli(
        *_data("file://./archive", "sqlite://t.db", "-target-table", "readings", "-validate")
    )
    _expect(result, 6)
    assert "mismatch" in result.stderr


def test_7_migration_state(run_cli: RunCli, tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    up = migrations / "20240101_000000_init.up.sql"
    up.write_text("CREATE TABLE a (x INTEGER);\n")
    (migrations / "20240101_000000_init.down.sql").write_text("DROP TABLE a;\n")
    assert run_cli("-source", "sqlite://s.db", "up").returncode == 0
    up.write_text("CREATE TABLE a (x INTEGER, y INTEGER);\n")  # edited after it was applied
    _expect(run_cli("-source", "sqlite://s.db", "up"), 7)


def test_8_some_partitions_failed(run_cli: RunCli, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    write_csv_archive(archive, files=3, rows_per_file=100)
    bad = archive / "readings-001.csv"
    bad.write_text(bad.read_text() + "1,2,3,4,5,6\n")
    result = run_cli(*_data("file://./archive", "file://./out"))
    _expect(result, 8)
    assert "readings-001.csv" in result.stderr and "the others are committed" in result.stderr
    # When the only partitions left fail again, the committed ones (earlier run) still count.
    _expect(run_cli(*_data("file://./archive", "file://./out")), 8)


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_130_and_143_interrupted(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    write_csv_archive(tmp_path / "archive", files=4, rows_per_file=100_000, tz=None)
    process = procs.start(tmp_path, *_data("file://./archive", "file://./out", "-workers", "1"))
    procs.wait_for(process, lambda: procs.committed(tmp_path) >= 1, "the first commit")
    if sig == signal.SIGINT:
        os.killpg(process.pid, sig)  # what a terminal sends the foreground group
    else:
        process.send_signal(sig)
    returncode, out, err = procs.finish(process)
    _expect(subprocess.CompletedProcess(process.args, returncode, out, err), code)


# --- object storage (issue 16) ---------------------------------------------------------------


@pytest.fixture
def own_s3() -> Iterator[S3Server]:
    """A moto server of this test's own: it is stopped half-way."""
    try:
        server = S3Server()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    server.start()
    yield server
    server.stop()


def _s3_env(server: S3Server) -> dict[str, str | None]:
    return {**server.env, "AWS_PROFILE": None, "AWS_SESSION_TOKEN": None}


def test_missing_target_bucket_is_2(run_cli: RunCli, tmp_path: Path, own_s3: S3Server) -> None:
    write_csv_archive(tmp_path / "archive", files=1, rows_per_file=10)
    result = run_cli(*_data("file://./archive", "s3://no-such-bucket/out"), env=_s3_env(own_s3))
    _expect(result, 2)
    assert "no-such-bucket" in result.stderr and "does not exist" in result.stderr


def test_unreachable_endpoint_is_3(run_cli: RunCli, tmp_path: Path, own_s3: S3Server) -> None:
    write_csv_archive(tmp_path / "archive", files=1, rows_per_file=10)
    closed = f"http://127.0.0.1:{free_port()}"
    env = {**_s3_env(own_s3), "AWS_ENDPOINT_URL": closed, "AWS_ENDPOINT_URL_S3": closed}
    result = run_cli(
        *_data("file://./archive", "s3://some-bucket/out", "-retries", "0"), env=env, timeout=180
    )
    _expect(result, 3)


@pytest.mark.slow
def test_object_store_gone_mid_run_is_8(tmp_path: Path, own_s3: S3Server) -> None:
    write_csv_archive(tmp_path / "archive", files=6, rows_per_file=40_000, tz=None)
    bucket = own_s3.create_bucket("gone-mid-run")
    env = {k: v for k, v in _s3_env(own_s3).items() if v is not None}
    process = procs.start(
        tmp_path,
        *_data("file://./archive", f"{bucket}/out", "-workers", "1", "-retries", "1",
               "-retry-timeout", "5"),
        env=env,
    )  # fmt: skip
    procs.wait_for(process, lambda: procs.committed(tmp_path) >= 1, "the first commit")
    own_s3._kill()
    returncode, out, err = procs.finish(process)
    assert returncode == 8, out + err
    assert "the others are committed" in err and "Traceback" not in err
    assert re.search(r"partitions [1-5] done, 0 skipped by resume, [1-5] failed", out), out


# --- the table --------------------------------------------------------------------------------


def _readme_codes() -> dict[int, str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*(.+?)\s*\|\s*$", section, re.MULTILINE)
    return {int(code): meaning for code, meaning in rows}


def test_readme_table_lists_exactly_the_codes(run_cli: RunCli) -> None:
    codes = set(_readme_codes())
    assert codes == set(EXIT_CODE_MEANINGS), "README and colmig.errors disagree"
    exercised = {0, 2, 3, 4, 5, 6, 7, 8, 130, 143} | set(SKIPPED)
    assert codes == exercised, "every documented code needs a test above, and no more"
    help_text = run_cli("--help").stdout
    epilog = help_text.split("exit codes:", 1)[1]
    assert set(int(c) for c in re.findall(r"(?<![\w-])(\d+) ", epilog)) == codes


def test_readme_says_what_object_storage_errors_exit_with() -> None:
    table = _readme_codes()
    assert "bucket" in table[2] and "does not exist" in table[2]
    assert "unreachable" in table[3]
    assert "committed" in table[8]


@pytest.mark.parametrize("server", ["pg_server", "mariadb_server"])
def test_3_wrong_password_is_the_same_on_every_database(
    run_cli: RunCli, request: pytest.FixtureRequest, server: str
) -> None:
    url = request.getfixturevalue(server).url("colmig_no_such_db_needed")
    user, rest = url.split("://", 1)[1].split(":", 1)
    wrong = url.replace(f"{user}:{rest.split('@', 1)[0]}@", f"{user}:wrong-pass-word@")
    result = run_cli(*_data(wrong, "file://./out", "-table", "t"), timeout=120)
    _expect(result, 3)
    assert "wrong-pass-word" not in result.stderr
