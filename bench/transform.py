"""Benchmark (issue 5): the spec's example transform, colmig vs hand-written Polars and DuckDB.

    python bench/generate.py && python bench/transform.py
    python bench/transform.py --rows 200000                 # a quick smoke run

The pipeline is ``transforms/v2_upgrade.yaml`` exactly as the spec writes it (including its
``batch_size: 5000``): keep rows with ``quality >= 0.8``, ``timestamp`` (epoch seconds) ->
``recorded_at`` (timestamp[us, UTC]), ``value`` -> ``measurement`` rounded to 2 decimals (half
away from zero), nothing else kept; written as zstd Parquet. The hand-written versions:

* Polars: ``scan_csv`` -> filter -> select(from_epoch, round) -> ``sink_parquet``;
* DuckDB: ``COPY (SELECT to_timestamp(timestamp), round(value, 2) FROM read_csv(...)
  WHERE quality >= 0.8) TO ... (FORMAT parquet, COMPRESSION zstd)``.

Every output must hold exactly the archive's rows with ``quality >= 0.8`` (from the manifest).
"""

from __future__ import annotations

from pathlib import Path

import common

SECTION = "transform v2_upgrade.yaml: CSV files -> Parquet (zstd)"
CONFIG = common.REPO / "transforms" / "v2_upgrade.yaml"


# --- baselines: each runs in a fresh interpreter through common.pycall ------------------------


def polars_pipeline(csv_glob: str, out: str) -> None:
    """The transform as one Polars streaming plan."""
    import polars as pl

    (
        pl.scan_csv(csv_glob)
        .filter(pl.col("quality") >= 0.8)
        .select(
            pl.from_epoch("timestamp", time_unit="s")
            .dt.replace_time_zone("UTC")
            .alias("recorded_at"),
            pl.col("value")
            .cast(pl.Float64)
            .round(2, mode="half_away_from_zero")
            .alias("measurement"),
        )
        .sink_parquet(f"{out}/data.parquet", compression="zstd")
    )


def duckdb_pipeline(csv_glob: str, out: str, threads: int) -> None:
    """The transform as one DuckDB statement (round() on DOUBLE rounds half away from zero)."""
    import duckdb

    con = duckdb.connect(config={"threads": threads})
    con.execute(
        'COPY (SELECT to_timestamp("timestamp") AS recorded_at, '
        "round(CAST(value AS DOUBLE), 2) AS measurement "
        f"FROM read_csv('{csv_glob}') WHERE quality >= 0.8) "
        f"TO '{out}/data.parquet' (FORMAT parquet, COMPRESSION zstd)"
    )


def check_output(out: Path, manifest: dict[str, object]) -> int:
    """Row count of the output after checking its columns and their sums against the
    manifest (a wrong value raises)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    files = [p for p in out.rglob("*.parquet") if not p.name.startswith((".", "_"))]
    table = ds.dataset(files, format="parquet").to_table(columns=["recorded_at", "measurement"])
    kind = table.schema.field("recorded_at").type
    if not pa.types.is_timestamp(kind) or kind.tz not in ("UTC", "+00:00", "Etc/UTC"):
        raise ValueError(f"recorded_at is {kind}, expected a UTC timestamp")
    epoch = table["recorded_at"].cast(pa.timestamp("s", tz=kind.tz)).cast(pa.int64())
    seconds = pc.sum(epoch).as_py() or 0
    if seconds != manifest["sum_timestamp_quality_ge_0_8"]:
        want_s = manifest["sum_timestamp_quality_ge_0_8"]
        raise ValueError(f"sum of recorded_at (epoch s) {seconds} != {want_s}")
    total = pc.sum(table["measurement"]).as_py() or 0.0
    want = float(manifest["sum_value_quality_ge_0_8"])  # type: ignore[arg-type]
    if abs(total - want) > 1e-6 * max(1.0, abs(want)):
        raise ValueError(f"sum of measurement {total} != {want}")
    return table.num_rows


# --- the run -------------------------------------------------------------------------------


def main() -> None:
    args = common.parser(__doc__.splitlines()[0]).parse_args()
    bench = common.setup(args)
    expected = int(bench.manifest["rows_quality_ge_0_8"])
    print(f"source: {bench.v1_dir} (epoch-second timestamps)")
    print(f"\n{SECTION} ({expected:,} of {bench.rows:,} rows pass the filter)")

    def contender(name: str, slug: str, cmd: list[str], out: Path, baseline: bool) -> None:
        common.run(
            bench, SECTION, name, cmd, rows=expected, baseline=baseline, output=out,
            verify=lambda: check_output(out, bench.manifest),
        )  # fmt: skip

    out = bench.output("transform-colmig")
    colmig_args = [
        "-mode", "transform", "-source", f"file://{bench.v1_dir}",
        "-target", f"file://{out}", "-target-format", "parquet",
        "-transform-config", CONFIG, "-workers", bench.workers, "-progress", "none",
        "-state-dir", bench.root / "run" / "transform-colmig-state", "-fresh",
    ]  # fmt: skip
    contender("colmig", "colmig", common.colmig_cmd(*colmig_args), out, False)
    out = bench.output("transform-polars")
    cmd = common.pycall("transform", "polars_pipeline", bench.v1_glob, str(out))
    contender("Polars (hand-written)", "polars", cmd, out, True)
    out = bench.output("transform-duckdb")
    cmd = common.pycall("transform", "duckdb_pipeline", bench.v1_glob, str(out), bench.workers)
    contender("DuckDB SQL (hand-written)", "duckdb", cmd, out, True)

    common.report(bench, args, "transform", [common.Goal(SECTION, "colmig", 1.1, common.GiB)])


if __name__ == "__main__":
    main()
