"""Where rows set aside by ``-on-error reject`` go: one file per partition and kind, so a
retried partition overwrites its own rejects instead of adding duplicates."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


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

    def write_malformed(self, partition_id: str, rows: list[tuple[str, str]]) -> Path | None:
        """Source records that could not be parsed: reason (file:line) and raw text."""
        if not rows:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_for(partition_id, "malformed.jsonl")
        temp = path.with_suffix(".tmp")
        with open(temp, "w", encoding="utf-8") as out:
            for reason, text in rows:
                out.write(json.dumps({"reason": reason, "raw": text}, ensure_ascii=False) + "\n")
        os.replace(temp, path)
        return path
