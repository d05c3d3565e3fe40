"""The table/query reader shared by PostgreSQL, MySQL/MariaDB and SQLite.

A job reads one table, a list or glob of tables (each table is split into its own
partitions; all must share one schema because a job has one schema), or a query. Tables are
split on ``-partition-on`` (or a single-column numeric primary key) into ``-partitions``
key ranges, or by ``-partition-window`` time windows.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from colmig.backends.base import Capabilities, Partition, Reader
from colmig.backends.sql_common import (
    TableChoice,
    choose_sources,
    conform,
    plan_ranges,
    quote_name,
    range_predicate,
    rechunk,
)
from colmig.config import Settings
from colmig.errors import (
    ColmigError,
    ConfigError,
    ConnectionFailedError,
    SourceDataError,
    TargetError,
    TransientError,
)
from colmig.urls import URL, redact_secrets


class SqlReader(Reader):
    """Streams a table or query as Arrow batches; subclasses supply the dialect."""

    dialect = "sql"
    capabilities = Capabilities(partitionable=True)

    def __init__(self, url: URL, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self._choices: list[TableChoice] | None = None
        self._schema: pa.Schema | None = None

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    # --- dialect hooks ------------------------------------------------------------------------

    @abstractmethod
    def quote(self, name: str) -> str: ...

    def col(self, name: str) -> str:
        """Quote a column name as one identifier (``quote`` splits ``schema.table`` at dots)."""
        return quote_name(name, self.quote("x")[0])

    @abstractmethod
    def _list_tables(self) -> list[str]: ...

    @abstractmethod
    def _open_stream(
        self, sql: str, batch_rows: int
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch], Callable[[], None]]:
        """Execute ``sql``: its schema, a memory-bounded batch iterator and a close function."""

    @abstractmethod
    def _fetch_one(self, sql: str) -> tuple[Any, ...]: ...

    @abstractmethod
    def _primary_key(self, table: str) -> str | None:
        """The single numeric primary-key column of ``table``, if it has one."""

    def _normalize_schema(self, schema: pa.Schema, choice: TableChoice) -> pa.Schema:
        """Turn driver types into colmig's faithful Arrow types (decimals, JSON, UUID...)."""
        return pa.schema([pa.field(f.name, f.type, f.nullable) for f in schema])

    def _estimate_rows(self, table: str) -> int | None:
        return None

    def _range_literal(self, value: Any, kind: str) -> str:
        if kind == "int":
            return str(int(value))
        return "'" + str(value).replace("'", "''") + "'"

    # --- contract -----------------------------------------------------------------------------

    def describe(self) -> str:
        what = (self.settings.query and "query") or (
            self.settings.source_table or self.settings.table
        )
        return f"{self.dialect} {what} at {self.url.redacted}"

    @property
    def choices(self) -> list[TableChoice]:
        if self._choices is None:
            self._choices = self._guarded(lambda: choose_sources(self.settings, self._list_tables))
        return self._choices

    def _from(self, choice: TableChoice) -> str:
        if choice.query:
            return f"({choice.query}) colmig_q"
        assert choice.source is not None
        return self.quote(choice.source)

    def _select(self, choice: TableChoice, where: str | None) -> str:
        sql = f"SELECT * FROM {self._from(choice)}"
        return f"{sql} WHERE {where}" if where else sql

    def schema(self) -> pa.Schema:
        if self._schema is None:
            schemas = [self._schema_of(choice) for choice in self.choices]
            for choice, other in zip(self.choices[1:], schemas[1:], strict=True):
                if not other.equals(schemas[0], check_metadata=False):
                    raise ConfigError(
                        f"table {choice.source} does not have the same columns as "
                        f"{self.choices[0].source}; a job has one schema, run one job per table"
                    )
            self._schema = schemas[0]
        return self._schema

    def _schema_of(self, choice: TableChoice) -> pa.Schema:
        def probe() -> pa.Schema:
            schema, _batches, close = self._open_stream(self._select(choice, "1 = 0"), 1)
            close()
            return self._normalize_schema(schema, choice)

        return self._guarded(probe)

    def _name(self, choice: TableChoice) -> str:
        return choice.source or "the query"

    def _partition_column(self, choice: TableChoice) -> str | None:
        if self.settings.partition_on:
            return self.settings.partition_on
        if choice.source is None:
            return None
        return self._primary_key(choice.source)

    def plan(self, max_partitions: int) -> list[Partition]:
        parts = self.settings.partitions or self.settings.workers * 4
        if max_partitions and max_partitions > 0:
            parts = min(parts, max_partitions) if not self.settings.partitions else parts
        out: list[Partition] = []
        for choice in self.choices:
            column = self._partition_column(choice)
            if self.settings.partition_window and not column:
                raise ConfigError("-partition-window needs -partition-on TIME_COLUMN")
            low = high = None
            if column:
                if column not in self.schema().names:
                    raise ConfigError(
                        f"-partition-on {column}: no such column in {self._name(choice)}"
                    )
                col = self.col(column)
                low, high = self._guarded(
                    lambda col=col, choice=choice: self._fetch_one(
                        f"SELECT MIN({col}), MAX({col}) FROM {self._from(choice)}"
                    )
                )
            key = choice.source or "query"
            base = {"table": choice.source, "query": choice.query, "target_table": choice.target}
            estimate = self._estimate_rows(choice.source) if choice.source else None
            out.extend(
                plan_ranges(
                    source_key=key,
                    target_table=choice.target,
                    column=column if low is not None else None,
                    low=low,
                    high=high,
                    parts=max(1, parts),
                    window=self.settings.partition_window,
                    base_spec=base,
                    estimated_rows=estimate,
                )
            )
        return out

    def read(self, partition: Partition, batch_rows: int) -> Iterator[pa.RecordBatch]:
        spec = dict(partition.spec)
        choice = TableChoice(spec.get("table"), spec.get("query"), spec.get("target_table"))
        where = range_predicate(spec, self.col, self._range_literal)
        schema = self.schema()
        _schema, stream, close = self._guarded(
            lambda: self._open_stream(self._select(choice, where), batch_rows)
        )
        try:
            for batch in rechunk(self._guarded_iter(stream), batch_rows):
                yield conform(batch, schema)
        finally:
            close()

    # --- errors -------------------------------------------------------------------------------

    def _guarded(self, call: Any) -> Any:
        try:
            return call()
        except ColmigError:
            raise
        except Exception as exc:
            raise self._translate(exc) from None

    def _guarded_iter(self, stream: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        while True:
            try:
                batch = next(stream)
            except StopIteration:
                return
            except ColmigError:
                raise
            except Exception as exc:
                raise self._translate(exc) from None
            yield batch

    def _error_class(self, exc: BaseException) -> type[ColmigError]:
        """The colmig family of a driver exception (see SqlWriter._error_class)."""
        from colmig.backends.sql_writer import legacy_error_class

        cls = legacy_error_class(exc)
        if cls is TransientError:
            lowered = str(exc).lower()
            if "refused" in lowered or "could not" in lowered:
                return ConnectionFailedError
        return cls

    def _translate(self, exc: Exception) -> ColmigError:
        text = redact_secrets(str(exc)).strip()
        message = text.splitlines()[0] if text else type(exc).__name__
        where = f"{self.dialect} source {self.url.redacted}"
        cls = self._error_class(exc)
        if cls is TargetError:
            cls = SourceDataError
        return cls(f"{where}: {message}", url=self.url.redacted)
