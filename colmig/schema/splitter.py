"""Split a migration file into statements, the way each database's own client would.

A ``;`` ends a statement except inside single/double-quoted strings, ``--``/``/* */`` comments
(``#`` comments on MySQL), PostgreSQL/DuckDB dollar quotes (``$$ ... $$``, ``$tag$ ... $tag$``),
MySQL backtick identifiers, and ``BEGIN ... END`` bodies of SQLite triggers and PostgreSQL
``BEGIN ATOMIC`` functions. On MySQL a ``DELIMITER xx`` line changes the terminator, as in the
mysql client. On PostgreSQL a ``COPY ... FROM stdin;`` statement takes its data lines up to
the ``\\.`` line with it. Empty and comment-only statements are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from colmig.schema.files import normalise_dialect
from colmig.schema.pgcopy import block_end, starts_copy_from_stdin


@dataclass(frozen=True)
class Statement:
    """One SQL statement without its terminator; ``line`` is 1-based, where its code starts."""

    text: str
    line: int


_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_DELIMITER_LINE = re.compile(r"[ \t]*DELIMITER[ \t]+(\S+)[ \t]*(?:\r?\n|$)", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


class _Splitter:
    def __init__(self, sql: str, dialect: str) -> None:
        self.sql = sql
        self.dialect = normalise_dialect(dialect)
        self.mysql = self.dialect == "mysql"
        self.dollar = self.dialect in ("postgres", "duckdb")
        self.delimiter = ";"
        self.out: list[Statement] = []
        self._prev_word = ""
        self._reset()

    def _reset(self) -> None:
        self.start: int | None = None  # offset of the statement's first code character
        self.words: list[str] = []  # first few words of the statement, upper-cased
        self.depth = 0  # BEGIN ... END nesting where ';' does not end the statement
        self.trigger = False

    def _code_at(self, i: int) -> None:
        if self.start is None:
            self.start = i

    def _flush(self, end: int) -> None:
        if self.start is not None:
            text = self.sql[self.start : end].strip()
            if text:
                line = self.sql.count("\n", 0, self.start) + 1
                self.out.append(Statement(text, line))
        self._reset()

    def _word(self, word: str) -> None:
        upper = word.upper()
        if len(self.words) < 4:
            self.words.append(upper)
            first = self.words[0]
            if first == "CREATE" and upper == "TRIGGER" and self.dialect == "sqlite":
                self.trigger = True
        if upper == "BEGIN":
            if self.trigger and self.depth == 0:
                self.depth = 1
        elif (upper == "CASE" and self.depth > 0) or (
            upper == "ATOMIC" and self.dialect == "postgres" and self._prev_word == "BEGIN"
        ):
            self.depth += 1
        elif upper == "END" and self.depth > 0:
            self.depth -= 1
        self._prev_word = upper

    def split(self) -> list[Statement]:
        sql, n, i = self.sql, len(self.sql), 0
        at_line_start = True
        while i < n:
            ch = sql[i]
            if self.mysql and at_line_start and self.start is None:
                match = _DELIMITER_LINE.match(sql, i)
                if match:
                    self.delimiter = match.group(1)
                    i = match.end()
                    continue
            at_line_start = ch == "\n"
            if ch.isspace():
                i += 1
                continue
            if sql.startswith("--", i) or (self.mysql and ch == "#"):
                end = sql.find("\n", i)
                i = n if end < 0 else end
                continue
            if sql.startswith("/*", i):
                if self.mysql and sql.startswith(("/*!", "/*+"), i):
                    self._code_at(i)  # MySQL executable comment: code, not a comment
                i = self._skip_block_comment(i)
                continue
            if self.depth == 0 and sql.startswith(self.delimiter, i):
                if self._copy_from_stdin(i):
                    # The data lines up to "\." belong to the COPY statement.
                    end = block_end(sql, i + 1)
                    self._flush(end)
                    i = end
                    continue
                self._flush(i)
                i += len(self.delimiter)
                continue
            self._code_at(i)
            if ch in "'\"`":
                i = self._skip_quoted(i, ch)
                continue
            if ch == "$" and self.dollar and not _ident_before(sql, i):
                match = _DOLLAR_TAG.match(sql, i)
                if match:
                    close = sql.find(match.group(0), match.end())
                    i = n if close < 0 else close + len(match.group(0))
                    continue
            word = _WORD.match(sql, i)
            if word and not _ident_before(sql, i):
                text = word.group(0)
                cut = text.find(self.delimiter)  # "END$$" with DELIMITER $$ ends at END
                text = text[:cut] if cut > 0 else text
                self._word(text)
                i += len(text)
                continue
            i += 1
        self._flush(n)
        return self.out

    def _copy_from_stdin(self, end: int) -> bool:
        return (
            self.dialect == "postgres"
            and self.start is not None
            and self.words[:1] == ["COPY"]
            and starts_copy_from_stdin(self.sql[self.start : end])
        )

    def _skip_block_comment(self, i: int) -> int:
        # PostgreSQL nests block comments; the others end at the first */.
        nest = self.dialect == "postgres"
        depth, j, n = 1, i + 2, len(self.sql)
        while j < n and depth:
            if nest and self.sql.startswith("/*", j):
                depth, j = depth + 1, j + 2
            elif self.sql.startswith("*/", j):
                depth, j = depth - 1, j + 2
            else:
                j += 1
        return j

    def _skip_quoted(self, i: int, quote: str) -> int:
        sql, n = self.sql, len(self.sql)
        # MySQL strings and PostgreSQL E'...' strings take backslash escapes.
        e_string = quote == "'" and i > 0 and sql[i - 1] in "eE" and not _ident_before(sql, i - 1)
        backslash = quote != "`" and (self.mysql or e_string)
        j = i + 1
        while j < n:
            c = sql[j]
            if backslash and c == "\\":
                j += 2
                continue
            if c == quote:
                if j + 1 < n and sql[j + 1] == quote:  # doubled quote is an escaped quote
                    j += 2
                    continue
                return j + 1
            j += 1
        return n


def _ident_before(sql: str, i: int) -> bool:
    return i > 0 and (sql[i - 1].isalnum() or sql[i - 1] in "_$")


def split_statements(sql: str, dialect: str) -> list[Statement]:
    """Split ``sql`` into statements for ``dialect`` (postgres, mysql, sqlite, duckdb)."""
    return _Splitter(sql, dialect).split()
