"""Transform mode: YAML transformations compiled once to a vectorized Polars plan.

The data engine uses four names::

    config = load_config(path, settings)            # parse + validate, no data
    compiled = compile_transformation(t, schema, settings)
    rows, rejects = compiled.apply(batch)           # per Arrow batch
    before, after = preview(compiled, sample)       # -dry-run

See docs/transforms.md for the YAML reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from colmig.transforms.compiler import REJECT_REASON, CompiledTransform, compile_transformation
    from colmig.transforms.dryrun import preview, render_preview
    from colmig.transforms.loader import load_config, parse_config
    from colmig.transforms.model import Transformation, TransformConfig
    from colmig.transforms.registry import transform

__all__ = [
    "REJECT_REASON",
    "CompiledTransform",
    "TransformConfig",
    "Transformation",
    "compile_transformation",
    "load_config",
    "parse_config",
    "preview",
    "render_preview",
    "transform",
]

_WHERE = {
    "REJECT_REASON": "compiler",
    "CompiledTransform": "compiler",
    "compile_transformation": "compiler",
    "load_config": "loader",
    "parse_config": "loader",
    "TransformConfig": "model",
    "Transformation": "model",
    "preview": "dryrun",
    "render_preview": "dryrun",
    "transform": "registry",
}


def __getattr__(name: str) -> Any:
    # Lazy, so `import colmig.transforms.registry` (for @colmig.transform) stays light.
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"colmig.transforms.{module}"), name)
