"""COPY's text format as colmig reads it from a migration file (checked against a real server
in tests/schema_targets/test_pg_copy_and_transactions.py)."""

from __future__ import annotations

import pytest

from colmig.schema.pgcopy import CopyFormatError, ident_name, parse_block, split_columns


def test_fields_nulls_and_escapes() -> None:
    block = parse_block(
        'COPY "My Table" (a, "B c") FROM STDIN;\n'
        "\\N\t\\\\N\n"
        "a\\tb\\nc\\\\d\t\\101\\x41\\q\n"
        "\t\n"
        "\\.\n"
    )
    assert block is not None
    assert block.table == '"My Table"' and block.columns == ["a", '"B c"']
    assert block.rows == [[None, "\\N"], ["a\tb\nc\\d", "AAq"], ["", ""]]
    assert block.row_lines == [1, 2, 3]


def test_not_a_copy_block() -> None:
    assert parse_block("COPY t FROM '/srv/data.csv'") is None
    assert parse_block("SELECT 1") is None


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("COPY t FROM stdin WITH (FORMAT csv);\n1\n\\.", 0, "default options"),
        ("COPY t FROM stdin;\n1\n2", 2, "no end marker"),
        ("COPY t FROM stdin;\n1\t2\n3\n\\.", 2, "has 1 fields, the rows before it 2"),
        ("COPY t (a) FROM stdin;\n1\t2\n\\.", 1, "2 fields for 1 columns"),
        ("COPY t FROM stdin;\nab\\\n\\.", 1, "lone backslash"),
        ("COPY t FROM stdin;\n\\377\n\\.", 1, "not UTF-8"),
        ("COPY t TO STDOUT", 0, "nowhere to send"),
    ],
)
def test_refused_blocks_name_their_line(text: str, line: int, words: str) -> None:
    with pytest.raises(CopyFormatError, match=words) as info:
        parse_block(text)
    assert info.value.line_offset == line


def test_identifiers() -> None:
    assert split_columns('a, "b,c", "d""e"') == ["a", '"b,c"', '"d""e"']
    assert [ident_name(c) for c in ["Abc", '"Abc"', '"d""e"']] == ["abc", "Abc", 'd"e']
