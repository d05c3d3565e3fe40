"""colmig: schema migrations and columnar data migrations for time-series data."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "transform"]


def __getattr__(name: str) -> object:
    # `@colmig.transform("name")` without importing polars for every CLI start.
    if name == "transform":
        from colmig.transforms.registry import transform

        return transform
    raise AttributeError(name)
