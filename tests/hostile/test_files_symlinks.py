"""Symlinks in a source folder: followed when they lead inside it (each file read once),
outside it only with -follow-symlinks, always logged; dangling links and loops are warnings."""

from __future__ import annotations

import os
from pathlib import Path

from tests.files.helpers import cli_ok, data_args, read_output


def _csv(path: Path, *ids: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("id\n" + "".join(f"{i}\n" for i in ids))


def _ids(root: Path) -> list[int]:
    return sorted(read_output(root).column("id").to_pylist())


def test_a_file_link_inside_is_read_once_and_logged(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _csv(tmp_path / "src" / "a.csv", 1)
    _csv(tmp_path / "src" / "sub" / "b.csv", 2)
    os.symlink("sub/b.csv", tmp_path / "src" / "latest.csv")
    result = run_cli(*data_args("file://./src", "file://./out"))
    cli_ok(result)
    assert _ids(tmp_path / "out") == [1, 2]  # b.csv once, not twice
    assert "symlink ./src/latest.csv -> " in result.stderr
    assert "already read" in result.stderr
    # Not descending into folders, the link is the only way to b.csv: it is followed.
    result = run_cli(*data_args("file://./src", "file://./top", "-no-recursive"))
    cli_ok(result)
    assert _ids(tmp_path / "top") == [1, 2]
    assert "following symlink ./src/latest.csv -> " in result.stderr


def test_a_folder_link_inside_adds_no_duplicates(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _csv(tmp_path / "src" / "2024-03" / "a.csv", 1, 2)
    os.symlink("2024-03", tmp_path / "src" / "current")
    result = run_cli(*data_args("file://./src", "file://./out"))
    cli_ok(result)
    assert _ids(tmp_path / "out") == [1, 2]
    assert "skipping symlink ./src/current -> " in result.stderr
    assert "that folder is already read" in result.stderr


def test_links_outside_need_follow_symlinks(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _csv(tmp_path / "src" / "a.csv", 1)
    _csv(tmp_path / "elsewhere" / "b.csv", 2)
    _csv(tmp_path / "elsewhere" / "deep" / "c.csv", 3)
    os.symlink("../elsewhere/b.csv", tmp_path / "src" / "b.csv")
    os.symlink("../elsewhere/deep", tmp_path / "src" / "deep")
    result = run_cli(*data_args("file://./src", "file://./without"))
    cli_ok(result)
    assert _ids(tmp_path / "without") == [1]
    assert result.stderr.count("leads outside the source folder (add -follow-symlinks") == 2

    result = run_cli(*data_args("file://./src", "file://./with", "-follow-symlinks"))
    cli_ok(result)
    assert _ids(tmp_path / "with") == [1, 2, 3]
    assert "following symlink ./src/b.csv -> " in result.stderr
    assert "following symlink ./src/deep -> " in result.stderr


def test_dangling_links_and_loops_are_warnings(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _csv(tmp_path / "src" / "a.csv", 1)
    os.symlink("gone.csv", tmp_path / "src" / "dangling.csv")
    os.symlink("loop", tmp_path / "src" / "loop")
    os.symlink(".", tmp_path / "src" / "self")  # a folder link to its own folder
    result = run_cli(*data_args("file://./src", "file://./out", "-follow-symlinks"))
    cli_ok(result)
    assert _ids(tmp_path / "out") == [1]
    assert "WARNING skipping symlink ./src/dangling.csv: its target gone.csv does not exist" in (
        result.stderr
    )
    assert "WARNING skipping symlink ./src/loop: it leads round in a loop" in result.stderr
    assert "Traceback" not in result.stderr
