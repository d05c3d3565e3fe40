"""Connection loss is retried with reconnect and backoff: PostgreSQL restarted in the middle of a
load (on a server of its own, so other tests never see it go away) and the run still ends
with exactly the source rows, exit 0."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine import procs
from tests.engine.helpers import write_csv_archive
from tests.servers import PostgresServer, ServerUnavailable

FILES = 8
ROWS = 40_000


@pytest.fixture
def own_pg() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    server.start()
    yield server
    server.stop()


def _restart(server: PostgresServer, down_s: float) -> None:
    server._kill()  # "fast" shutdown: every client connection is dropped
    time.sleep(down_s)
    server._start()  # same port and data directory


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_restarted_mid_load_completes_exactly(
    own_pg: PostgresServer, tmp_path: Path
) -> None:
    write_csv_archive(tmp_path / "archive", files=FILES, rows_per_file=ROWS, tz=None)
    database = own_pg.create_database("restarted")
    process = procs.start(
        tmp_path,
        "-mode", "data", "-source", "file://./archive", "-target", database,
        "-target-table", "readings", "-workers", "1", "-progress", "none",
    )  # fmt: skip
    try:
        procs.wait_for(process, lambda: procs.committed(tmp_path) >= 1, "the first commit")
        _restart(own_pg, down_s=2.0)
        code, out, err = procs.finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 0, err
    assert "retry" in err
    assert f"partitions {FILES} done, 0 skipped by resume, 0 failed" in out
    count = own_pg.admin_sql(
        "SELECT count(*), count(DISTINCT id) FROM readings", database="restarted"
    )
    assert count.strip() == f"{FILES * ROWS}|{FILES * ROWS}"
