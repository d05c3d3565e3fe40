"""-on-error reject keeps each rejected source record byte for byte (quotes, delimiters inside
quotes, line breaks inside quotes, bytes that are not UTF-8), with its file and line."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.files.helpers import cli_ok, data_args, read_output


def _rejects(tmp_path: Path) -> list[dict]:
    files = sorted((tmp_path / ".colmig" / "rejects").glob("*/*.malformed.jsonl"))
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    return sorted(rows, key=lambda r: r["line"])


def _exact(row: dict) -> bytes:
    if "raw_base64" in row:
        return base64.b64decode(row["raw_base64"])
    return str(row["raw"]).encode()


def test_csv_rejects_keep_the_source_record_exactly(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    body = (
        b"id,v,w\r\n"
        b"1,10,a\r\n"
        b'2,"c,d"\r\n'  # two fields, one holding the delimiter
        b'3,"say ""hi""",b\r\n'
        b'5,"two\r\nlines"\r\n'  # a record of two lines, two fields
        b"6,60,d\r\n"
    )
    (tmp_path / "in" / "r.csv").write_bytes(body)
    out = cli_ok(run_cli(*data_args("file://./in", "file://./out", "-on-error", "reject")))
    assert "rejected 2 rows" in out, out
    rejects = _rejects(tmp_path)
    assert [r["line"] for r in rejects] == [3, 5]
    assert [r["file"] for r in rejects] == ["./in/r.csv"] * 2
    # The record's own bytes; only the final line end is dropped.
    assert [r["raw"] for r in rejects] == ['2,"c,d"', '5,"two\r\nlines"']
    assert rejects[0]["reason"] == "./in/r.csv:3: expected 3 fields, found 2"
    assert rejects[1]["reason"] == "./in/r.csv:5: expected 3 fields, found 2"
    kept = read_output(tmp_path / "out").sort_by("id")
    assert kept.column("id").to_pylist() == [1, 3, 6]
    assert kept.column("v").to_pylist()[1] == 'say "hi"'


def test_json_lines_rejects_keep_the_source_line_exactly(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    body = (
        b'{"id": 1, "t": "a"}\n'
        b'{"id": 2, "t": "c,d"\n'  # not closed
        b"\n"
        b"[1, 2]\n"  # JSON, not an object
        b'{"id": 3, "t": "caf\xe9"}\n'
        b'{"id": 4, "t": "x"}\r\n'
    )
    (tmp_path / "in" / "e.jsonl").write_bytes(body)
    out = cli_ok(run_cli(*data_args("file://./in", "file://./out", "-on-error", "reject")))
    assert "rejected 3 rows" in out, out
    rejects = _rejects(tmp_path)
    assert [(r["file"], r["line"]) for r in rejects] == [("./in/e.jsonl", n) for n in (2, 4, 5)]
    assert [_exact(r) for r in rejects] == [
        b'{"id": 2, "t": "c,d"',
        b"[1, 2]",
        b'{"id": 3, "t": "caf\xe9"}',
    ]
    assert rejects[0]["reason"].startswith("./in/e.jsonl:2: invalid JSON")
    assert rejects[1]["reason"] == "./in/e.jsonl:4: not a JSON object"
    kept = read_output(tmp_path / "out").sort_by("id")
    assert kept.column("t").to_pylist() == ["a", "x"]


def test_json_lines_skip_counts_the_lines_set_aside(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    good = "".join(json.dumps({"id": i}) + "\n" for i in range(50_000))
    (tmp_path / "in" / "e.jsonl").write_text(good + "not json\n" + good.replace('"id"', '"id" '))
    out = cli_ok(run_cli(*data_args("file://./in", "file://./out", "-on-error", "skip")))
    assert "skipped 1 bad rows" in out, out
    assert read_output(tmp_path / "out").num_rows == 100_000
    assert not _rejects(tmp_path)
