"""Benchmark (issue 4): CSV -> PostgreSQL and PostgreSQL -> Parquet, colmig vs the usual tools.

    python bench/generate.py && python bench/csv_to_postgres.py
    python bench/csv_to_postgres.py --rows 200000           # a quick smoke run

Starts the test suite's throwaway PostgreSQL 15 (tests/servers.py: initdb on a random port,
fsync off) and loads the archive into one pre-created table (the same DDL for everyone,
truncated before each run):

* CSV -> PostgreSQL: colmig (``-workers`` N) vs ``psql \\copy`` per file (N at a time) vs a
  hand-written ADBC ``adbc_ingest`` of ``pyarrow.csv.open_csv`` batches (N threads, binary COPY)
  vs pgloader (skipped when not installed);
* PostgreSQL -> Parquet: colmig vs ADBC ``fetch_record_batch`` streamed into a
  ``pyarrow.parquet.ParquetWriter`` vs connectorx ``read_sql(return_type="arrow")`` over
  timestamp ranges of about a million rows (each split N ways) + ParquetWriter.

Peak RSS is the client's process tree; the server's memory is not counted for anyone.
"""

from __future__ import annotations

import shutil

import common

LOAD = "CSV files -> PostgreSQL"
DUMP = "PostgreSQL -> Parquet (zstd)"
DATABASE = "bench"
TABLE = "readings"
DDL = (
    f'CREATE TABLE {TABLE} ("timestamp" timestamptz, sensor_id text, site text, metric text, '
    "value double precision, unit text, quality double precision, battery double precision)"
)
ROWS_PER_CX_CHUNK = 1_000_000


# --- baselines: each runs in a fresh interpreter through common.pycall ------------------------


def adbc_ingest(uri: str, table: str, files: list[str], threads: int) -> None:
    """pyarrow's streaming CSV reader into ADBC bulk ingest (binary COPY), a file per task."""
    from concurrent.futures import ThreadPoolExecutor

    import adbc_driver_postgresql.dbapi as pg
    import pyarrow as pa
    import pyarrow.csv as pacsv

    floats = {name: pa.float64() for name in ("value", "quality", "battery")}
    convert = pacsv.ConvertOptions(column_types={"timestamp": pa.timestamp("s", "UTC"), **floats})

    def load(path: str) -> None:
        with pg.connect(uri) as conn, conn.cursor() as cur:
            cur.adbc_ingest(table, pacsv.open_csv(path, convert_options=convert), mode="append")
            conn.commit()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(load, files))


def adbc_to_parquet(uri: str, table: str, out: str) -> None:
    """One ADBC query streamed batch by batch into a ParquetWriter."""
    import adbc_driver_postgresql.dbapi as pg
    import pyarrow.parquet as pq

    with pg.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {table}")
        reader = cur.fetch_record_batch()
        with pq.ParquetWriter(f"{out}/data.parquet", reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch)


