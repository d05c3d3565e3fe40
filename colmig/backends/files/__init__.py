"""Files and object storage through fsspec: file://, s3://, gs://, az://, memory://.

Reader in reader.py (CSV/TSV, JSON Lines, JSON, Parquet, Arrow IPC, compressed inputs);
writer in writer.py (Parquet with hive partitioning and atomic commits, also CSV/JSONL/Arrow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from colmig.backends.base import Reader, Writer
    from colmig.config import Settings
    from colmig.urls import URL


def open_reader(url: URL, settings: Settings) -> Reader:
    """Open files at ``url`` (a file, directory, glob or prefix) as a data source."""
    from colmig.backends.files.reader import open_reader as factory

    return factory(url, settings)


def open_writer(url: URL, settings: Settings) -> Writer:
    """Open a directory or prefix at ``url`` as a data target."""
    from colmig.backends.files.writer import open_writer as factory

    return factory(url, settings)
