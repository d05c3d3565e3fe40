"""Generate the benchmark archive: a seeded IoT time series as 20 CSV files.

Layout under ``--out`` (default ``bench/.data``)::

    rows-<N>/csv/part-00.csv ... part-19.csv             the archive, ISO 8601 UTC timestamps
    rows-<N>/sensor_data_v1/part-00.csv ... part-19.csv  the same rows, epoch-second timestamps
    rows-<N>/manifest.json                               counts and sums outputs are checked by

Columns as in ``data/sample``. The archive in ``csv/`` (files and database benchmarks) has
ISO timestamps like ``data/sample``, so every tool sees a real time column (``day(timestamp)``
partitioning needs one). ``sensor_data_v1/`` is the spec's v1 table for the transform
benchmark: ``transforms/v2_upgrade.yaml`` applies ``unix_to_timestamp`` to epoch seconds.

100 sensors at 5 sites report at a steady cadence over 30 UTC days; each file is a consecutive
36-hour slice, so a day's rows span two files. Same seed and row count, same bytes. Fully
vectorized (numpy + Arrow); 10 million rows take well under a minute.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

SEED = 20240301
DEFAULT_ROWS = 10_000_000
FILES = 20
DAYS = 30
START = 1_709_251_200  # 2024-03-01T00:00:00Z
SECONDS_PER_DAY = 86_400
TABLE = "sensor_data_v1"
QUALITY_CUTOFF = 0.8  # the filter in transforms/v2_upgrade.yaml
COLUMNS = ("timestamp", "sensor_id", "site", "metric", "value", "unit", "quality", "battery")
DEFAULT_OUT = Path(__file__).resolve().parent / ".data"

SITES = ("plant-a", "field-b", "depot-c", "lab-d", "roof-e")
# metric, unit, sensors per site, mean, day-night half swing, noise, decimals
METRICS = (
    ("temperature", "degC", 8, 18.0, 4.0, 0.6, 2),
    ("humidity", "%RH", 6, 55.0, -9.0, 2.5, 1),
    ("pressure", "hPa", 4, 1010.0, 0.9, 0.4, 2),
    ("co2", "ppm", 2, 520.0, 80.0, 25.0, 0),
)


@dataclass(frozen=True)
class Sensors:
    """One entry per sensor (100 in all), as parallel arrays."""

    sensor_id: pa.Array
    site: pa.Array
    metric: pa.Array
    unit: pa.Array
    mean: np.ndarray
    swing: np.ndarray
    noise: np.ndarray
    decimals: np.ndarray
    battery_start: np.ndarray
    drain_per_s: np.ndarray

    def __len__(self) -> int:
        return len(self.mean)


def sensors(seed: int) -> Sensors:
    """The fixed sensor fleet; site offsets make sites distinguishable."""
    rng = np.random.default_rng([seed, 999])
    ids, sites, metrics, units = [], [], [], []
    mean, swing, noise, decimals = [], [], [], []
    for site_index, site in enumerate(SITES):
        prefix = "".join(part[0] for part in site.split("-")) + str(site_index)
        for metric, unit, count, base, half_swing, sigma, digits in METRICS:
            for k in range(count):
                ids.append(f"{prefix}-{metric[:3]}{k + 1:02d}")
                sites.append(site)
                metrics.append(metric)
                units.append(unit)
                mean.append(base + rng.normal(0, abs(half_swing) * 0.5 + sigma))
                swing.append(half_swing * rng.uniform(0.6, 1.4))
                noise.append(sigma)
                decimals.append(digits)
    n = len(ids)
    return Sensors(
        sensor_id=pa.array(ids),
        site=pa.array(sites),
        metric=pa.array(metrics),
        unit=pa.array(units),
        mean=np.array(mean),
        swing=np.array(swing),
        noise=np.array(noise),
        decimals=np.array(decimals),
        battery_start=rng.uniform(85, 100, n),
        drain_per_s=rng.uniform(0.3, 1.5, n) / SECONDS_PER_DAY,
    )


def _round_per_row(values: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    scale = 10.0**decimals
    return np.round(values * scale) / scale


def file_table(fleet: Sensors, seed: int, index: int, rows: int) -> pa.Table:
    """Rows of file ``index``: every sensor at each tick of the file's 36-hour slice."""
    rng = np.random.default_rng([seed, index])
    span = DAYS * SECONDS_PER_DAY // FILES
    n_sensors = len(fleet)
    ticks = -(-rows // n_sensors)
    tick = np.repeat(np.arange(ticks, dtype=np.int64), n_sensors)[:rows]
    sensor = np.tile(np.arange(n_sensors), ticks)[:rows]
    # Loggers are not metronomes: up to 1 s of jitter on a steady cadence.
    offset = (tick * span) // ticks + rng.integers(0, 2, rows)
    seconds = index * span + offset
    phase = 2 * np.pi * (seconds % SECONDS_PER_DAY) / SECONDS_PER_DAY
    daily = -np.cos(phase - 2 * np.pi * 5 / 24)  # coldest near 05:00 UTC
    raw = (
        fleet.mean[sensor]
        + fleet.swing[sensor] * daily
        + rng.normal(0, 1, rows) * fleet.noise[sensor]
    )
    value = _round_per_row(raw, fleet.decimals[sensor])
    quality = np.round(np.clip(1.0 - rng.exponential(0.08, rows), 0.0, 1.0), 3)
    missing = rng.random(rows) < 0.001
    quality[missing] = 0.0
    battery = fleet.battery_start[sensor] - fleet.drain_per_s[sensor] * seconds
    battery = np.round(np.clip(battery + rng.normal(0, 0.15, rows), 0, 100), 1)
    take = pa.array(sensor)
    return pa.table(
        {
            "timestamp": pa.array(START + seconds),
            "sensor_id": fleet.sensor_id.take(take),
            "site": fleet.site.take(take),
            "metric": fleet.metric.take(take),
            "value": pa.array(value, mask=missing),
            "unit": fleet.unit.take(take),
            "quality": pa.array(quality),
            "battery": pa.array(battery),
        }
    )


def write_csv(table: pa.Table, path: Path) -> None:
    """Plain CSV as loggers write it: unquoted header and values, empty for null."""
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with pa.OSFile(str(path), "wb") as out:
        out.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(table, out, write_options=options)


def data_root(out: Path, rows: int) -> Path:
    """Directory of one generated data set (archive, manifest, benchmark outputs)."""
    return out / f"rows-{rows}"


def iso_timestamps(table: pa.Table) -> pa.Table:
    """The same rows with ``timestamp`` as ISO 8601 UTC text (``2024-03-01T00:00:01Z``)."""
    # cast to text is ~20x faster than strftime: "2024-03-01 00:00:01" -> "2024-03-01T00:00:01Z"
    text = table["timestamp"].cast(pa.timestamp("s")).cast(pa.string())
    iso = pc.binary_join_element_wise(
        pc.replace_substring(text, " ", "T", max_replacements=1), "Z", ""
    )
    return table.set_column(0, "timestamp", iso)


def generate(out: Path, rows: int = DEFAULT_ROWS, seed: int = SEED) -> dict[str, object]:
    """Write both copies of the archive for ``rows`` rows and return their manifest."""
    root = data_root(out, rows)
    csv_dir, v1_dir = root / "csv", root / TABLE
    for directory in (csv_dir, v1_dir):
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.csv"):
            stale.unlink()
    fleet = sensors(seed)
    per_file = [rows // FILES + (1 if i < rows % FILES else 0) for i in range(FILES)]
    kept, kept_value, kept_seconds = 0, 0.0, 0
    days: dict[str, int] = {}
    files = []
    for index, count in enumerate(per_file):
        table = file_table(fleet, seed, index, count)
        name = f"part-{index:02d}.csv"
        write_csv(table, v1_dir / name)
        write_csv(iso_timestamps(table), csv_dir / name)
        files.append({"name": name, "rows": count, "bytes": (csv_dir / name).stat().st_size})
        passed = table.filter(pc.greater_equal(table["quality"], QUALITY_CUTOFF))
        kept += passed.num_rows
        kept_value += pc.sum(passed["value"]).as_py() or 0.0
        kept_seconds += pc.sum(passed["timestamp"]).as_py() or 0
        day = pc.divide(table["timestamp"], SECONDS_PER_DAY)
        for entry in pc.value_counts(day).to_pylist():
            key = str(np.datetime64(int(entry["values"]), "D"))
            days[key] = days.get(key, 0) + entry["counts"]
    manifest: dict[str, object] = {
        "rows": rows,
        "seed": seed,
        "csv_dir": str(csv_dir),  # ISO 8601 timestamps
        "v1_dir": str(v1_dir),  # epoch seconds: the spec's sensor_data_v1
        "files": files,
        "bytes": sum(int(f["bytes"]) for f in files),
        "rows_quality_ge_0_8": kept,
        # sums over those rows, to check a transform's output beyond its row count
        "sum_value_quality_ge_0_8": kept_value,
        "sum_timestamp_quality_ge_0_8": kept_seconds,
        "rows_per_day": dict(sorted(days.items())),
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def load_manifest(out: Path, rows: int) -> dict[str, object] | None:
    """The manifest of an existing, complete data set, or None."""
    path = data_root(out, rows) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    dirs = [Path(manifest.get(key, "")) for key in ("csv_dir", "v1_dir")]
    complete = all((d / f["name"]).is_file() for d in dirs for f in manifest["files"])
    return manifest if complete and manifest["rows"] == rows else None


def ensure(out: Path, rows: int, seed: int = SEED) -> dict[str, object]:
    """Reuse the data set when it exists with the same seed, else generate it."""
    manifest = load_manifest(out, rows)
    if manifest is not None and manifest["seed"] == seed:
        return manifest
    started = time.perf_counter()
    print(f"generating {rows:,} rows into {data_root(out, rows)} ...", file=sys.stderr)
    manifest = generate(out, rows, seed)
    print(f"generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="root of the data sets")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    if args.rows < FILES:
        parser.error(f"--rows must be at least {FILES}")
    started = time.perf_counter()
    manifest = generate(args.out.resolve(), args.rows, args.seed)
    print(
        f"{manifest['rows']:,} rows, {len(manifest['files'])} files, "  # type: ignore[arg-type]
        f"{int(manifest['bytes']) / 2**20:,.0f} MiB each in {manifest['csv_dir']} "  # type: ignore[call-overload]
        f"and {manifest['v1_dir']} "
        f"({time.perf_counter() - started:.1f} s)"
    )


if __name__ == "__main__":
    main()
