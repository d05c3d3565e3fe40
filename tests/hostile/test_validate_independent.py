"""-validate re-reads the source without colmig's reader: a reader broken on purpose (in the
CLI's own processes, through a sitecustomize the test puts on PYTHONPATH) loses rows or a
column, the target agrees with the broken reader, and -validate still says exit 6, naming
the column."""

from __future__ import annotations

import csv
import json
import os
import textwrap
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO_ROOT

#: Patches colmig's files reader in every process of the run (coordinator and workers).
BREAK_READER = """
import os

_how = os.environ.get("COLMIG_TEST_BREAK_READER")
if _how:
    import pyarrow as pa
    from colmig.backends.files import reader as _reader

    _read = _reader.FileReader.read
    _schema = _reader.FileReader.schema

    def read(self, partition, batch_rows):
        batches = list(_read(self, partition, batch_rows))
        if _how == "drop-last-row" and batches:
            last = batches[-1]
            batches[-1] = last.slice(0, last.num_rows - 1)
        if _how == "drop-column":
            batches = [b.drop_columns(["late"]) if "late" in b.schema.names else b for b in batches]
        yield from batches

    def schema(self):
        full = _schema(self)
        if _how == "drop-column" and "late" in full.names:
            return full.remove(full.get_field_index("late"))
        return full

    _reader.FileReader.read = read
    _reader.FileReader.schema = schema

    if _how == "drop-last-db-row":
        from colmig.backends import sql_reader as _sql

        _sql_read = _sql.SqlReader.read

        def sql_read(self, partition, batch_rows):
            batches = [b for b in _sql_read(self, partition, batch_rows) if b.num_rows]
            if batches:
                batches[-1] = batches[-1].slice(0, batches[-1].num_rows - 1)
            yield from batches

        _sql.SqlReader.read = sql_read
"""


def _broken_env(tmp_path: Path, how: str) -> dict[str, str | None]:
    hooks = tmp_path / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(textwrap.dedent(BREAK_READER))
    return {
        "PYTHONPATH": os.pathsep.join([str(hooks), str(REPO_ROOT)]),
        "COLMIG_TEST_BREAK_READER": how,
    }


def _csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "name", "value"])
        for i in range(rows):
            out.writerow([i, f"sensor-{i % 7}", f"{i * 0.5}"])


def _run(run_cli, tmp_path: Path, source: str, target: str, env=None):  # type: ignore[no-untyped-def]
    return run_cli(
        "-mode", "data", "-source", source, "-target", target, "-validate", "-progress", "none",
        cwd=tmp_path, env=env,
    )  # fmt: skip


@pytest.mark.parametrize("target", ["parquet", "duckdb"])
def test_a_reader_that_drops_the_last_row_fails_validation(run_cli, tmp_path: Path, target):  # type: ignore[no-untyped-def]
    _csv(tmp_path / "readings.csv", 500)
    url = "file://./out" if target == "parquet" else f"duckdb://{tmp_path / 't.duckdb'}"
    env = _broken_env(tmp_path, "drop-last-row")
    broken = _run(run_cli, tmp_path, "file://./readings.csv", url, env)
    assert broken.returncode == 6, broken.stdout + broken.stderr
    assert "499 rows written" in broken.stdout  # the summary says what is committed
    # Per file where the target isolates partitions (files), else for the whole source.
    where = "readings.csv (DuckDB read_csv)" if target == "parquet" else "whole source (DuckDB"
    assert where in broken.stderr
    assert "rows      500 -> 499" in broken.stderr, broken.stderr


