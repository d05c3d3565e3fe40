"""The duckdb backend: schema target, data reader and data writer.

Submodules (schema.py, reader.py, writer.py) are imported only when used, so a missing driver
affects only its role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from colmig.backends.base import Reader, SchemaTarget, Writer
    from colmig.config import Settings
    from colmig.urls import URL


def open_schema_target(url: URL, settings: Settings) -> SchemaTarget:
    """Open the database at ``url`` for schema migrations."""
    from colmig.backends.duckdb.schema import open_schema_target as factory

    return factory(url, settings)


def open_reader(url: URL, settings: Settings) -> Reader:
    """Open a table or query of the database at ``url`` as a data source."""
    from colmig.backends.duckdb.reader import open_reader as factory

    return factory(url, settings)


def open_writer(url: URL, settings: Settings) -> Writer:
    """Open a table of the database at ``url`` as a data target."""
    from colmig.backends.duckdb.writer import open_writer as factory

    return factory(url, settings)
