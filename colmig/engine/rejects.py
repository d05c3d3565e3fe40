"""Where rows set aside by ``-on-error reject`` go: one file per partition and kind, so a
retried partition overwrites its own rejects instead of adding duplicates.

A malformed source record is one JSON object per line: ``reason`` (``file:line: why``),
``file``, ``line`` and ``raw``, the record exactly as in the source without its final line
end (``\n`` or ``\r\n``; a record spanning lines keeps the line ends inside it). When the
record is not valid UTF-8, ``raw`` shows the undecodable bytes as U+FFFD and ``raw_base64``
holds the exact bytes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq


class Malformed(NamedTuple):
    """A source record that could not be read. ``raw`` is the record's text decoded with
    ``surrogateescape``: ``raw.encode("utf-8", "surrogateescape")`` is its exact bytes."""

    reason: str
    raw: str
    file: str | None = None
    line: int | None = None


def malformed_json(row: tuple[str, str] | Malformed) -> dict[str, object]:
    """The rejects-file object of one malformed record."""
    reason, raw = row[0], row[1]
    out: dict[str, object] = {"reason": reason}
    if isinstance(row, Malformed):
        out["file"] = row.file
        out["line"] = row.line
    data = raw.encode("utf-8", "surrogateescape")
    try:
        out["raw"] = data.decode("utf-8")
    except UnicodeDecodeError:
        out["raw"] = data.decode("utf-8", "replace")
        out["raw_base64"] = base64.b64encode(data).decode("ascii")
    return out


class RejectSink:
    """Writes rejects of one job under ``<rejects>/<job_id>/``."""

    def __init__(self, directory: str, job_id: str) -> None:
        self.directory = Path(directory) / job_id

    def path_for(self, partition_id: str, kind: str) -> Path:
        return self.directory / f"{partition_id}.{kind}"

    def clear(self, partition_id: str) -> None:
        """Forget rejects of an earlier attempt of ``partition_id``."""
        for kind in ("transform.parquet", "malformed.jsonl"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path_for(partition_id, kind))

    def write_rows(self, partition_id: str, tables: list[pa.Table]) -> Path | None:
        """Rows a transform rejected (source columns + reason)."""
        if not tables:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_for(partition_id, "transform.parquet")
        temp = path.with_suffix(".tmp")
        pq.write_table(pa.concat_tables(tables, promote_options="permissive"), temp)
        os.replace(temp, path)
        return path

    def write_malformed(
        self, partition_id: str, rows: list[tuple[str, str]] | list[Malformed]
    ) -> Path | None:
        """Source records that could not be parsed: reason (file:line), file, line and the
        record's exact text (see the module's docstring)."""
        if not rows:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_for(partition_id, "malformed.jsonl")
        temp = path.with_suffix(".tmp")
        with open(temp, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(malformed_json(row), ensure_ascii=False) + "\n")
        os.replace(temp, path)
        return path
