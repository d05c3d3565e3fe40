"""Smoke tests: every server fixture really serves, and per-test databases are isolated."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from colmig.urls import parse
from tests import conftest
from tests.servers import (
    DB_PASSWORD,
    MariaDBServer,
    MosquittoServer,
    PostgresServer,
    S3Server,
    ServerUnavailable,
    which_or_unavailable,
)


def _pg_connect(url: str) -> Any:
    import adbc_driver_postgresql.dbapi as pg

    return pg.connect(url.replace("postgres://", "postgresql://", 1))


def _pg_roundtrip(url: str, table: str, value: int) -> list[tuple]:
    with _pg_connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name text)")
        cur.execute(f"INSERT INTO {table} VALUES ({value}, 'v{value}')")
        conn.commit()
        cur.execute(f"SELECT id, name FROM {table}")
        return cur.fetchall()


def _mysql_connect(url: str) -> Any:
    import pymysql

    parts = parse(url)
    return pymysql.connect(
        host=parts.host,
        port=parts.port,
        user=parts.username,
        password=parts.password,
        database=parts.database,
        autocommit=True,
    )


def test_pg_url_has_password_and_fresh_database(pg_url: str) -> None:
    parts = parse(pg_url)
    assert parts.scheme == "postgres"
    assert parts.host == "127.0.0.1"
    assert parts.password == DB_PASSWORD
    assert DB_PASSWORD not in parts.redacted
    assert _pg_roundtrip(pg_url, "t", 1) == [(1, "v1")]


def test_pg_databases_are_isolated(pg_server: PostgresServer, pg_url: str) -> None:
    other = pg_server.create_database("colmig_isolation_probe")
    try:
        assert _pg_roundtrip(pg_url, "shared_name", 1) == [(1, "v1")]
        assert _pg_roundtrip(other, "shared_name", 2) == [(2, "v2")]
    finally:
        pg_server.drop_database("colmig_isolation_probe")


def test_pg_rejects_a_wrong_password(pg_url: str) -> None:
    wrong = pg_url.replace(DB_PASSWORD, "wrong-password")
    with pytest.raises(Exception, match=r"(?i)password"):
        _pg_connect(wrong).close()


def test_mariadb_url_has_password_and_fresh_database(mariadb_url: str) -> None:
    parts = parse(mariadb_url)
    assert parts.scheme == "mysql"
    assert parts.password == DB_PASSWORD
    with _mysql_connect(mariadb_url) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert cur.fetchall() == ()
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))")
        cur.execute("INSERT INTO t VALUES (1, 'héllo')")
        cur.execute("SELECT id, name FROM t")
        assert cur.fetchall() == ((1, "héllo"),)


def test_mariadb_databases_are_isolated(mariadb_server: MariaDBServer, mariadb_url: str) -> None:
    other = mariadb_server.create_database("colmig_isolation_probe")
    try:
        with _mysql_connect(mariadb_url) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE shared_name (id INT)")
            cur.execute("INSERT INTO shared_name VALUES (1), (2)")
        with _mysql_connect(other) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE shared_name (id INT)")
            cur.execute("SELECT COUNT(*) FROM shared_name")
            assert cur.fetchone() == (0,)
    finally:
        mariadb_server.drop_database("colmig_isolation_probe")


def test_s3_bucket_is_fresh_and_s3fs_uses_the_env(s3_bucket: str, s3_server: S3Server) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    assert fs.ls(s3_bucket) == []
    with fs.open(f"{s3_bucket}/dir/hello.txt", "wb") as out:
        out.write(b"hello")
    assert fs.cat(f"{s3_bucket}/dir/hello.txt") == b"hello"
    keys = s3_server.client().list_objects_v2(Bucket=s3_bucket.removeprefix("s3://"))
    assert [o["Key"] for o in keys["Contents"]] == ["dir/hello.txt"]


def test_s3_buckets_are_distinct(s3_bucket: str, s3_server: S3Server) -> None:
    other = s3_server.create_bucket("colmig-other-bucket-probe")
    assert other != s3_bucket


def test_mosquitto_accepts_an_mqtt_connect(mosquitto_server: MosquittoServer) -> None:
    # A minimal MQTT 3.1.1 CONNECT packet; the broker must answer CONNACK with return code 0.
    client_id = b"colmig-smoke"
    variable = b"\x00\x04MQTT\x04\x02\x00\x3c"
    payload = len(client_id).to_bytes(2, "big") + client_id
    body = variable + payload
    packet = b"\x10" + bytes([len(body)]) + body
    with socket.create_connection((mosquitto_server.host, mosquitto_server.port), 5) as sock:
        sock.sendall(packet)
        assert sock.recv(4) == b"\x20\x02\x00\x00"
    assert urlsplit(mosquitto_server.url).port == mosquitto_server.port


def test_sqlite_and_duckdb_urls_are_absolute_temp_paths(
    sqlite_url: str, duckdb_url: str, tmp_path: Path
) -> None:
    assert sqlite_url.startswith("sqlite:///")
    assert duckdb_url.startswith("duckdb:///")
    assert Path(parse(sqlite_url).path).parent == tmp_path
    assert Path(parse(duckdb_url).path).parent == tmp_path


def test_run_cli_runs_the_real_command(run_cli: conftest.RunCli) -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert "-source" in result.stdout


def _missing_server() -> PostgresServer:
    raise ServerUnavailable("nosuchd is not installed")


def test_a_missing_binary_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLMIG_REQUIRE_SERVERS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="nosuchd is not installed"):
        conftest._start(_missing_server)


def test_a_missing_binary_fails_when_servers_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLMIG_REQUIRE_SERVERS", "1")
    with pytest.raises(pytest.fail.Exception, match="COLMIG_REQUIRE_SERVERS=1 but nosuchd"):
        conftest._start(_missing_server)


def test_which_or_unavailable_names_the_install_script() -> None:
    with pytest.raises(ServerUnavailable, match="install-test-deps"):
        which_or_unavailable("colmig-no-such-binary")


def test_server_fixtures_add_markers(request: pytest.FixtureRequest, pg_url: str) -> None:
    assert request.node.get_closest_marker("postgres") is not None