def connectorx_to_parquet(uri: str, table: str, out: str, threads: int) -> None:
    """connectorx over time ranges of about a million rows (bounded memory), each range read
    as ``threads`` sub-range queries in parallel (connectorx's partition_on needs a number
    column; a list of queries is its way to split on a timestamp)."""
    import itertools

    import connectorx as cx
    import pyarrow.parquet as pq

    epoch = 'extract(epoch FROM {}("timestamp"))::bigint'
    bounds = cx.read_sql(
        uri,
        f"SELECT {epoch.format('min')} AS lo, {epoch.format('max')} AS hi, count(*) AS n "
        f"FROM {table}",
        return_type="arrow",
    ).to_pylist()[0]
    lo, hi, n = int(bounds["lo"]), int(bounds["hi"]) + 1, int(bounds["n"])
    pieces = max(1, -(-n // ROWS_PER_CX_CHUNK)) * threads
    edges = [lo + (hi - lo) * i // pieces for i in range(pieces)] + [hi]
    queries = [
        f'SELECT * FROM {table} WHERE "timestamp" >= to_timestamp({a}) '
        f'AND "timestamp" < to_timestamp({b})'
        for a, b in itertools.pairwise(edges)
    ]
    writer = None
    try:
        for first in range(0, len(queries), threads):
            part = cx.read_sql(uri, queries[first : first + threads], return_type="arrow")
            if writer is None:
                writer = pq.ParquetWriter(f"{out}/data.parquet", part.schema, compression="zstd")
            writer.write_table(part.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()


# pgloader's own defaults (it loads several files at once). Setting "workers = N, concurrency = 1"
# made pgloader 3.6.7 hang forever with 500,000-row files.
PGLOADER_TEMPLATE = """LOAD CSV
     FROM ALL FILENAMES MATCHING ~/\\.csv$/ IN DIRECTORY '{csv_dir}'
          HAVING FIELDS ("timestamp", sensor_id, site, metric, value [null if blanks],
                         unit, quality, battery)
     INTO {url}
          TARGET TABLE {table}
          TARGET COLUMNS ("timestamp", sensor_id, site, metric, value, unit, quality, battery)
     WITH skip header = 1,
          fields terminated by ',';
"""


# --- the run -------------------------------------------------------------------------------


def main() -> None:
    args = common.parser(__doc__.splitlines()[0]).parse_args()
    bench = common.setup(args)
    server = common.start_postgres()
    try:
        run(bench, server)
    finally:
        server.stop()
    common.report(
        bench,
        args,
        "CSV <-> PostgreSQL",
        [
            common.Goal(LOAD, "colmig", 1.0, common.GiB, reference="ADBC adbc_ingest"),
            common.Goal(DUMP, "colmig", 1.0, 300 * common.MB, reference="ADBC -> ParquetWriter"),
        ],
    )


def run(bench: common.Bench, server: object) -> None:
    """All contenders against the running ``server``."""
    server.create_database(DATABASE)  # type: ignore[attr-defined]
    user, password, port = server.user, server.password, server.port  # type: ignore[attr-defined]
    url = f"postgresql://{user}:{password}@127.0.0.1:{port}/{DATABASE}"
    rows, threads = bench.rows, bench.workers

    def sql(statement: str) -> str:
        return server.admin_sql(statement, database=DATABASE)  # type: ignore[attr-defined]

    def count() -> int:
        return int(sql(f"SELECT count(*) FROM {TABLE}").strip())

    def recreate() -> None:
        sql(f"DROP TABLE IF EXISTS {TABLE}; {DDL}; CHECKPOINT")

    def load(name: str, cmd: list[str], *, baseline: bool = True, **kw: object) -> common.Result:
        return common.run(
            bench, LOAD, name, cmd, rows=rows, baseline=baseline, before=recreate, verify=count,
            **kw,  # type: ignore[arg-type]
        )  # fmt: skip

    print(f"\n{LOAD}")
    state = bench.root / "run" / "colmig-state"
    shutil.rmtree(state, ignore_errors=True)
    load_args = [
        "-mode", "data", "-source", f"file://{bench.csv_dir}", "-target", url,
        "-target-table", TABLE, "-workers", threads, "-batch-size", 100_000,
        "-progress", "none", "-state-dir", state / "load", "-fresh",
    ]  # fmt: skip
    load("colmig", common.colmig_cmd(*load_args), baseline=False)
    listing = bench.root / "run" / "files.txt"
    listing.parent.mkdir(parents=True, exist_ok=True)
    listing.write_text("".join(f"{p}\n" for p in bench.csv_files), encoding="utf-8")
    copy = f"\\copy {TABLE} FROM '{{}}' WITH (FORMAT csv, HEADER true)"
    psql = shutil.which("psql") or f"{server.bindir}/psql"  # type: ignore[attr-defined]
    load(
        "psql \\copy",
        ["xargs", "-a", str(listing), "-P", str(threads), "-I{}",
         psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port),
         "-U", user, "-d", DATABASE, "-c", copy],
        env={"PGPASSWORD": password},
    )  # fmt: skip
    files = [str(p) for p in bench.csv_files]
    ingest = common.pycall("csv_to_postgres", "adbc_ingest", url, TABLE, files, threads)
    load("ADBC adbc_ingest", ingest)
    pgloader = shutil.which("pgloader")
    if pgloader is None:
        common.skip(bench, LOAD, "pgloader", "pgloader not installed")
    else:
        command = bench.root / "run" / "load.pgloader"
        command.write_text(
            PGLOADER_TEMPLATE.format(csv_dir=bench.csv_dir, url=url, table=TABLE),
            encoding="utf-8",
        )
        root_dir = bench.root / "run" / "pgloader-root"
        # pgloader is known to hang now and then; a run gets 2 minutes per million rows at most.
        limit = min(bench.timeout, max(300.0, rows / 1e6 * 120))
        cmd = [pgloader, "--root-dir", str(root_dir), "--on-error-stop", str(command)]
        load("pgloader", cmd, timeout=limit)

    if count() != rows:  # the table must be full for the dump, whoever loaded it last
        recreate()
        common.measure(
            ingest,
            cwd=bench.scratch("reload"), env=bench.env(), timeout=bench.timeout,
        )  # fmt: skip
        if count() != rows:
            raise SystemExit(f"could not load {rows:,} rows into {TABLE} for the dump")
    # A time-series table is indexed on time; range-splitting readers (connectorx, colmig) need it
    # to avoid a full scan per range. Built after the loads so no loader pays for it.
    sql(f'CREATE INDEX IF NOT EXISTS {TABLE}_timestamp ON {TABLE} ("timestamp")')
    sql(f"VACUUM ANALYZE {TABLE}")
    sql("CHECKPOINT")

    print(f"\n{DUMP}")

    def dump(name: str, slug: str, make: object, *, baseline: bool = True) -> None:
        out = bench.output(slug)
        common.run(
            bench, DUMP, name, make(out), rows=rows, baseline=baseline, output=out,  # type: ignore[operator]
            verify=lambda: common.parquet_rows(out),
        )  # fmt: skip

    dump_args = [
        "-mode", "data", "-source", url, "-table", TABLE, "-target-format", "parquet",
        "-workers", threads, "-progress", "none", "-state-dir", state / "dump", "-fresh",
    ]  # fmt: skip
    dump(
        "colmig",
        "pg-colmig",
        lambda out: common.colmig_cmd(*dump_args, "-target", f"file://{out}"),
        baseline=False,
    )
    dump(
        "ADBC -> ParquetWriter",
        "pg-adbc",
        lambda out: common.pycall("csv_to_postgres", "adbc_to_parquet", url, TABLE, str(out)),
    )
    dump(
        "connectorx -> ParquetWriter",
        "pg-connectorx",
        lambda out: common.pycall(
            "csv_to_postgres", "connectorx_to_parquet", url, TABLE, str(out), threads
        ),
    )


if __name__ == "__main__":
    main()
