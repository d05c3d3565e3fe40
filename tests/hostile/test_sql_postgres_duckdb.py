"""Hostile inputs and faults against the PostgreSQL and DuckDB backends, from the user's side:
the CLI, a real PostgreSQL server, real DuckDB files (issues 8 and 9)."""

from __future__ import annotations

import contextlib
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from colmig.backends.postgres.connect import libpq_uri
from colmig.urls import parse

REPO = Path(__file__).resolve().parents[2]
SAMPLE_ROWS = 12_960 * 3 + 12_880
QUIET = ("-progress", "none")

#: Table and column names an attacker controls: quotes, a statement separator, a backslash,
#: unicode, and a string-literal breakout that calls a non-transactional function.
EVIL_TABLE = "t'||nextval('victim_seq')||'"
EVIL_TABLE_2 = 't; DROP TABLE victim; -- "ü"'
EVIL_COLUMNS = ("a'b", "c;d", "e\\f", 'ü "q"', "temp.c")


@contextlib.contextmanager
def pg(url: str) -> Iterator[Any]:
    import adbc_driver_postgresql.dbapi as adbc

    conn = adbc.connect(libpq_uri(parse(url)), autocommit=True)
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def pg_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with pg(url) as cur:
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duck_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(path)) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]


def data(run_cli: Any, *args: str, cwd: Path | None = None) -> Any:
    return run_cli("-mode", "data", *QUIET, *args, cwd=cwd)


# --- 1. SQL injection through catalog names -----------------------------------------------------


@pytest.mark.postgres
def test_hostile_table_and_column_names_from_postgres_move_and_run_no_sql(
    run_cli: Any, pg_url: str, tmp_path: Path
) -> None:
    cols = ", ".join(f"{q(c)} text" for c in EVIL_COLUMNS)
    with pg(pg_url) as cur:
        cur.execute("CREATE SEQUENCE victim_seq")
        cur.execute("CREATE TABLE victim (x int)")
        for table in (EVIL_TABLE, EVIL_TABLE_2):
            cur.execute(f"CREATE TABLE {q(table)} (id integer PRIMARY KEY, {cols})")
            values = ", ".join(["'x''y;\\z ü'"] * len(EVIL_COLUMNS))
            cur.execute(f"INSERT INTO {q(table)} SELECT g, {values} FROM generate_series(1, 50) g")
            cur.execute(f"ANALYZE {q(table)}")
    target = tmp_path / "out.duckdb"
    result = data(
        run_cli,
        "-source",
        pg_url,
        "-target",
        f"duckdb://{target}",
        "-table",
        "t*",
        "-partitions",
        "2",
        "-workers",
        "1",
    )
    assert result.returncode == 0, result.stderr
    # The literal breakout would have called nextval(): the sequence must be untouched.
    assert pg_rows(pg_url, "SELECT is_called FROM victim_seq") == [(False,)]
    assert pg_rows(pg_url, "SELECT count(*) FROM victim") == [(0,)]
    for table in (EVIL_TABLE, EVIL_TABLE_2):
        names = [r[0] for r in duck_rows(target, f"DESCRIBE {q(table)}")]
        assert names == ["id", *EVIL_COLUMNS]
        got = duck_rows(target, f"SELECT count(*), min({q(EVIL_COLUMNS[2])}) FROM {q(table)}")
        assert got == [(50, "x'y;\\z ü")]


