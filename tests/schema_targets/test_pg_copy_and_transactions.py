"""PostgreSQL migration files through the real ``colmig`` command: ``COPY ... FROM stdin``
blocks, statements that cannot run in a transaction (each with its own hint, and the
``-- colmig:no-transaction`` opt-out), server errors with their cause and SQLSTATE, and the
exit code of each failure."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, RunCli
from tests.schema_targets.helpers import PASSWORD, TABLE, rows, table_names
from tests.schema_targets.test_targets import closed_port

pytestmark = pytest.mark.postgres

SEED = "20240101_000000_seed"
# As pg_dump writes it: schema-qualified table, column list, escapes, \N, the \. line.
SEED_UP = (
    "CREATE TABLE seed (id serial PRIMARY KEY, n integer, label text, price numeric(10,2),\n"
    "  at timestamptz, tags text[], doc jsonb, raw bytea);\n"
    "COPY public.seed (n, label, price, at, tags, doc, raw) FROM stdin;\n"
    "1\tplain;with semicolon\t1.10\t2024-01-15 10:30:00+00\t{a,b}\t"
    '{"k": "v"}\t\\\\x0102\n'
    "2\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n"
    "3\ttab\\there\\\\back\\nline\t-0.50\t2024-02-29 23:59:59.123456+00\t{}\t[1, 2]\t\\\\x\n"
    '4\t\\101\\x42 caf\\303\\251 \u00e9\t0\tinfinity\t{"x y"}\tnull\t\\\\xff\n'
    "\\.\n"
    "INSERT INTO seed (n, label) VALUES (5, 'after the block');\n"
)


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return str(result.stdout)


def error(result: subprocess.CompletedProcess, code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("colmig: error: "), result.stderr
    return line


def tracked(url: str) -> list[tuple[str, bool]]:
    return [(str(v), bool(d)) for v, d in rows(url, f"SELECT version, dirty FROM {TABLE}")]


def test_copy_from_stdin_block_loads_every_value_exactly(
    pg_url: str, run_cli: RunCli, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "migrations",
        {f"{SEED}.up.sql": SEED_UP, f"{SEED}.down.sql": "DROP TABLE seed;\n"},
    )
    ok(run_cli("-source", pg_url, "-path", path, "up"))
    got = rows(
        pg_url,
        "SELECT id, n, label, price::text, at::text, tags::text, doc::text,"
        " encode(raw, 'hex') FROM seed ORDER BY id",
    )
    assert got == [
        (
            1,
            1,
            "plain;with semicolon",
            "1.10",
            "2024-01-15 10:30:00+00",
            "{a,b}",
            '{"k": "v"}',
            "0102",
        ),
        (2, 2, None, None, None, None, None, None),
        (
            3,
            3,
            "tab\there\\back\nline",
            "-0.50",
            "2024-02-29 23:59:59.123456+00",
            "{}",
            "[1, 2]",
            "",
        ),
        (4, 4, "AB caf\u00e9 \u00e9", "0.00", "infinity", '{"x y"}', "null", "ff"),
        (5, 5, "after the block", None, None, None, None, None),
    ]
    assert tracked(pg_url) == [(SEED, False)]
    ok(run_cli("-source", pg_url, "-path", path, "down", "1"))
    assert "seed" not in table_names(pg_url)


def test_copy_bad_row_names_its_line_and_the_server_cause(
    pg_url: str, run_cli: RunCli, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "migrations",
        {
            f"{SEED}.up.sql": "CREATE TABLE seed (n integer PRIMARY KEY, label text);\n"
            "COPY seed (n, label) FROM stdin;\n1\tone\n2\ttwo\nthree\t3\n4\tfour\n\\.\n"
        },
    )
    line = error(run_cli("-source", pg_url, "-path", path, "up"), 5)
    assert f"{SEED}.up.sql:5: COPY into seed, data row 3:" in line
    assert 'invalid input syntax for type integer: "three" [SQLSTATE 22P02]' in line
    assert "seed" not in table_names(pg_url) and tracked(pg_url) == []

    (path / f"{SEED}.up.sql").write_text(
        "CREATE TABLE seed (n integer PRIMARY KEY, label text);\n"
        "COPY seed (n, label) FROM stdin;\n1\tone\n1\tagain\n\\.\n"
    )
    line = error(run_cli("-source", pg_url, "-path", path, "up"), 5)
    assert f"{SEED}.up.sql:2: COPY into seed:" in line
    assert "Key (n)=(1) already exists" in line and "[SQLSTATE 23505]" in line
    assert "seed" not in table_names(pg_url)


def test_copy_blocks_colmig_cannot_read_are_refused_before_anything_runs(
    pg_url: str, run_cli: RunCli, tmp_path: Path
) -> None:
    first = "20240101_000000_first"
    path = write(
        tmp_path / "migrations",
        {
            f"{first}.up.sql": "CREATE TABLE first (n integer);\n",
            f"{SEED}.up.sql": "CREATE TABLE seed (n integer);\n\n"
            "COPY seed (n) FROM stdin WITH (FORMAT csv);\n1\n\\.\n",
        },
    )
    (path / f"{first}.up.sql").rename(path / "20231231_000000_first.up.sql")
    line = error(run_cli("-source", pg_url, "-path", path, "up"), 2)
    assert f"{SEED}.up.sql:3: only 'COPY table [(columns)] FROM stdin;'" in line
    assert "nothing was run" in line
    (path / f"{SEED}.up.sql").write_text("COPY seed (n) FROM stdin;\n1\n2\n")
    line = error(run_cli("-source", pg_url, "-path", path, "up"), 2)
    assert f"{SEED}.up.sql:3: COPY data has no end marker" in line
    assert "first" not in table_names(pg_url)


def test_statements_that_cannot_run_in_a_transaction_get_their_own_hint(
    pg_url: str, run_cli: RunCli, tmp_path: Path
) -> None:
    base = "20240101_000000_base"
    path = write(tmp_path / "migrations", {f"{base}.up.sql": "CREATE TABLE t (n integer);\n"})
    ok(run_cli("-source", pg_url, "-path", path, "up"))
    step = path / "20240102_000000_tune.up.sql"
    step.write_text("INSERT INTO t VALUES (1);\nCREATE INDEX CONCURRENTLY t_n ON t (n);\n")
    line = error(run_cli("-source", pg_url, "-path", path, "up"), 5)
    assert "20240102_000000_tune.up.sql:2:" in line and "[SQLSTATE 25001]" in line
    assert "CREATE INDEX CONCURRENTLY cannot run inside a transaction" in line
    assert "-- colmig:no-transaction" in line and "drop CONCURRENTLY" in line
    step.write_text("VACUUM t;\n")
    line = error(run_cli("-source", pg_url, "-path", path, "up"), 5)
    assert "VACUUM cannot run inside a transaction" in line and "ANALYZE" in line
    assert "CONCURRENTLY" not in line
    assert rows(pg_url, "SELECT count(*) FROM t") == [(0,)]
    assert tracked(pg_url) == [(base, False)]


def test_no_transaction_file_runs_its_statements_outside_a_transaction(
    pg_url: str, run_cli: RunCli, tmp_path: Path
) -> None:
    version = "20240102_000000_index_online"
    path = write(
        tmp_path / "migrations",
        {
            "20240101_000000_base.up.sql": "CREATE TABLE t (n integer);\n",
            f"{version}.up.sql": "-- colmig:no-transaction\n"
            "CREATE INDEX CONCURRENTLY t_n ON t (n);\nVACUUM (ANALYZE) t;\n"
            "COPY t (n) FROM stdin;\n41\n\\N\n42\n\\.\n",
            f"{version}.down.sql": "-- colmig:no-transaction\nDROP INDEX CONCURRENTLY t_n;\n",
        },
    )
    out = ok(run_cli("-source", pg_url, "-path", path, "up"))
    assert f"applied {version}" in out
    assert rows(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = 't'") == [("t_n",)]
    assert (version, False) in tracked(pg_url)
    assert rows(pg_url, "SELECT n FROM t ORDER BY n NULLS LAST") == [(41,), (42,), (None,)]
    ok(run_cli("-source", pg_url, "-path", path, "down", "1"))
    assert rows(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = 't'") == []
    assert [v for v, _ in tracked(pg_url)] == ["20240101_000000_base"]


def test_no_transaction_failure_leaves_the_version_dirty_and_each_code_is_documented(
    pg_url: str, run_cli: RunCli, tmp_path: Path
) -> None:
    version = "20240102_000000_index_online"
    base = "20240101_000000_base"
    path = write(
        tmp_path / "migrations",
        {
            f"{base}.up.sql": "CREATE TABLE t (n integer);\n",
            f"{version}.up.sql": "-- colmig:no-transaction\n"
            "CREATE INDEX CONCURRENTLY t_n ON t (n);\n"
            "CREATE INDEX CONCURRENTLY t_m ON t (\n  missing_column\n);\n",
        },
    )
    # 5: the migration's SQL failed; the statement that ran stays, the row is dirty
    line = error(run_cli("-source", pg_url, "-path", path, "up"), 5)
    assert f"{version}.up.sql:3:" in line
    assert 'column "missing_column" does not exist [SQLSTATE 42703]' in line
    assert f"{version} is now marked dirty" in line and f"colmig force {base}" in line
    assert tracked(pg_url) == [(base, False), (version, True)]
    assert rows(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = 't'") == [("t_n",)]
    # 7: the state forbids going on until force
    line = error(run_cli("-source", pg_url, "-path", path, "up"), 7)
    assert f"database is dirty at version {version}" in line and "no-transaction" in line
    # 2: usage, refused before anything runs
    line = error(run_cli("-source", pg_url, "-path", path, "down"), 2)
    assert "needs -steps N" in line
    # 3: the server cannot be reached
    unreachable = f"postgres://colmig:{PASSWORD}@127.0.0.1:{closed_port()}/db"
    line = error(run_cli("-source", unreachable, "-path", path, "up"), 3)
    assert "cannot connect" in line
    # recovering: finish by hand, then force
    rows(pg_url, "CREATE INDEX t_m ON t (n)")
    ok(run_cli("-source", pg_url, "-path", path, "force", version))
    assert tracked(pg_url) == [(base, False), (version, False)]


def test_multi_line_statement_error_reports_the_server_message_and_its_line(
    pg_url: str, run_cli: RunCli, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "migrations",
        {
            "20240101_000000_base.up.sql": "-- readings\nCREATE TABLE readings (\n"
            "  sensor_id text NOT NULL,\n  value numerc\n);\n"
        },
    )
    line = error(run_cli("-source", pg_url, "-path", path, "up"), 5)
    assert '20240101_000000_base.up.sql:4: type "numerc" does not exist [SQLSTATE 42704]' in line
    assert "Failed to execute" not in line


def test_connection_lost_mid_migration_exits_3_naming_file_and_line(
    pg_url: str, tmp_path: Path
) -> None:
    version = "20240101_000000_slow"
    path = write(
        tmp_path / "migrations",
        {f"{version}.up.sql": "CREATE TABLE slow (n integer);\n\nSELECT pg_sleep(60);\n"},
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "colmig", "-source", pg_url, "-path", str(path), "up"]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            killed = rows(
                pg_url,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                " datname = current_database() AND query LIKE 'SELECT pg_sleep(60)%'",
            )
            if killed:
                break
            time.sleep(0.2)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    result = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    line = error(result, 3)
    assert f"{version}.up.sql:3: terminating connection due to administrator command" in line
    assert "rolled back" in line
    assert "slow" not in table_names(pg_url)
    assert tracked(pg_url) == []


PG_DUMP = """--
-- PostgreSQL database dump
--

