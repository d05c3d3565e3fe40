"""The transform registry: built-ins, ``@colmig.transform`` functions and entry points.

A custom transform is a function decorated with ``@colmig.transform("name")``. It receives the
arguments written in the config (strings from ``name:a,b``; YAML values from the mapping form)
and returns a function ``pl.Expr -> pl.Expr``::

    @colmig.transform("scale_and_shift")
    def scale_and_shift(factor: str, shift: str = "0"):
        return lambda col: col * float(factor) + float(shift)

Custom transforms are loaded from ``*.py`` files in ``-transforms-dir`` (default
``transforms/``) and from the ``colmig.transforms`` entry-point group.
"""

from __future__ import annotations

import contextvars
import difflib
import hashlib
import importlib.metadata
import importlib.util
import inspect
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colmig.errors import ConfigError

if TYPE_CHECKING:
    from colmig.transforms.context import Built, StepContext
    from colmig.transforms.model import Step

ENTRY_POINT_GROUP = "colmig.transforms"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class TransformSpec:
    """A registered transform.

    ``check(step)`` validates a use's arguments when the config is loaded (no data, no schema);
    ``build(ctx, step)`` compiles it against the input column. ``fallible`` means a null result
    from a non-null input counts as a failed value (routed by -on-error). ``per_row`` marks
    transforms that run Python once per value (slow).
    """

    name: str
    check: Callable[[Step], None]
    build: Callable[[StepContext, Step], Built]
    kind: str  # "built-in" | "custom"
    origin: str
    summary: str
    signature: str
    per_row: bool = False
    fallible: bool = False


_REGISTRY: dict[str, TransformSpec] = {}
_LOADED_FILES: set[str] = set()
_LOADED_ENTRY_POINTS: set[tuple[str, str]] = set()
_origin: contextvars.ContextVar[str | None] = contextvars.ContextVar("colmig_origin", default=None)


def register(spec: TransformSpec) -> None:
    """Add ``spec``; a second definition from another place is a ConfigError."""
    existing = _REGISTRY.get(spec.name)
    if existing is not None and existing.origin != spec.origin:
        what = (
            "a built-in" if existing.kind == "built-in" else f"already defined in {existing.origin}"
        )
        raise ConfigError(f"{spec.origin}: transform name {spec.name!r} is {what}; rename it")
    _REGISTRY[spec.name] = spec


def transform(
    name: str, *, per_row: bool = False, fallible: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a custom transform under ``name`` (use as ``@colmig.transform("name")``).

    The decorated function takes the config's arguments and returns ``pl.Expr -> pl.Expr``.
    Set ``per_row=True`` when it runs Python per value (``map_elements``): it is then listed
    as slow. Set ``fallible=True`` when a null result for a non-null input means the value
    failed, so the row is routed by ``-on-error``.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"custom transform name must be an identifier, got {name!r}")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        origin = _origin.get() or _describe_function(func)
        register(
            TransformSpec(
                name=name,
                check=_custom_checker(name, func),
                build=_custom_builder(name, func),
                kind="custom",
                origin=origin,
                summary=(inspect.getdoc(func) or "").split("\n")[0],
                signature=_signature_text(func),
                per_row=per_row,
                fallible=fallible,
            )
        )
        func.__colmig_transform__ = name  # type: ignore[attr-defined]
        return func

    return decorate


def _describe_function(func: Callable[..., Any]) -> str:
    module = getattr(func, "__module__", "?")
    file = getattr(sys.modules.get(module), "__file__", None)
    return file or f"{module}.{getattr(func, '__qualname__', func)}"


def _signature_text(func: Callable[..., Any]) -> str:
    try:
        return str(inspect.signature(func).replace(return_annotation=inspect.Signature.empty))
    except (TypeError, ValueError):
        return "(...)"


