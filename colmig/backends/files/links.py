"""Symbolic links in a local source folder.

fsspec lists a symlink as an entry of type ``other`` and does not descend into linked
folders, so without this module linked files were skipped without a word. A link whose
target resolves inside the source folder is followed; one leading outside it only with
``-follow-symlinks``. Every file is read once: a link to a file or folder already read
through its own path adds nothing. Each link followed or skipped is logged with the reason;
a dangling link or a loop is a warning, never a crash.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from typing import Any

log = logging.getLogger("colmig")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def resolve_links(
    entries: dict[str, dict[str, Any]],
    root: str,
    follow_outside: bool,
    shown: Callable[[str], str],
    recursive: bool,
    walked_root: bool,
) -> dict[str, dict[str, Any]]:
    """``entries`` (path -> fsspec info, as ``find``/``ls``/``glob`` give them) with every
    symlink replaced by the file it leads to, or by the files of the folder it leads to (under
    the link's own path, so hive directories and messages show the link), or dropped.
    ``walked_root``: the entries come from a recursive walk of the root, which listed every
    real folder under it already."""
    real_root = os.path.realpath(root)
    out = {p: i for p, i in entries.items() if not i.get("islink")}
    read = {os.path.realpath(p) for p, i in out.items() if i.get("type") == "file"}
    walked: set[str] = set()
    pending = sorted(p for p, i in entries.items() if i.get("islink"))
    while pending:
        link = pending.pop(0)
        target = _target(link, shown)
        if target is None:
            continue
        where = f"symlink {shown(link)} -> {target}"
        inside = _inside(target, real_root)
        if not inside and not follow_outside:
            log.info(
                "skipping %s: it leads outside the source folder (add -follow-symlinks to read it)",
                where,
            )
            continue
        if not os.path.isdir(target):
            if target in read:
                log.info("skipping %s: that file is already read", where)
                continue
            log.info("following %s", where)
            _add(out, read, link, target)
            continue
        if not recursive:
            log.info("skipping %s: a folder, and -no-recursive is set", where)
        elif (inside and walked_root) or any(_inside(target, d) for d in walked):
            log.info("skipping %s: that folder is already read", where)
        else:
            log.info("following %s", where)
            walked.add(target)
            pending.extend(_walk(link, target, out, read))
    return out


def _walk(link: str, folder: str, out: dict[str, dict[str, Any]], read: set[str]) -> list[str]:
    """Add the files under ``folder`` (reached through ``link``) to ``out``; return the
    symlinks found there, as paths under ``link``, to be resolved in turn."""
    links = []
    for base, dirs, files in os.walk(folder):
        relative = os.path.relpath(base, folder)
        shown_base = link if relative == "." else f"{link}/{relative}"
        # os.walk does not descend into linked folders: they are resolved like any link.
        links.extend(
            f"{shown_base}/{name}"
            for name in sorted(dirs)
            if os.path.islink(os.path.join(base, name))
        )
        for name in sorted(files):
            path = os.path.join(base, name)
            if os.path.islink(path):
                links.append(f"{shown_base}/{name}")
            else:
                _add(out, read, f"{shown_base}/{name}", os.path.realpath(path))
    return links


def _target(link: str, shown: Callable[[str], str]) -> str | None:
    """The real path ``link`` leads to, or None (logged) for a loop or a dangling link."""
    try:
        return os.path.realpath(link, strict=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            log.warning("skipping symlink %s: it leads round in a loop", shown(link))
        elif isinstance(exc, FileNotFoundError):
            destination = os.readlink(link) if os.path.islink(link) else "?"
            log.warning(
                "skipping symlink %s: its target %s does not exist", shown(link), destination
            )
        else:
            log.warning("skipping symlink %s: %s", shown(link), exc.strerror or exc)
        return None


def _add(out: dict[str, dict[str, Any]], read: set[str], path: str, real: str) -> None:
    if real in read:
        return  # one file reached twice through links: read once
    read.add(real)
    out[path] = {"name": path, "type": "file", "size": os.stat(real).st_size}
