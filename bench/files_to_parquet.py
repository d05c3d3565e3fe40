"""Benchmark (issue 3): the CSV archive to zstd Parquet, colmig against DuckDB, Polars, pyarrow.

    python bench/generate.py && python bench/files_to_parquet.py
    python bench/files_to_parquet.py --rows 200000          # a quick smoke run

Two sections, each contender in its own child process:

* single output: colmig (``-workers`` = cores) vs DuckDB ``COPY (SELECT * FROM read_csv(...))
  TO ... (FORMAT parquet, COMPRESSION zstd)`` vs Polars ``scan_csv().sink_parquet()``;
* partitioned by UTC day (hive layout): colmig ``-partition-by 'day(timestamp)'`` vs
  ``pyarrow.dataset.write_dataset`` vs DuckDB ``PARTITION_BY`` vs Polars ``PartitionBy``.

Every output's row count (from the Parquet footers) must equal the archive's.
"""

from __future__ import annotations

from pathlib import Path

import common

SINGLE = "CSV files -> Parquet (zstd)"
PARTITIONED = "CSV files -> Parquet partitioned by day (zstd)"


# --- baselines: each runs in a fresh interpreter through common.pycall ------------------------


def duckdb_copy(csv_glob: str, out: str, threads: int) -> None:
    """DuckDB's own CSV reader and Parquet writer, one statement."""
    import duckdb

    con = duckdb.connect(config={"threads": threads})
    con.execute(
        f"COPY (SELECT * FROM read_csv('{csv_glob}')) TO '{out}/data.parquet' "
        "(FORMAT parquet, COMPRESSION zstd)"
    )


def polars_sink(csv_glob: str, out: str) -> None:
    """Polars' streaming engine (threads from POLARS_MAX_THREADS)."""
    import polars as pl

    pl.scan_csv(csv_glob, try_parse_dates=True).sink_parquet(
        f"{out}/data.parquet", compression="zstd"
    )


def pyarrow_partitioned(csv_dir: str, out: str, threads: int) -> None:
    """pyarrow.dataset: scan the CSVs, add the UTC day, write hive partitions."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    pa.set_cpu_count(threads)
    source = ds.dataset(csv_dir, format="csv")
    columns = {name: ds.field(name) for name in source.schema.names}
    columns["day"] = ds.field("timestamp").cast(pa.date32())  # inferred as timestamp[s, UTC]
    scanner = source.scanner(columns=columns)
    ds.write_dataset(
        scanner,
        out,
        format="parquet",
        partitioning=["day"],
        partitioning_flavor="hive",
        file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
        existing_data_behavior="overwrite_or_ignore",
    )


def duckdb_partitioned(csv_glob: str, out: str, threads: int) -> None:
    """DuckDB COPY ... PARTITION_BY on the UTC day."""
    import duckdb

    con = duckdb.connect(config={"threads": threads})
    # TIMESTAMPTZ -> TIMESTAMP gives the UTC wall time without the icu extension (not bundled).
    con.execute(
        'COPY (SELECT *, CAST(CAST("timestamp" AS TIMESTAMP) AS DATE) AS day '
        f"FROM read_csv('{csv_glob}')) TO '{out}' "
        "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day), OVERWRITE_OR_IGNORE)"
    )


def polars_partitioned(csv_glob: str, out: str) -> None:
    """Polars sink_parquet with PartitionBy on the UTC day (unstable API in Polars)."""
    import polars as pl

    day = pl.col("timestamp").dt.date().alias("day")
    pl.scan_csv(csv_glob, try_parse_dates=True).sink_parquet(
        pl.PartitionBy(out, key=[day], include_key=False), compression="zstd", mkdir=True
    )


# --- the run -------------------------------------------------------------------------------


def colmig(bench: common.Bench, name: str, out: Path, *extra: str) -> list[str]:
    state = bench.root / "run" / name / ".colmig"
    return common.colmig_cmd(
        "-mode", "data",
        "-source", f"file://{bench.csv_dir}",
        "-target", f"file://{out}",
        "-target-format", "parquet",
        "-compression", "zstd",
        "-workers", bench.workers,
        "-batch-size", 100_000,
        "-progress", "none",
        "-state-dir", state,
        "-fresh",
        *extra,
    )  # fmt: skip


def main() -> None:
    args = common.parser(__doc__.splitlines()[0]).parse_args()
    bench = common.setup(args)
    rows, threads, glob, csv_dir = bench.rows, bench.workers, bench.csv_glob, str(bench.csv_dir)

    per_day = bench.manifest["rows_per_day"]

    def contender(section: str, name: str, cmd: list[str], out: Path, baseline: bool) -> None:
        if section == PARTITIONED:
            verify = lambda: common.parquet_rows_by_day(out, per_day)  # noqa: E731
        else:
            verify = lambda: common.parquet_rows(out)  # noqa: E731
        common.run(
            bench, section, name, cmd, rows=rows, baseline=baseline, output=out, verify=verify
        )

    print(f"\n{SINGLE}")
    out = bench.output("colmig")
    contender(SINGLE, "colmig", colmig(bench, "colmig", out), out, False)
    out = bench.output("duckdb")
    cmd = common.pycall("files_to_parquet", "duckdb_copy", glob, str(out), threads)
    contender(SINGLE, "DuckDB COPY", cmd, out, True)
    out = bench.output("polars")
    cmd = common.pycall("files_to_parquet", "polars_sink", glob, str(out))
    contender(SINGLE, "Polars sink_parquet", cmd, out, True)

    print(f"\n{PARTITIONED}")
    name = "colmig -partition-by day(timestamp)"
    out = bench.output("colmig-day")
    cmd = colmig(bench, "colmig-day", out, "-partition-by", "day(timestamp)")
    contender(PARTITIONED, name, cmd, out, False)
    out = bench.output("pyarrow-day")
    cmd = common.pycall("files_to_parquet", "pyarrow_partitioned", csv_dir, str(out), threads)
    contender(PARTITIONED, "pyarrow write_dataset", cmd, out, True)
    out = bench.output("duckdb-day")
    cmd = common.pycall("files_to_parquet", "duckdb_partitioned", glob, str(out), threads)
    contender(PARTITIONED, "DuckDB COPY PARTITION_BY", cmd, out, True)
    out = bench.output("polars-day")
    cmd = common.pycall("files_to_parquet", "polars_partitioned", glob, str(out))
    contender(PARTITIONED, "Polars PartitionBy", cmd, out, True)

    common.report(
        bench,
        args,
        "files -> Parquet",
        [
            common.Goal(SINGLE, "colmig", 1.0, common.GiB),
            common.Goal(PARTITIONED, name, 1.0, common.GiB),
        ],
    )


if __name__ == "__main__":
    main()