@pytest.mark.postgres
def test_hostile_names_from_duckdb_into_postgres_with_upsert(
    run_cli: Any, pg_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "src.duckdb"
    cols = ", ".join(f"{q(c)} VARCHAR" for c in EVIL_COLUMNS)
    with duckdb.connect(str(source)) as conn:
        conn.execute(f"CREATE TABLE {q(EVIL_TABLE_2)} (id INTEGER PRIMARY KEY, {cols})")
        values = ", ".join(["'x''y;\\z ü'"] * len(EVIL_COLUMNS))
        conn.execute(f"INSERT INTO {q(EVIL_TABLE_2)} SELECT range, {values} FROM range(30)")
    with pg(pg_url) as cur:
        cur.execute("CREATE TABLE victim (x int)")
    args = (
        "-source",
        f"duckdb://{source}",
        "-target",
        pg_url,
        "-table",
        "t;*",
        "-partitions",
        "2",
        "-workers",
        "1",
    )
    for _ in range(2):
        result = data(run_cli, *args, "-write-mode", "upsert", "-key", "id", "-fresh")
        assert result.returncode == 0, result.stderr
    assert pg_rows(pg_url, "SELECT count(*) FROM victim") == [(0,)]
    got = pg_rows(pg_url, f"SELECT count(*), min({q(EVIL_COLUMNS[3])}) FROM {q(EVIL_TABLE_2)}")
    assert got == [(30, "x'y;\\z ü")]


# --- 2. Resume checks the target ----------------------------------------------------------------


def _series_csv(folder: Path, files: int = 4, rows: int = 25) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        lines = ["id,device,value"]
        lines += [f"{index * rows + i},d{i % 3},{i * 0.5}" for i in range(rows)]
        (folder / f"part-{index}.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.postgres
def test_resume_after_drop_or_truncate_rewrites_postgres_partitions(
    run_cli: Any, pg_url: str, tmp_path: Path
) -> None:
    source = _series_csv(tmp_path / "in")
    args = ("-source", str(source), "-target", pg_url, "-target-table", "readings")
    first = data(run_cli, *args)
    assert first.returncode == 0, first.stderr
    for damage in ("DROP TABLE readings", "TRUNCATE readings"):
        with pg(pg_url) as cur:
            cur.execute(damage)
        again = data(run_cli, *args)
        assert again.returncode == 0, again.stderr
        assert "4 skipped by resume" not in again.stdout + again.stderr
        assert pg_rows(pg_url, "SELECT count(*), count(DISTINCT id) FROM readings") == [(100, 100)]
    # Untouched, a re-run is a no-op.
    idle = data(run_cli, *args)
    assert idle.returncode == 0 and "4 skipped by resume" in idle.stdout + idle.stderr
    assert pg_rows(pg_url, "SELECT count(*) FROM readings") == [(100,)]


@pytest.mark.postgres
def test_resume_after_some_rows_deleted_stops_and_says_what_is_missing(
    run_cli: Any, pg_url: str, tmp_path: Path
) -> None:
    source = _series_csv(tmp_path / "in")
    args = ("-source", str(source), "-target", pg_url, "-target-table", "readings")
    assert data(run_cli, *args).returncode == 0
    with pg(pg_url) as cur:
        cur.execute("DELETE FROM readings WHERE id < 10")
    again = data(run_cli, *args)
    assert again.returncode == 5, again.stdout + again.stderr
    assert "readings" in again.stderr and "holds 90 rows" in again.stderr
    assert "Traceback" not in again.stderr


def test_resume_after_drop_rewrites_duckdb_partitions(run_cli: Any, tmp_path: Path) -> None:
    source = _series_csv(tmp_path / "in")
    target = tmp_path / "t.duckdb"
    args = ("-source", str(source), "-target", f"duckdb://{target}", "-target-table", "r")
    assert data(run_cli, *args).returncode == 0
    with duckdb.connect(str(target)) as conn:
        conn.execute("DROP TABLE r")
    again = data(run_cli, *args)
    assert again.returncode == 0, again.stderr
    assert duck_rows(target, "SELECT count(*) FROM r") == [(100,)]


# --- 3. Upsert without a unique constraint ------------------------------------------------------


def _upsert_csv(path: Path, rows: list[tuple[str, str, float]]) -> Path:
    path.write_text("date,site,value\n" + "".join(f"{d},{s},{v}\n" for d, s, v in rows))
    return path


@pytest.mark.postgres
def test_upsert_into_postgres_table_without_unique_constraint(
    run_cli: Any, pg_url: str, tmp_path: Path
) -> None:
    with pg(pg_url) as cur:
        cur.execute("CREATE TABLE daily (date date, site text, value double precision, note text)")
        cur.execute(
            "INSERT INTO daily VALUES ('2024-03-01', 'a', 1, 'kept'), ('2024-03-02', 'b', 2, 'x')"
        )
    first = _upsert_csv(tmp_path / "d1.csv", [("2024-03-02", "b2", 20.5), ("2024-03-03", "c", 3)])
    result = data(
        run_cli,
        "-source",
        str(first),
        "-target",
        pg_url,
        "-target-table",
        "daily",
        "-write-mode",
        "upsert",
        "-key",
        "date",
    )
    assert result.returncode == 0, result.stderr
    got = pg_rows(pg_url, "SELECT date::text, site, value, note FROM daily ORDER BY date")
    assert got == [
        ("2024-03-01", "a", 1.0, "kept"),
        ("2024-03-02", "b2", 20.5, "x"),
        ("2024-03-03", "c", 3.0, None),
    ]


@pytest.mark.postgres
def test_upsert_creates_primary_key_when_colmig_creates_the_table(
    run_cli: Any, pg_url: str, tmp_path: Path
) -> None:
    first = _upsert_csv(tmp_path / "d1.csv", [("2024-03-02", "b", 2), ("2024-03-02", "b2", 5)])
    args = ("-target", pg_url, "-target-table", "daily", "-write-mode", "upsert", "-key", "date")
    assert data(run_cli, "-source", str(first), *args).returncode == 0
    keys = pg_rows(
        pg_url,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'daily'::regclass AND i.indisprimary",
    )
    assert keys == [("date",)]
    # The last row of a key within the input wins.
    assert pg_rows(pg_url, "SELECT site, value FROM daily") == [("b2", 5.0)]


def test_upsert_into_duckdb_table_without_unique_constraint(run_cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "t.duckdb"
    with duckdb.connect(str(target)) as conn:
        conn.execute("CREATE TABLE daily (date DATE, site VARCHAR, value DOUBLE, note VARCHAR)")
        conn.execute(
            "INSERT INTO daily VALUES ('2024-03-01', 'a', 1, 'kept'), ('2024-03-02', 'b', 2, 'x')"
        )
    first = _upsert_csv(tmp_path / "d1.csv", [("2024-03-02", "b2", 20.5), ("2024-03-03", "c", 3)])
    result = data(
        run_cli,
        "-source",
        str(first),
        "-target",
        f"duckdb://{target}",
        "-target-table",
        "daily",
        "-write-mode",
        "upsert",
        "-key",
        "date",
    )
    assert result.returncode == 0, result.stderr
    got = duck_rows(target, "SELECT date::VARCHAR, site, value, note FROM daily ORDER BY date")
    assert got == [
        ("2024-03-01", "a", 1.0, "kept"),
        ("2024-03-02", "b2", 20.5, "x"),
        ("2024-03-03", "c", 3.0, None),
    ]


# --- 4. Connection errors: classification and redaction ------------------------------------------


@pytest.mark.postgres
def test_wrong_password_with_reserved_characters_is_exit_3_and_never_echoed(
    run_cli: Any, pg_url: str, tmp_path: Path
) -> None:
    source = _series_csv(tmp_path / "in", files=1)
    url = parse(pg_url)
    where = f"{url.host}:{url.port}/{url.database}"
    # "@" and ":" reach libpq percent-encoded: an authentication failure (exit 3).
    secret = "p@ss:wrd-tail"
    bad = f"postgres://{url.username}:{secret}@{where}"
    result = data(run_cli, "-source", str(source), "-target", bad, "-target-table", "x")
    assert result.returncode == 3, result.stdout + result.stderr
    output = result.stdout + result.stderr
    for piece in ("p@ss", "ss:w", "wrd-tail"):
        assert piece not in output
    assert "Traceback" not in output and "password authentication failed" in output
    # "#" and "/" cannot be parsed at all: a configuration error, still not echoed.
    for secret in ("p#ss-tail", "p/ss-tail"):
        bad = f"postgres://{url.username}:{secret}@{where}"
        result = data(run_cli, "-source", str(source), "-target", bad, "-target-table", "x")
        assert result.returncode in (2, 3), result.stdout + result.stderr
        assert "ss-tail" not in result.stdout + result.stderr


@pytest.mark.postgres
def test_server_down_is_transient_and_retried(run_cli: Any, tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = _series_csv(tmp_path / "in", files=1)
    target = f"postgres://u:pw@127.0.0.1:{port}/db"
    result = data(
        run_cli,
        "-source",
        str(source),
        "-target",
        target,
        "-target-table",
        "x",
        "-retries",
        "1",
        "-retry-timeout",
        "5",
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_postgres_errors_are_classified_by_sqlstate_not_text() -> None:
    import adbc_driver_manager as adbc

    from colmig.backends.postgres.connect import classify
    from colmig.errors import ConnectionFailedError, TargetError, TransientError

    def err(cls: type[Exception], state: str | None) -> Exception:
        # Words that must not matter: classification reads the class and the SQLSTATE.
        return cls(
            "connection refused eof server closed",
            status_code=adbc.AdbcStatusCode.IO,
            sqlstate=state,
        )

    assert classify(err(adbc.IntegrityError, "23505")) is TargetError
    assert classify(err(adbc.DataError, "22003")) is TargetError
    assert classify(err(adbc.ProgrammingError, "42P01")) is TargetError
    assert classify(err(adbc.OperationalError, "28P01")) is ConnectionFailedError
    assert classify(err(adbc.OperationalError, "08006")) is TransientError
    assert classify(err(adbc.OperationalError, "57P01")) is TransientError
    assert classify(err(adbc.OperationalError, None)) is TransientError


# --- 5. Existing tables: the target's schema wins -----------------------------------------------


def _sample(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "data" / "sample", tmp_path / "sample")
    return tmp_path / "sample"


def test_migrations_then_sample_data_into_duckdb(run_cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "t.duckdb"
    up = run_cli("-source", f"duckdb://{target}", "-direction", "up", "-path", REPO / "migrations")
    assert up.returncode == 0, up.stderr
    result = data(
        run_cli,
        "-source",
        _sample(tmp_path),
        "-target",
        f"duckdb://{target}",
        "-target-table",
        "sensor_data",
    )
    assert result.returncode == 0, result.stderr
    got = duck_rows(
        target, "SELECT count(*), min(timestamp)::VARCHAR, typeof(min(timestamp)) FROM sensor_data"
    )
    # 2024-03-01T00:00:00Z is stored as its UTC wall time in the TIMESTAMP column.
    assert got == [(SAMPLE_ROWS, "2024-03-01 00:00:00", "TIMESTAMP")]
    quality = duck_rows(
        target, "SELECT quality::VARCHAR FROM sensor_data WHERE quality = 0.983 LIMIT 1"
    )
    assert quality == [("0.983",)]


@pytest.mark.postgres
def test_migrations_then_sample_data_into_postgres(
    run_cli: Any, pg_url: str, tmp_path: Path
) -> None:
    up = run_cli("-source", pg_url, "-direction", "up", "-path", REPO / "migrations")
    assert up.returncode == 0, up.stderr
    result = data(
        run_cli, "-source", _sample(tmp_path), "-target", pg_url, "-target-table", "sensor_data"
    )
    assert result.returncode == 0, result.stderr
    assert pg_rows(pg_url, "SELECT count(*) FROM sensor_data") == [(SAMPLE_ROWS,)]
    assert (
        pg_rows(pg_url, "SELECT count(*) FROM sensor_data WHERE quality::text = '0.983'")[0][0] > 0
    )


@pytest.mark.postgres
def test_small_integers_csv_into_existing_postgres_integer_column(
    run_cli: Any, pg_url: str, tmp_path: Path
) -> None:
    with pg(pg_url) as cur:
        cur.execute("CREATE TABLE counts (id integer, n smallint, ratio real)")
    csv = tmp_path / "counts.csv"
    csv.write_text("id,n,ratio\n1,5,0.5\n2,-7,0.25\n2147483647,32767,1.75\n")
    args = ("-target", pg_url, "-target-table", "counts")
    result = data(run_cli, "-source", csv, *args)
    assert result.returncode == 0, result.stderr
    got = pg_rows(pg_url, "SELECT id, n, ratio FROM counts ORDER BY id")
    assert got == [(1, 5, 0.5), (2, -7, 0.25), (2147483647, 32767, 1.75)]
    # A value that does not fit stops the run naming column, value and row; nothing lands.
    bad = tmp_path / "bad.csv"
    bad.write_text("id,n,ratio\n3,1,0.5\n4,40000,0.5\n")
    refused = data(run_cli, "-source", bad, *args)
    assert refused.returncode in (5, 8), refused.stdout + refused.stderr
    assert "column n: value 40000 at row 2" in refused.stderr and "smallint" in refused.stderr
    assert pg_rows(pg_url, "SELECT count(*) FROM counts") == [(3,)]
    # -on-error skip drops only that row.
    skipped = data(run_cli, "-source", bad, *args, "-on-error", "skip", "-fresh")
    assert skipped.returncode == 0, skipped.stderr
    assert pg_rows(pg_url, "SELECT id FROM counts WHERE id > 2 AND id < 5") == [(3,)]


def test_value_not_fitting_existing_duckdb_column_is_refused_by_name(
    run_cli: Any, tmp_path: Path
) -> None:
    target = tmp_path / "t.duckdb"
    with duckdb.connect(str(target)) as conn:
        conn.execute("CREATE TABLE m (id INTEGER, price DECIMAL(6,2), ratio FLOAT)")
    csv = tmp_path / "m.csv"
    csv.write_text("id,price,ratio\n1,12.5,0.5\n2,3.125,0.5\n")
    result = data(run_cli, "-source", csv, "-target", f"duckdb://{target}", "-target-table", "m")
    assert result.returncode in (5, 8), result.stdout + result.stderr
    assert "column price: value 3.125 at row 2" in result.stderr
    assert duck_rows(target, "SELECT count(*) FROM m") == [(0,)]


# --- 6. PostgreSQL type fixes ---------------------------------------------------------------------


def _parquet(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path


@pytest.mark.postgres
def test_duration_nan_signed_zero_inf_and_wide_decimals_round_trip_postgres(
    run_cli: Any, pg_url: str, tmp_path: Path
) -> None:
    from decimal import Decimal

    table = pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "took": pa.array([1_500_000, -2, 0, None], pa.duration("us")),
            "f": pa.array([math.nan, -0.0, math.inf, -math.inf], pa.float64()),
            "d": pa.array(
                [
                    Decimal("1234567890123456789012345678.0123456789"),
                    Decimal("-0.0000000001"),
                    None,
                    Decimal(0),
                ],
                pa.decimal128(38, 10),
            ),
        }
    )
    source = _parquet(tmp_path / "x.parquet", table)
    result = data(run_cli, "-source", source, "-target", pg_url, "-target-table", "x")
    assert result.returncode == 0, result.stderr
    got = pg_rows(pg_url, "SELECT took::text, f::text, d::text FROM x ORDER BY id")
    assert got == [
        ("00:00:01.5", "NaN", "1234567890123456789012345678.0123456789"),
        ("-00:00:00.000002", "-0", "-0.0000000001"),
        ("00:00:00", "Infinity", None),
        (None, "-Infinity", "0.0000000000"),
    ]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("arrow_type", "raw"),
    [(pa.timestamp("ns"), 1_700_000_000_123_456_789), (pa.time64("ns"), 3_600_000_000_001)],
)
def test_sub_microsecond_values_are_refused_never_truncated(
    run_cli: Any, pg_url: str, tmp_path: Path, arrow_type: pa.DataType, raw: int
) -> None:
    whole = raw - raw % 1000
    ok = _parquet(tmp_path / "ok.parquet", pa.table({"t": pa.array([whole], arrow_type)}))
    args = ("-target", pg_url, "-target-table", "ns")
    result = data(run_cli, "-source", ok, *args)
    assert result.returncode == 0, result.stderr
    bad = _parquet(tmp_path / "bad.parquet", pa.table({"t": pa.array([whole, raw], arrow_type)}))
    refused = data(run_cli, "-source", bad, *args)
    assert refused.returncode in (5, 8), refused.stdout + refused.stderr
    assert "column t" in refused.stderr and "not whole microseconds" in refused.stderr
    assert "cast" in refused.stderr and "string" in refused.stderr
    assert pg_rows(pg_url, "SELECT count(*) FROM ns") == [(1,)]


def _fake_server(reply: bytes) -> tuple[int, Any]:
    """A TCP server that answers one StartupMessage with ``reply`` (PostgreSQL protocol 3)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                with conn:
                    conn.recv(4096)
                    conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1], server


def _error_response(sqlstate: str) -> bytes:
    import struct

    body = b"SFATAL\0C" + sqlstate.encode() + b"\0Mthe database system is starting up\0\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


@pytest.mark.parametrize(
    ("sqlstate", "transient"), [("57P03", True), ("53300", True), ("3D000", False)]
)
def test_connect_failure_is_classified_by_the_servers_sqlstate(
    sqlstate: str, transient: bool
) -> None:
    """A restarting server ("starting up", 57P03) or one out of connection slots is retried;
    an unknown database is not. libpq gives no SQLSTATE for a failed connect, so colmig asks
    the server itself."""
    from colmig.backends.postgres.connect import connect
    from colmig.errors import ColmigError, ConnectionFailedError, TransientError

    port, server = _fake_server(_error_response(sqlstate))
    try:
        with pytest.raises(ColmigError) as info:
            connect(parse(f"postgres://u:secret-pw@127.0.0.1:{port}/db?sslmode=disable"))
    finally:
        server.close()
    expected = TransientError if transient else ConnectionFailedError
    assert type(info.value) is expected, info.value
    assert "secret-pw" not in str(info.value) and sqlstate in str(info.value)


def test_sub_microsecond_duration_into_duckdb_interval_is_refused(
    run_cli: Any, tmp_path: Path
) -> None:
    target = f"duckdb://{tmp_path / 'd.duckdb'}"
    ok = _parquet(tmp_path / "ok.parquet", pa.table({"d": pa.array([1000, -5000], "duration[ns]")}))
    assert data(run_cli, "-source", ok, "-target", target, "-target-table", "d").returncode == 0
    bad = _parquet(tmp_path / "bad.parquet", pa.table({"d": pa.array([1], "duration[ns]")}))
    refused = data(run_cli, "-source", bad, "-target", target, "-target-table", "d")
    assert refused.returncode in (5, 8), refused.stdout + refused.stderr
    assert "column d: value 1 nanoseconds" in refused.stderr
    assert "not whole microseconds" in refused.stderr
    got = duck_rows(tmp_path / "d.duckdb", "SELECT d::VARCHAR FROM d ORDER BY d")
    assert got == [("-00:00:00.000005",), ("00:00:00.000001",)]


def test_duckdb_checksum_of_decimal_38_sums_beyond_38_digits_exactly(tmp_path: Path) -> None:
    from decimal import Decimal

    from colmig.backends.base import JobInfo
    from colmig.config import Settings
    from colmig.registry import open_writer

    big = Decimal("9999999999999999999999999999.9999999999")
    values = [big, big, big, -Decimal("0.0000000001"), None]
    target = tmp_path / "w.duckdb"
    with duckdb.connect(str(target)) as conn:
        conn.execute("CREATE TABLE w (d DECIMAL(38,10))")
        conn.executemany("INSERT INTO w VALUES (?)", [(v,) for v in values])
    schema = pa.schema([pa.field("d", pa.decimal128(38, 10))])
    writer = open_writer(f"duckdb://{target}", Settings(table="w"))
    stats = writer.target_stats(schema, JobInfo("j", "r", "x"))
    assert stats is not None
    assert (stats["d"].count, stats["d"].nulls) == (5, 1)
    assert stats["d"].checksum == "29999999999999999999999999999.9999999996"


@pytest.mark.postgres
def test_csv_header_with_a_dot_is_one_column_in_postgres_and_duckdb(
    run_cli: Any, pg_url: str, tmp_path: Path
) -> None:
    csv = tmp_path / "dot.csv"
    csv.write_text("id,temp.c\n1,2.5\n2,-1\n")
    duck = tmp_path / "d.duckdb"
    for target in (pg_url, f"duckdb://{duck}"):
        args = ("-target", target, "-target-table", "dotted", "-partition-on", "id")
        result = data(run_cli, "-source", csv, *args, "-write-mode", "upsert", "-key", "temp.c")
        assert result.returncode == 0, result.stderr
    assert pg_rows(pg_url, 'SELECT id, "temp.c" FROM dotted ORDER BY id') == [(1, 2.5), (2, -1.0)]
    assert duck_rows(duck, 'SELECT id, "temp.c" FROM dotted ORDER BY id') == [(1, 2.5), (2, -1.0)]


@pytest.mark.postgres
def test_digits_below_an_existing_timestamp_precision_are_refused_not_rounded(
    run_cli: Any, pg_url: str, tmp_path: Path
) -> None:
    with pg(pg_url) as cur:
        cur.execute("CREATE TABLE ev (id int, at timestamp(3))")
    ok = tmp_path / "ok.csv"
    ok.write_text("id,at\n1,2024-03-01T10:00:00.123\n")
    args = ("-target", pg_url, "-target-table", "ev")
    assert data(run_cli, "-source", ok, *args).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("id,at\n2,2024-03-01T10:00:00.1234\n")
    refused = data(run_cli, "-source", bad, *args)
    assert refused.returncode in (5, 8), refused.stdout + refused.stderr
    assert "column at: value 2024-03-01 10:00:00.1234" in refused.stderr
    assert "3 fractional-second digits" in refused.stderr
    assert pg_rows(pg_url, "SELECT at::text FROM ev") == [("2024-03-01 10:00:00.123",)]


@pytest.mark.postgres
def test_upsert_without_unique_key_before_postgres_15_deletes_and_inserts(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-MERGE path (PostgreSQL 14 and older), on the real server."""
    from colmig.backends.base import JobInfo, Partition
    from colmig.backends.postgres.writer import PostgresWriter
    from colmig.config import Settings
    from colmig.registry import open_writer

    monkeypatch.setattr(PostgresWriter, "_server_version", lambda self, cur: 140011)
    with pg(pg_url) as cur:
        cur.execute("CREATE TABLE daily (day int, v text)")
        cur.execute("INSERT INTO daily VALUES (1, 'a'), (2, 'b'), (2, 'b-dup')")
    data_table = pa.table({"day": pa.array([2, 3, 3], pa.int32()), "v": ["new", "x", "y"]})
    writer = open_writer(pg_url, Settings(table="daily", write_mode="upsert", key="day"))
    job = JobInfo("j", "r", "x")
    writer.prepare(data_table.schema, job, False)
    writer.write_partition(Partition("p", "all"), data_table.to_batches(), data_table.schema, job)
    writer.close()
    assert pg_rows(pg_url, "SELECT day, v FROM daily ORDER BY day") == [
        (1, "a"),
        (2, "new"),
        (3, "y"),
    ]


def test_data_path_libpq_uri_has_a_connect_timeout_and_encodes_the_password() -> None:
    from urllib.parse import parse_qs, urlsplit

    from colmig.backends.schema_common import CONNECT_TIMEOUT_S

    uri = libpq_uri(parse("postgres://us@r:p@ss:w@db.example:6543/my db?sslmode=require&table=t"))
    parts = urlsplit(uri)
    assert parts.hostname == "db.example" and parts.port == 6543
    assert parts.password == "p%40ss%3Aw" and parts.username == "us%40r"
    query = parse_qs(parts.query)
    assert query["connect_timeout"] == [str(CONNECT_TIMEOUT_S)] and query["sslmode"] == ["require"]
    assert "table" not in query and parts.path == "/my%20db"
    own = libpq_uri(parse("postgres://u:p@h/db?connect_timeout=3"))
    assert parse_qs(urlsplit(own).query)["connect_timeout"] == ["3"]


@pytest.mark.postgres
def test_nul_in_text_is_refused_naming_column_and_row(
    run_cli: Any, pg_url: str, tmp_path: Path
) -> None:
    source = _parquet(tmp_path / "nul.parquet", pa.table({"id": [1, 2], "s": ["ok", "a\x00b"]}))
    refused = data(run_cli, "-source", source, "-target", pg_url, "-target-table", "nul")
    assert refused.returncode in (5, 8), refused.stdout + refused.stderr
    assert "column s: value 'a\\x00b' at row 2" in refused.stderr
    assert "NUL" in refused.stderr
