"""``COPY table [(columns)] FROM stdin;`` blocks in PostgreSQL migration files (pg_dump's form).

The block is the COPY command, then data lines in COPY's text format (tab-separated fields,
``\\N`` for NULL, backslash escapes), ended by a line holding only ``\\.``. The splitter keeps
the whole block as one statement; :func:`parse_block` turns it into rows of text values
(None for NULL) exactly as the server's COPY would read them, and the PostgreSQL target loads
them with the driver's COPY protocol. Only the text format with its default options is read:
anything else is refused when the plan is checked, naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from colmig.errors import ConfigError

_IDENT = r'(?:"(?:[^"]|"")*"|[^\s("\.;]+)'
_COPY_FROM_STDIN = re.compile(
    rf"^COPY\s+(?P<table>{_IDENT}(?:\s*\.\s*{_IDENT})*)\s*"
    r'(?:\((?P<columns>(?:"(?:[^"]|"")*"|[^)"])*)\))?\s*'
    r"FROM\s+STDIN\b(?P<options>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_COPY_STDIN_HEAD = re.compile(r"^COPY\b[^;]*?\bFROM\s+STDIN\b", re.IGNORECASE | re.DOTALL)
_COPY_TO_STDOUT = re.compile(r"^COPY\b.*\bTO\s+STDOUT\b", re.IGNORECASE | re.DOTALL)
_END = "\\."
_SIMPLE_ESCAPES = {"b": b"\b", "f": b"\f", "n": b"\n", "r": b"\r", "t": b"\t", "v": b"\v"}


@dataclass(frozen=True)
class CopyBlock:
    """A parsed COPY FROM stdin block; ``columns`` as written (None: every column)."""

    table: str
    columns: list[str] | None
    rows: list[list[str | None]]
    #: 0-based line of each row within the statement text (the command is line 0).
    row_lines: list[int]


class CopyFormatError(ConfigError):
    """A COPY block that colmig cannot read; ``line_offset`` is its line within the block."""

    def __init__(self, message: str, line_offset: int) -> None:
        super().__init__(message, line_offset=line_offset)
        self.line_offset = line_offset


def starts_copy_from_stdin(command: str) -> bool:
    """Whether a statement (without its ``;``) is a COPY that reads data lines after it."""
    return bool(_COPY_STDIN_HEAD.match(command.strip()))


def block_end(sql: str, pos: int) -> int:
    """The offset just after the ``\\.`` line of a data block whose command's ``;`` ends just
    before ``pos``; ``len(sql)`` when the end marker is missing (parse_block refuses that)."""
    nl = sql.find("\n", pos)
    if nl < 0:
        return len(sql)
    i = nl + 1
    while i < len(sql):
        nl = sql.find("\n", i)
        line = sql[i : len(sql) if nl < 0 else nl]
        if line.rstrip("\r") == _END:
            return len(sql) if nl < 0 else nl + 1
        if nl < 0:
            break
        i = nl + 1
    return len(sql)


def split_columns(text: str) -> list[str]:
    """Split a column list on commas outside double quotes."""
    out, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    out.append("".join(current).strip())
    return out


def ident_name(written: str) -> str:
    """The catalog name of an identifier as written: quoted kept exactly, unquoted folded."""
    if len(written) >= 2 and written.startswith('"') and written.endswith('"'):
        return written[1:-1].replace('""', '"')
    return written.lower()


def parse_block(text: str) -> CopyBlock | None:
    """Parse a COPY FROM stdin statement block; None if ``text`` is no such statement.

    Raises CopyFormatError for a COPY this reader cannot take exactly (options, a missing end
    marker, a bad escape, rows of different widths)."""
    stripped = text.strip()
    if _COPY_TO_STDOUT.match(stripped):
        raise CopyFormatError(
            "COPY ... TO STDOUT has nowhere to send its rows in a migration; use a SELECT or "
            "run it with psql",
            0,
        )
    if not starts_copy_from_stdin(stripped):
        return None
    semicolon = _command_end(text)
    command, data = text[:semicolon], text[semicolon + 1 :]
    match = _COPY_FROM_STDIN.match(command.strip())
    if match is None or match.group("options").strip():
        raise CopyFormatError(
            "only 'COPY table [(columns)] FROM stdin;' in COPY's text format with its default "
            "options is supported (as pg_dump writes it); write the rows as INSERT statements "
            "or load a CSV file with 'colmig -mode data'",
            0,
        )
    lines = data.split("\n")
    first = command.count("\n") + 1  # the data starts on the line after the command
    if lines and lines[0].strip() == "":
        lines = lines[1:]
    else:
        raise CopyFormatError("the COPY data must start on the line after 'FROM stdin;'", 0)
    rows: list[list[str | None]] = []
    row_lines: list[int] = []
    width: int | None = None
    for n, line in enumerate(lines):
        offset = first + n
        line = line.removesuffix("\r")
        if line == _END:
            break
        fields = [_field(raw, offset) for raw in line.split("\t")]
        if width is None:
            width = len(fields)
        elif len(fields) != width:
            raise CopyFormatError(
                f"COPY data row has {len(fields)} fields, the rows before it {width} "
                "(fields are separated by one tab)",
                offset,
            )
        rows.append(fields)
        row_lines.append(offset)
    else:
        raise CopyFormatError(
            "COPY data has no end marker: add a line holding only \\. after the last row",
            first + max(len(lines) - 1, 0),
        )
    columns = split_columns(match.group("columns")) if match.group("columns") else None
    if columns is not None and width is not None and width != len(columns):
        raise CopyFormatError(
            f"COPY data rows have {width} fields for {len(columns)} columns", row_lines[0]
        )
    return CopyBlock(" ".join(match.group("table").split()), columns, rows, row_lines)


def _command_end(text: str) -> int:
    """The offset of the ``;`` ending the COPY command (outside quotes)."""
    quoted: str | None = None
    for i, ch in enumerate(text):
        if quoted:
            if ch == quoted:
                quoted = None
        elif ch in "'\"":
            quoted = ch
        elif ch == ";":
            return i
    return len(text)


def _field(raw: str, line_offset: int) -> str | None:
    """One field of COPY's text format: ``\\N`` is NULL, backslash escapes decoded."""
    if raw == "\\N":
        return None
    if "\\" not in raw:
        return raw
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        if i + 1 >= n:
            raise CopyFormatError("COPY data field ends with a lone backslash", line_offset)
        nxt = raw[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[nxt]
            i += 2
        elif nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", raw[i + 1 :])
            assert digits is not None
            out.append(int(digits.group(0), 8) & 0xFF)
            i += 1 + len(digits.group(0))
        elif nxt == "x" and i + 2 < n and raw[i + 2] in "0123456789abcdefABCDEF":
            digits = re.match(r"[0-9a-fA-F]{1,2}", raw[i + 2 :])
            assert digits is not None
            out.append(int(digits.group(0), 16))
            i += 2 + len(digits.group(0))
        else:  # any other backslashed character stands for itself (\\ is a backslash)
            out += nxt.encode()
            i += 2
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CopyFormatError(
            f"COPY data field is not UTF-8 after its escapes ({exc.reason})", line_offset
        ) from None
