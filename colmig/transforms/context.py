"""What a transform builder sees (:class:`StepContext`) and returns (:class:`Built`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from colmig.config import Settings
    from colmig.errors import ConfigError
    from colmig.transforms.model import Pos


@dataclass(frozen=True)
class Built:
    """A compiled step: the output expression, and whether a null result means failure."""

    expr: pl.Expr
    fallible: bool = False


@dataclass(frozen=True)
class StepContext:
    """The input of one step: its expression, its Polars type and where it is in the YAML."""

    expr: pl.Expr
    dtype: pl.DataType
    pos: Pos
    column: str
    transform: str
    settings: Settings | None = None

    def fail(self, message: str) -> ConfigError:
        """A ConfigError at this step's position naming the transform and column."""
        return self.pos.error(f"{self.transform} on column {self.column!r}: {message}")

    def require(self, ok: bool, wanted: str) -> None:
        """Raise unless ``ok``: the column's type is not one this transform can convert."""
        if not ok:
            raise self.fail(f"needs {wanted}, but the column is {type_name(self.dtype)}")

    @property
    def is_numeric(self) -> bool:
        return self.dtype.is_numeric()

    @property
    def is_string(self) -> bool:
        return self.dtype == pl.String or isinstance(self.dtype, pl.Categorical | pl.Enum)

    @property
    def is_datetime(self) -> bool:
        return isinstance(self.dtype, pl.Datetime)

    @property
    def is_float(self) -> bool:
        return self.dtype.is_float()


def type_name(dtype: Any) -> str:
    """A short, user-facing name for a Polars type."""
    if isinstance(dtype, pl.Datetime):
        unit = dtype.time_unit
        return f"timestamp[{unit}, {dtype.time_zone}]" if dtype.time_zone else f"timestamp[{unit}]"
    names = {
        pl.String: "string",
        pl.Float64: "float64",
        pl.Float32: "float32",
        pl.Boolean: "boolean",
        pl.Date: "date",
    }
    for key, value in names.items():
        if dtype == key:
            return value
    return str(dtype).lower()
