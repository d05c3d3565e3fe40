"""URL parsing for every scheme colmig knows, and password / secret redaction."""

from __future__ import annotations

import pytest

from colmig.errors import EXIT_CONFIG, ConfigError
from colmig.urls import add_secret, canonical, parse, redact, redact_secrets, scheme_of


def test_postgres_url_parts() -> None:
    url = parse("postgres://alice:p%40ss@db.example:5433/tsiot?sslmode=disable")
    assert url.scheme == "postgres"
    assert url.username == "alice"
    assert url.password == "p@ss"
    assert url.host == "db.example"
    assert url.port == 5433
    assert url.database == "tsiot"
    assert url.query == {"sslmode": "disable"}


def test_postgres_url_without_credentials_or_port() -> None:
    url = parse("postgresql://localhost/tsiot")
    assert url.scheme == "postgresql"
    assert (url.username, url.password, url.port) == (None, None, None)
    assert url.host == "localhost"
    assert url.database == "tsiot"


def test_mysql_url_parts() -> None:
    url = parse("mysql://root:pw@127.0.0.1:3306/metrics")
    assert (url.scheme, url.username, url.password) == ("mysql", "root", "pw")
    assert (url.host, url.port, url.database) == ("127.0.0.1", 3306, "metrics")


def test_ipv6_host() -> None:
    url = parse("postgres://u:pw@[::1]:5432/db")
    assert (url.host, url.port) == ("::1", 5432)


@pytest.mark.parametrize(
    ("text", "scheme", "path"),
    [
        ("sqlite:///abs/dir/app.db", "sqlite", "/abs/dir/app.db"),
        ("sqlite://rel/dir/app.db", "sqlite", "rel/dir/app.db"),
        ("duckdb:///abs/ts.duckdb", "duckdb", "/abs/ts.duckdb"),
        ("duckdb://ts.duckdb", "duckdb", "ts.duckdb"),
        ("sqlite://:memory:", "sqlite", ":memory:"),
        ("file:///data/timeseries", "file", "/data/timeseries"),
        ("file://./data/timeseries", "file", "./data/timeseries"),
        ("./data/x.csv", "file", "./data/x.csv"),
        ("/abs/data/x.parquet", "file", "/abs/data/x.parquet"),
        ("file:///data/with%20space", "file", "/data/with space"),
    ],
)
def test_local_paths(text: str, scheme: str, path: str) -> None:
    url = parse(text)
    assert url.scheme == scheme
    assert url.path == path
    assert url.host is None


def test_s3_url_bucket_and_key() -> None:
    url = parse("s3://mybucket/tsiot-data/2024/part-0.parquet?region=eu-west-1")
    assert url.scheme == "s3"
    assert url.host == "mybucket"
    assert url.path == "/tsiot-data/2024/part-0.parquet"
    assert url.query == {"region": "eu-west-1"}


def test_scheme_is_lower_cased_and_bare_paths_are_files() -> None:
    assert scheme_of("POSTGRES://h/db") == "postgres"
    assert scheme_of("data/x.csv") == "file"


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_url_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert info.value.exit_code == EXIT_CONFIG


def test_malformed_url_error_hides_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        parse("postgres://u:hunter2-pw@h:notaport/db")
    assert "hunter2-pw" not in str(info.value)
    assert "notaport" in str(info.value)


def test_str_and_repr_never_show_the_password() -> None:
    url = parse("postgres://u:hunter2-pw@h/db")
    assert "hunter2-pw" not in str(url)
    assert "hunter2-pw" not in repr(url)
    assert url.redacted == "postgres://u:***@h/db"
    assert url.raw.endswith("hunter2-pw@h/db")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgres://u:pw@h:5432/db", "postgres://u:***@h:5432/db"),
        ("mysql://root:pw@127.0.0.1/x", "mysql://root:***@127.0.0.1/x"),
        ("failed: postgres://u:p@ss@h/db (timeout)", "failed: postgres://u:***@h/db (timeout)"),
        ("postgres://u:s3cr/et@h/db", "postgres://u:***@h/db"),
        ("postgres://u:ab#cd@h/db", "postgres://u:***@h/db"),
        ("mysql://a:x@h/d and postgres://b:y@k/e", "mysql://a:***@h/d and postgres://b:***@k/e"),
        ("postgres://u@h/db", "postgres://u@h/db"),
        ("postgres://h:5432/db", "postgres://h:5432/db"),
        ("sqlite:///abs/app.db", "sqlite:///abs/app.db"),
    ],
)
def test_redact_passwords(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "key", ["password", "PASSWORD", "token", "secret", "aws_secret_access_key", "sas_token"]
)
def test_redact_secret_query_values(key: str) -> None:
    text = f"s3://bucket/key?region=eu&{key}=TopSecretValue&x=1"
    redacted = redact(text)
    assert "TopSecretValue" not in redacted
    assert "region=eu" in redacted
    assert redacted.endswith("&x=1")


