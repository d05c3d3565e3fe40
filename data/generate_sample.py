"""Generate the small, deterministic IoT sample archive in data/sample/.

Two sites, three sensors each (temperature every 10 s, humidity every 30 s, pressure every
60 s), two UTC days, one CSV file per site per day; the second day is gzip-compressed. The data
has diurnal cycles, noise, slowly draining batteries, the odd low-quality reading, a few empty
values and one short sensor outage. Same seed, same bytes: ``python data/generate_sample.py``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

SEED = 20240301
DAYS = ("2024-03-01", "2024-03-02")
SECONDS_PER_DAY = 86_400
COLUMNS = ("timestamp", "sensor_id", "site", "metric", "value", "unit", "quality", "battery")


@dataclass(frozen=True)
class Site:
    name: str
    prefix: str
    mean_temp: float  # degC
    temp_swing: float  # half the day-night difference, degC
    mean_humidity: float  # %RH
    mean_pressure: float  # hPa


@dataclass(frozen=True)
class Sensor:
    metric: str
    unit: str
    cadence_s: int
    suffix: str
    decimals: int


SITES = (
    Site("plant-a", "pa", mean_temp=21.0, temp_swing=3.5, mean_humidity=45.0, mean_pressure=1013.0),
    Site("field-b", "fb", mean_temp=9.0, temp_swing=6.0, mean_humidity=70.0, mean_pressure=1004.0),
)
SENSORS = (
    Sensor("temperature", "degC", 10, "t01", 2),
    Sensor("humidity", "%RH", 30, "h01", 1),
    Sensor("pressure", "hPa", 60, "p01", 2),
)


def _smooth_noise(rng: np.random.Generator, n: int, scale: float, keep: float = 0.98) -> np.ndarray:
    """AR(1) noise (slow wander with standard deviation ``scale``), so consecutive readings
    look like one physical sensor rather than independent draws."""
    shocks = rng.normal(0.0, scale * np.sqrt(1 - keep**2), n)
    out = np.empty(n)
    carry = rng.normal(0.0, scale)
    block = 1_000  # keep**block stays far from underflow
    for start in range(0, n, block):
        chunk = shocks[start : start + block]
        powers = keep ** np.arange(len(chunk))
        # x[k] = keep**(k+1) * carry + sum_j<=k keep**(k-j) * chunk[j]
        out[start : start + len(chunk)] = powers * (keep * carry + np.cumsum(chunk / powers))
        carry = out[start + len(chunk) - 1]
    return out


def _day_fraction(seconds: np.ndarray) -> np.ndarray:
    return (seconds % SECONDS_PER_DAY) / SECONDS_PER_DAY


def _values(
    rng: np.random.Generator, site: Site, sensor: Sensor, seconds: np.ndarray
) -> np.ndarray:
    """Plausible readings: temperature peaks mid-afternoon, humidity mirrors it, pressure has
    the semi-diurnal tide on top of a slow weather drift."""
    n = len(seconds)
    phase = 2 * np.pi * _day_fraction(seconds)
    # Coldest around 05:00, warmest around 15:00 local (UTC here).
    daily = -np.cos(phase - 2 * np.pi * 5 / 24)
    if sensor.metric == "temperature":
        value = site.mean_temp + site.temp_swing * daily + _smooth_noise(rng, n, 0.6)
        value += rng.normal(0, 0.05, n)
    elif sensor.metric == "humidity":
        value = site.mean_humidity - 2.2 * site.temp_swing * daily + _smooth_noise(rng, n, 3.0)
        value = np.clip(value + rng.normal(0, 0.3, n), 5.0, 100.0)
    else:
        tide = 0.9 * np.cos(2 * phase - 2 * np.pi * 10 / 24)
        weather = np.linspace(0, rng.normal(0, 4), n)
        value = site.mean_pressure + tide + weather + _smooth_noise(rng, n, 0.3, keep=0.995)
        value += rng.normal(0, 0.05, n)
    return np.round(value, sensor.decimals)


def _series(rng: np.random.Generator, site: Site, sensor: Sensor) -> pa.Table:
    """All readings of one sensor over all days (continuous drift, noise and battery)."""
    seconds = np.arange(0, len(DAYS) * SECONDS_PER_DAY, sensor.cadence_s, dtype=np.int64)
    # Loggers are not metronomes: 0-1 s of jitter, never reordering readings.
    seconds = seconds + rng.integers(0, 2, len(seconds))
    n = len(seconds)
    value = _values(rng, site, sensor, seconds)

    quality = np.round(np.clip(rng.beta(40, 1.2, n), 0, 1), 3)
    bad = rng.random(n) < 0.004
    quality[bad] = np.round(rng.uniform(0.1, 0.6, bad.sum()), 3)
    missing = rng.random(n) < 0.0015
    quality[missing] = 0.0

    drain_per_s = rng.uniform(1.5, 4.0) / SECONDS_PER_DAY  # percent per second
    battery = rng.uniform(82, 98) - drain_per_s * seconds + rng.normal(0, 0.15, n)
    battery = np.round(np.clip(battery, 0, 100), 1)

    keep = np.ones(n, dtype=bool)
    if site.prefix == "fb" and sensor.metric == "humidity":
        # A 40-minute outage on day two: the gap is part of the sample on purpose.
        outage = SECONDS_PER_DAY + 13 * 3600
        keep = ~((seconds >= outage) & (seconds < outage + 40 * 60))

    base = np.datetime64(f"{DAYS[0]}T00:00:00", "s")
    timestamps = pa.array(base + seconds.astype("timedelta64[s]"), pa.timestamp("s", tz="UTC"))
    table = pa.table(
        {
            "timestamp": timestamps,
            "sensor_id": pa.array(np.full(n, f"{site.prefix}-{sensor.suffix}")),
            "site": pa.array(np.full(n, site.name)),
            "metric": pa.array(np.full(n, sensor.metric)),
            "value": pa.array(value, mask=missing),
            "unit": pa.array(np.full(n, sensor.unit)),
            "quality": pa.array(quality),
            "battery": pa.array(battery),
        }
    )
    return table.filter(pa.array(keep))


def _site_table(seed: int, site_index: int) -> pa.Table:
    site = SITES[site_index]
    parts = [
        _series(np.random.default_rng([seed, site_index, sensor_index]), site, sensor)
        for sensor_index, sensor in enumerate(SENSORS)
    ]
    return pa.concat_tables(parts).sort_by([("timestamp", "ascending"), ("sensor_id", "ascending")])


def _write_csv(table: pa.Table, path: Path) -> None:
    iso = pc.strftime(table["timestamp"], format="%Y-%m-%dT%H:%M:%SZ")
    table = table.set_column(0, "timestamp", iso)
    # Arrow quotes header names; a plain header is what loggers write.
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    compression = "gzip" if path.suffix == ".gz" else None
    with pa.output_stream(path, compression=compression) as out:
        out.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(table, out, write_options=options)


def generate(out_dir: Path, seed: int = SEED) -> list[Path]:
    """Write the sample files into ``out_dir`` and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for site_index, site in enumerate(SITES):
        table = _site_table(seed, site_index)
        day_of = pc.cast(pc.strftime(table["timestamp"], format="%Y-%m-%d"), pa.string())
        for day_index, day in enumerate(DAYS):
            suffix = ".csv.gz" if day_index == 1 else ".csv"
            path = out_dir / f"{day}_{site.name}{suffix}"
            _write_csv(table.filter(pc.equal(day_of, day)), path)
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "sample")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    for path in generate(args.out, args.seed):
        print(f"{path}  {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
