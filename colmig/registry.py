"""One registry from URL scheme to backend module, imported lazily.

A backend module may define any of three factory functions; the engine and the schema runner
only ever call them through this registry:

``open_schema_target(url: URL, settings: Settings) -> SchemaTarget``
``open_reader(url: URL, settings: Settings) -> Reader``
``open_writer(url: URL, settings: Settings) -> Writer``

Third-party backends register through the ``colmig.backends`` entry-point group, whose entry
names are schemes and whose values are module paths.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

from colmig.errors import BackendNotFoundError, ConfigError
from colmig.urls import URL, parse

if TYPE_CHECKING:
    from colmig.backends.base import Reader, SchemaTarget, Writer
    from colmig.config import Settings


@dataclass(frozen=True)
class BackendEntry:
    module: str
    install_hint: str
    #: Top-level modules of the extra that the backend imports lazily (when it connects):
    #: checked before the backend is used, so a missing extra is a configuration error with
    #: the install command, not a failure half-way through a run.
    drivers: tuple[str, ...] = ()


_BUILTIN: dict[str, BackendEntry] = {}


def _add(schemes: tuple[str, ...], module: str, extra: str, drivers: tuple[str, ...] = ()) -> None:
    hint = f"pip install 'colmig[{extra}]'" if extra else "(part of colmig's core install)"
    for scheme in schemes:
        _BUILTIN[scheme] = BackendEntry(module, hint, drivers)


_add(
    ("postgres", "postgresql", "timescale", "timescaledb"),
    "colmig.backends.postgres",
    "postgres",
    ("adbc_driver_postgresql", "adbc_driver_manager"),
)
_add(("mysql", "mariadb"), "colmig.backends.mysql", "mysql", ("pymysql", "connectorx"))
_add(("sqlite", "sqlite3"), "colmig.backends.sqlite", "")
_add(("duckdb",), "colmig.backends.duckdb", "")
_add(("file",), "colmig.backends.files", "")
_add(("s3", "s3a"), "colmig.backends.files", "s3", ("s3fs",))
_add(("gs", "gcs"), "colmig.backends.files", "gcs", ("gcsfs",))
_add(("az", "abfs", "abfss"), "colmig.backends.files", "azure", ("adlfs",))
_add(("memory",), "colmig.backends.files", "")
#: Every driver module some extra provides: a ModuleNotFoundError naming one of them, wherever
#: it is raised, means that extra is not installed.
_DRIVER_MODULES = {name for entry in _BUILTIN.values() for name in entry.drivers}


def schemes() -> list[str]:
    """Every scheme colmig knows, built in or from entry points."""
    return sorted(set(_BUILTIN) | set(_entry_point_schemes()))


def _entry_point_schemes() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="colmig.backends")}


def _entry_for(scheme: str) -> BackendEntry:
    third_party = _entry_point_schemes()
    if scheme in third_party and scheme in _BUILTIN:
        raise ConfigError(f"scheme {scheme!r} is registered twice (built in and by an entry point)")
    if scheme in third_party:
        return BackendEntry(third_party[scheme], "(provided by a plug-in)")
    if scheme in _BUILTIN:
        return _BUILTIN[scheme]
    raise BackendNotFoundError(
        f"unknown URL scheme {scheme!r}; known schemes: {', '.join(schemes())}", scheme=scheme
    )


def _missing_extra(scheme: str, entry: BackendEntry, module: str | None) -> BackendNotFoundError:
    return BackendNotFoundError(
        f"the {scheme}:// backend needs a package that is not installed ({module}); "
        f"install it with: {entry.install_hint}",
        scheme=scheme,
        module=module,
    )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def backend_module(url: URL | str) -> ModuleType:
    """Import and return the module serving ``url``'s scheme (after checking that the drivers
    it imports lazily are installed)."""
    parsed = parse(url) if isinstance(url, str) else url
    entry = _entry_for(parsed.scheme)
    for driver in entry.drivers:
        if not _importable(driver):
            raise _missing_extra(parsed.scheme, entry, driver)
    try:
        return importlib.import_module(entry.module)
    except ImportError as exc:
        raise _missing_extra(parsed.scheme, entry, exc.name) from exc


def _factory(url: URL | str, name: str, role: str) -> Any:
    parsed = parse(url) if isinstance(url, str) else url
    module = backend_module(parsed)
    factory = getattr(module, name, None)
    if factory is None:
        raise ConfigError(f"{parsed.scheme}:// cannot be used as a {role} ({parsed.redacted})")
    entry = _entry_for(parsed.scheme)

    def guarded(*args: Any) -> Any:
        try:
            return factory(*args)
        except ModuleNotFoundError as exc:
            # A backend importing a driver lazily: a missing extra, whatever module asked.
            if (exc.name or "").split(".")[0] in _DRIVER_MODULES:
                raise _missing_extra(parsed.scheme, entry, exc.name) from None
            raise

    return guarded, parsed


def open_schema_target(url: URL | str, settings: Settings) -> SchemaTarget:
    """Open the schema-migration side of the database at ``url``."""
    factory, parsed = _factory(url, "open_schema_target", "schema migration target")
    return factory(parsed, settings)  # type: ignore[no-any-return]


def open_reader(url: URL | str, settings: Settings) -> Reader:
    """Open a data reader for ``url``."""
    factory, parsed = _factory(url, "open_reader", "data source")
    return factory(parsed, settings)  # type: ignore[no-any-return]


def open_writer(url: URL | str, settings: Settings) -> Writer:
    """Open a data writer for ``url``."""
    factory, parsed = _factory(url, "open_writer", "data target")
    return factory(parsed, settings)  # type: ignore[no-any-return]
