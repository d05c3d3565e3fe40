"""Example custom transforms, loaded from transforms/*.py (or -transforms-dir).

A custom transform receives the arguments written in the config (``battery_level:15,5`` gives
the strings "15" and "5"; the mapping form ``{battery_level: {low: 15}}`` gives YAML values)
and returns a function from a Polars expression to a Polars expression. It runs vectorized,
as fast as a built-in, unless it needs per-row Python (then mark it ``per_row=True``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import polars as pl

import colmig


@colmig.transform("battery_level")
def battery_level(low: str = "20", critical: str = "5") -> Callable[[pl.Expr], pl.Expr]:
    """Battery percentage -> 'ok', 'low' or 'critical' (null stays null)."""
    low_pct, critical_pct = float(low), float(critical)

    def apply(battery: pl.Expr) -> pl.Expr:
        return (
            pl.when(battery.is_null())
            .then(None)
            .when(battery < critical_pct)
            .then(pl.lit("critical"))
            .when(battery < low_pct)
            .then(pl.lit("low"))
            .otherwise(pl.lit("ok"))
        )

    return apply


@colmig.transform("sensor_crc32", per_row=True)
def sensor_crc32() -> Callable[[pl.Expr], pl.Expr]:
    """Stable 32-bit key of a sensor id (zlib.crc32), computed in Python per value: slow."""
    return lambda sensor_id: sensor_id.map_elements(
        lambda text: zlib.crc32(text.encode("utf-8")), return_dtype=pl.Int64
    )