\\restrict q1w2e3r4t5

-- Dumped from database version 17.6

SET statement_timeout = 0;
SET lock_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

CREATE TABLE public.sensors (
    sensor_id text NOT NULL,
    name text,
    installed_at timestamp with time zone
);

--
-- Data for Name: sensors; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.sensors (sensor_id, name, installed_at) FROM stdin;
s-001\tRoof north\t2024-01-15 10:30:00+00
s-002\t\\N\t2024-01-16 08:00:00+00
\\.


ALTER TABLE ONLY public.sensors
    ADD CONSTRAINT sensors_pkey PRIMARY KEY (sensor_id);

--
-- PostgreSQL database dump complete
--

\\unrestrict q1w2e3r4t5
"""


def test_pg_dump_output_applies_once_its_meta_commands_are_removed(
    pg_url: str, run_cli: RunCli, tmp_path: Path
) -> None:
    dump = "20240101_000000_restore_dump"
    path = write(
        tmp_path / "migrations",
        {
            f"{dump}.up.sql": PG_DUMP,
            "20240102_000000_next.up.sql": "CREATE TABLE readings (sensor_id text);\n",
        },
    )
    line = error(run_cli("-source", pg_url, "-path", path, "up"), 2)
    assert f"{dump}.up.sql:5: \\restrict is a client meta-command" in line
    assert "nothing was run" in line and "sensors" not in table_names(pg_url)
    text = "".join(
        x for x in PG_DUMP.splitlines(keepends=True) if not x.startswith(("\\restrict", "\\unr"))
    )
    (path / f"{dump}.up.sql").write_text(text)
    # set_config('search_path', '', false) must not leak into the bookkeeping or the next file
    out = ok(run_cli("-source", pg_url, "-path", path, "up"))
    assert "2 migrations applied" in out
    assert rows(pg_url, "SELECT * FROM sensors ORDER BY 1") == [
        ("s-001", "Roof north", rows(pg_url, "SELECT '2024-01-15 10:30:00+00'::timestamptz")[0][0]),
        ("s-002", None, rows(pg_url, "SELECT '2024-01-16 08:00:00+00'::timestamptz")[0][0]),
    ]
    assert {"sensors", "readings"} <= table_names(pg_url)
    assert [v for v, _ in tracked(pg_url)] == [dump, "20240102_000000_next"]