def custom_arguments(step: Step) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and named arguments for a custom transform (``name:a,b`` splits on commas)."""
    if step.text is not None:
        return tuple(part.strip() for part in step.text.split(",")), {}
    return step.args, {str(k): v for k, v in step.kwargs}


def _custom_checker(name: str, func: Callable[..., Any]) -> Callable[[Step], None]:
    def check(step: Step) -> None:
        args, kwargs = custom_arguments(step)
        try:
            inspect.signature(func).bind(*args, **kwargs)
        except TypeError as exc:
            raise step.pos.error(
                f"custom transform {name}{_signature_text(func)} cannot take "
                f"{step.describe()!r}: {exc}"
            ) from None
        except ValueError:  # builtins without a signature: let the call decide
            pass

    return check


def _custom_builder(name: str, func: Callable[..., Any]) -> Callable[[StepContext, Step], Built]:
    def build(ctx: StepContext, step: Step) -> Built:
        import polars as pl

        from colmig.transforms.context import Built

        args, kwargs = custom_arguments(step)
        try:
            expr_fn = func(*args, **kwargs)
            expr = expr_fn(ctx.expr) if callable(expr_fn) else expr_fn
        except ConfigError:
            raise
        except Exception as exc:
            raise ctx.fail(f"custom transform failed: {type(exc).__name__}: {exc}") from None
        if not isinstance(expr, pl.Expr):
            raise ctx.fail(
                f"custom transform must return a function pl.Expr -> pl.Expr "
                f"(got {type(expr).__name__})"
            )
        return Built(expr)

    return build


def get(name: str) -> TransformSpec | None:
    """The transform called ``name`` (built-ins are always present), or None."""
    _ensure_builtins()
    return _REGISTRY.get(name)


def suggest(name: str) -> str | None:
    """The registered name closest to ``name``, for 'did you mean' hints."""
    _ensure_builtins()
    close = difflib.get_close_matches(name, list(_REGISTRY), n=1, cutoff=0.5)
    return close[0] if close else None


def all_transforms() -> list[TransformSpec]:
    """Every registered transform, built-ins first, then custom ones, each sorted by name."""
    _ensure_builtins()
    return sorted(_REGISTRY.values(), key=lambda s: (s.kind != "built-in", s.name))


def names() -> list[str]:
    _ensure_builtins()
    return sorted(_REGISTRY)


def _ensure_builtins() -> None:
    if "unix_to_timestamp" not in _REGISTRY:
        import colmig.transforms.builtins  # noqa: F401 - registers on import


def load_custom(transforms_dir: str | None) -> None:
    """Import custom transforms from ``transforms_dir``/*.py and the entry-point group.

    Idempotent: each file and entry point is imported once per process.
    """
    _ensure_builtins()
    if transforms_dir:
        directory = Path(transforms_dir)
        if directory.is_dir():
            for path in sorted(directory.glob("*.py")):
                _load_file(path.resolve())
    _load_entry_points()


def _load_file(path: Path) -> None:
    key = str(path)
    if key in _LOADED_FILES:
        return
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    module_name = f"colmig_custom_transforms.{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path}: cannot import custom transforms file", file=key)
    module = importlib.util.module_from_spec(spec)
    token = _origin.set(key)
    try:
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except ConfigError:
        sys.modules.pop(module_name, None)
        raise
    except Exception as exc:
        sys.modules.pop(module_name, None)
        line = _line_in(exc, key)
        where = f"{key}:{line}" if line else key
        raise ConfigError(
            f"{where}: cannot load custom transforms: {type(exc).__name__}: {exc}", file=key
        ) from None
    finally:
        _origin.reset(token)
    _LOADED_FILES.add(key)


def _line_in(exc: BaseException, file: str) -> int | None:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == file]
    return frames[-1].lineno if frames else None


def _load_entry_points() -> None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = (ep.name, ep.value)
        if key in _LOADED_ENTRY_POINTS:
            continue
        dist = getattr(getattr(ep, "dist", None), "name", None)
        origin = f"entry point {ep.name} = {ep.value}" + (f" ({dist})" if dist else "")
        token = _origin.set(origin)
        try:
            obj = ep.load()
        except Exception as exc:
            raise ConfigError(
                f"{origin}: cannot load custom transform: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            _origin.reset(token)
        if callable(obj) and not hasattr(obj, "__colmig_transform__"):
            # A plain function named by the entry point: register it under the entry point's name.
            token = _origin.set(origin)
            try:
                transform(ep.name)(obj)
            finally:
                _origin.reset(token)
        _LOADED_ENTRY_POINTS.add(key)