def test_redact_secrets_strips_remembered_values_anywhere() -> None:
    add_secret("remembered-s3cret")
    assert redact_secrets("token is remembered-s3cret.") == "token is ***."
    assert "remembered" not in redact_secrets("a postgres://u:remembered-s3cret@h/db")


def test_hive_key_column_in_a_path_stays_visible() -> None:
    text = "cannot write /data/out/key=3/part-0.parquet and s3://b/p/key=a/x.parquet"
    assert redact(text) == text


@pytest.mark.parametrize(
    "param",
    ["password", "secret", "token", "sig", "sas_token", "aws_secret_access_key", "AccountKey"],
)
def test_secret_parameters_are_redacted_by_structure(param: str) -> None:
    text = (
        f"az://c/p/key=visible/x?{param}=Top-Secret-Value&bucket_key=visible;{param}=Other-Secret"
    )
    redacted = redact(text)
    assert "Top-Secret-Value" not in redacted and "Other-Secret" not in redacted
    assert "/key=visible/" in redacted and "bucket_key=visible" in redacted


def test_a_storage_access_key_id_is_redacted_as_a_query_parameter() -> None:
    redacted = redact("s3://lake/p/key=3/part.parquet?key=AKIAEXAMPLE&secret=s3cr3t")
    assert "AKIAEXAMPLE" not in redacted and "s3cr3t" not in redacted
    assert "/key=3/" in redacted


def test_a_parsed_password_is_redacted_wherever_a_driver_echoes_it() -> None:
    # An unencoded "@" makes libpq split the user info elsewhere and echo a piece of it.
    parse("postgres://colmig:pa@ss-w0rd-tail@127.0.0.1:5432/db")
    assert "ss-w0rd-tail" not in redact_secrets('could not translate host name "ss-w0rd-tail"')
    assert "pa@ss-w0rd-tail" not in redact_secrets("password pa@ss-w0rd-tail rejected")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("file:///tmp/colmig-x/data", "/tmp/colmig-x/data/"),
        ("file:///tmp/colmig-x/data", "file://./data"),
        ("/tmp/colmig-x/data", "./sub/../data"),
        ("sqlite:///tmp/colmig-x/a.db", "sqlite://a.db"),
        ("duckdb:///tmp/colmig-x/a.duckdb", "duckdb://./a.duckdb"),
        ("postgres://u:pw@db.example:5432/x", "postgresql://u:other@DB.Example/x"),
        ("postgres://u@h/x", "postgres://u@h/x?sslmode=disable&connect_timeout=5"),
        ("postgres://u@h/x", "postgres://u@h/x?application_name=etl&password=p"),
        ("mysql://u@h:3306/x", "mariadb://u@h/x"),
        ("s3://bucket/prefix/", "s3a://bucket/prefix"),
        ("s3://b/p?region=eu&endpoint_url=http://e", "s3://b/p?endpoint_url=http://e&region=eu"),
    ],
)
def test_canonical_equivalent_spellings(a: str, b: str) -> None:
    assert canonical(a, cwd="/tmp/colmig-x") == canonical(b, cwd="/tmp/colmig-x")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("file:///tmp/x/data", "file:///tmp/x/data2"),
        ("postgres://alice@h/x", "postgres://bob@h/x"),
        ("postgres://u@h/x", "postgres://u@h:5433/x"),
        ("postgres://u@h/x", "postgres://u@h/y"),
        ("postgres://u@h/x?table=a", "postgres://u@h/x?table=b"),
        ("s3://b/p?format=csv", "s3://b/p"),
        ("sqlite:///tmp/a.db", "duckdb:///tmp/a.db"),
    ],
)
def test_canonical_keeps_what_changes_the_data(a: str, b: str) -> None:
    assert canonical(a, cwd="/tmp") != canonical(b, cwd="/tmp")


def test_canonical_never_holds_the_password() -> None:
    assert "hunter2" not in canonical("postgres://u:hunter2@h/x?password=hunter2")