def test_the_same_run_without_the_break_validates(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _csv(tmp_path / "readings.csv", 500)
    ok = _run(run_cli, tmp_path, "file://./readings.csv", "file://./out")
    assert ok.returncode == 0, ok.stderr
    assert (
        "source recomputed by DuckDB read_csv file by file (1 file(s), 500 rows)"
        " matches the target: OK"
    ) in ok.stdout


def test_a_reader_that_drops_a_late_json_key_fails_validation(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with (tmp_path / "events.jsonl").open("w") as handle:
        for i in range(3000):
            row = {"id": i, "kind": "tick"}
            if i >= 2500:
                row["late"] = i * 3
            handle.write(json.dumps(row) + "\n")
    broken = _run(
        run_cli, tmp_path, "file://./events.jsonl", "file://./out",
        _broken_env(tmp_path, "drop-column"),
    )  # fmt: skip
    assert broken.returncode == 6, broken.stdout + broken.stderr
    assert "3,000 rows written" in broken.stdout
    line = next(x for x in broken.stderr.splitlines() if " late " in x)
    assert "DuckDB read_json" in line and "present -> missing" in line


def _from_table(run_cli, tmp_path: Path, url: str, env=None):  # type: ignore[no-untyped-def]
    out = "file://./out-broken" if env else "file://./out"
    return run_cli(
        "-mode", "data", "-source", url, "-table", "readings",
        "-target", out, "-validate", "-progress", "none", cwd=tmp_path, env=env,
    )  # fmt: skip


def test_a_duckdb_source_is_checked_by_sql_aggregates(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "src.duckdb"
    with duckdb.connect(str(source)) as con:
        con.execute(
            "CREATE TABLE readings AS SELECT i AS id, 'x' || i AS name, i / 3 AS value"
            " FROM range(1000) t(i)"
        )
    ok = _from_table(run_cli, tmp_path, f"duckdb://{source}")
    assert ok.returncode == 0, ok.stderr
    assert "SQL aggregates in the duckdb source (1,000 rows) matches the target: OK" in ok.stdout
    broken = _from_table(
        run_cli, tmp_path, f"duckdb://{source}", _broken_env(tmp_path, "drop-last-db-row")
    )
    assert broken.returncode == 6, broken.stdout + broken.stderr
    assert "999 rows written" in broken.stdout
    assert "SQL aggregates in the duckdb source" in broken.stderr and "1000 -> 999" in broken.stderr


def test_a_postgres_source_is_checked_by_sql_aggregates(
    run_cli, tmp_path: Path, pg_url: str
) -> None:  # type: ignore[no-untyped-def]
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE readings AS SELECT i AS id, 'x' || i AS name,"
            " (i / 3.0)::numeric(12,4) AS value, now() - i * interval '1 minute' AS at,"
            " 'ab'::char(5) AS code, gen_random_uuid() AS u, ('{\"a\": ' || i || '}')::jsonb AS j,"
            " decode('00ff', 'hex') AS raw, i % 2 = 0 AS even"
            " FROM generate_series(1, 500) i"
        )
        conn.commit()
    ok = _from_table(run_cli, tmp_path, pg_url)
    assert ok.returncode == 0, ok.stderr
    assert "SQL aggregates in the postgres source (500 rows) matches the target: OK" in ok.stdout
    broken = _from_table(run_cli, tmp_path, pg_url, _broken_env(tmp_path, "drop-last-db-row"))
    assert broken.returncode == 6, broken.stdout + broken.stderr
    assert (
        "SQL aggregates in the postgres source" in broken.stderr and "500 -> 499" in broken.stderr
    )


def test_declared_text_stays_text_in_the_independent_read(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "codes.csv").write_text("id,code\n1,007\n2,010\n3,\n")
    result = run_cli(
        "-mode", "data", "-source", "file://./codes.csv", "-target", "file://./out",
        "-column-type", "code=string", "-validate", "-progress", "none", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "DuckDB read_csv file by file (1 file(s), 3 rows) matches the target: OK" in result.stdout
    )
    assert "not checked" not in result.stdout


def test_headerless_csv_is_reread_by_position(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "raw.csv").write_text("1,a,0.5\n2,b,1.5\n3,,2.5\n")
    result = run_cli(
        "-mode", "data", "-source", "file://./raw.csv", "-target", "file://./out",
        "-no-header", "-validate", "-progress", "none", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "DuckDB read_csv file by file (1 file(s), 3 rows) matches the target: OK" in result.stdout
    )
    assert "not checked" not in result.stdout


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_big_numbers_are_compared_exactly_not_as_doubles(run_cli, tmp_path: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    big = "9" * 38
    if fmt == "jsonl":
        (tmp_path / "n.jsonl").write_text(f'{{"id": 1, "n": {big}}}\n{{"id": 2, "n": 1}}\n')
    else:
        (tmp_path / "n.csv").write_text(f"id,n\n1,{big}\n2,1\n")
    result = run_cli(
        "-mode", "data", "-source", f"file://./n.{fmt}", "-target", "file://./out",
        "-validate", "-progress", "none", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rows) matches the target: OK" in result.stdout


def test_the_file_that_lost_a_row_is_named(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    _csv(tmp_path / "in" / "a.csv", 300)
    _csv(tmp_path / "in" / "b.csv", 200)
    env = _broken_env(tmp_path, "drop-last-row")
    broken = _run(run_cli, tmp_path, "file://./in", "file://./out", env)
    assert broken.returncode == 6, broken.stdout + broken.stderr
    lines = [x for x in broken.stderr.splitlines() if "(DuckDB read_csv)" in x and " rows " in x]
    assert any("a.csv" in x and "300 -> 299" in x for x in lines), broken.stderr
    assert any("b.csv" in x and "200 -> 199" in x for x in lines), broken.stderr


TRANSFORM = """\
version: "1.0"
transformations:
  - name: "upgrade"
    mappings:
      - source: "id"
      - source: "value"
        target: "measurement"
        transform: "float_precision:2"
    filters:
      - field: "value"
        operator: ">="
        value: 10
"""


def test_the_same_transformation_runs_over_the_independent_read(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _csv(tmp_path / "readings.csv", 400)
    (tmp_path / "t.yaml").write_text(TRANSFORM)

    def run(env=None, out="file://./out"):  # type: ignore[no-untyped-def]
        return run_cli(
            "-mode", "transform", "-transform-config", "t.yaml", "-source",
            "file://./readings.csv", "-target", out, "-validate", "-progress", "none",
            cwd=tmp_path, env=env,
        )  # fmt: skip

    ok = run()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "380 rows written" in ok.stdout  # value = i / 2 >= 10 keeps i >= 20
    assert "DuckDB read_csv file by file (1 file(s), 380 rows) matches the target" in ok.stdout
    broken = run(_broken_env(tmp_path, "drop-last-row"), "file://./out-broken")
    assert broken.returncode == 6, broken.stdout + broken.stderr
    assert "rows      380 -> 379" in broken.stderr
