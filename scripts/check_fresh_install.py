#!/usr/bin/env python3
"""Packaging check that cannot drift: colmig as a new user gets it, in fresh virtualenvs.

1. Every third-party module that tests/ imports is declared (core, ``test`` or an extra that
   ``test`` pulls in): a test dependency that only arrives by chance is a failure.
2. A new venv gets ``pip install .`` (not editable, core dependencies only). Every colmig
   module must import there (none may need an extra at import time: backends import their
   drivers lazily and colmig/registry.py gates them). Every lazy third-party import inside
   colmig is tried; those that fail must be provided by some extra (step 4).
3. README "Quick start" command 1 runs exactly as written, in a temporary copy of the
   checkout, inside that venv; it must exit 0 and write Parquet.
4. For each extra (not ``test``/``all``), its requirements from colmig's own metadata are
   installed into an overlay venv on top of the core one: every backend the registry serves
   with that extra must load with its drivers, and every lazy import inside a backend package
   that only that extra serves must import.

Usage: python scripts/check_fresh_install.py  (scripts/test runs it before pytest)
Wheels are kept in a wheelhouse ($COLMIG_WHEELHOUSE, default ~/.cache/colmig/wheels),
downloaded once per pyproject.toml + constraints.txt; the venvs go to /dev/shm when it has
room. The same file runs inside the venvs as ``--probe ...``; there it imports only the
installed colmig and the standard library.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CONSTRAINTS = REPO / "constraints.txt"
AGGREGATE_EXTRAS = {"test", "all"}


class CheckFailed(Exception):
    """A packaging problem, described for the person who has to fix it."""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _req_name(req: str) -> str:
    return _norm(re.split(r"[\s\[<>=!~;(]", req.strip(), maxsplit=1)[0])


def _imports(path: Path, lazy_only: bool) -> list[str]:
    """Absolute imports in ``path`` (dotted names); with ``lazy_only``, those not at module
    level (inside a function, class, ``if`` or ``try``)."""
    tree = ast.parse(path.read_text(), str(path))
    top = {id(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)}
    names: list[str] = []
    for node in ast.walk(tree):
        if lazy_only and id(node) in top:
            continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _third_party(name: str, own: set[str]) -> bool:
    top = name.split(".")[0]
    return top not in sys.stdlib_module_names and top not in own and top != "__future__"


# ---------------------------------------------------------------- probes (inside the venvs)


def _lazy_imports(package_dir: Path) -> list[tuple[str, str]]:
    """(file relative to the package's parent, dotted module) for every lazy third-party
    import in the installed package."""
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        rel = str(path.relative_to(package_dir.parent))
        found += [(rel, n) for n in _imports(path, True) if _third_party(n, {"colmig"})]
    return found


def _try_import(name: str) -> str | None:
    """None when ``name`` imports, else why not."""
    try:
        importlib.import_module(name)
    except Exception as exc:  # any failure to import is the finding
        return f"{type(exc).__name__}: {exc}"
    return None


def _probe_core() -> dict[str, object]:
    import pkgutil

    import colmig

    package_dir = Path(colmig.__file__).resolve().parent
    if not package_dir.is_relative_to(Path(sys.prefix).resolve()):
        raise CheckFailed(f"colmig was imported from {package_dir}, not from the venv")
    broken = []
    modules = [
        info.name
        for info in pkgutil.walk_packages(colmig.__path__, "colmig.")
        if info.name.rsplit(".", 1)[-1] != "__main__"  # importing it runs the CLI
    ]
    for name in modules:
        why = _try_import(name)
        if why:
            broken.append(f"{name}: {why}")
    if broken:
        raise CheckFailed(
            "with only the core dependencies installed, these colmig modules do not import "
            "(declare the missing package in [project].dependencies of pyproject.toml, or "
            "import it lazily in a backend gated by colmig/registry.py):\n  " + "\n  ".join(broken)
        )
    missing = [(f, n) for f, n in _lazy_imports(package_dir) if _try_import(n)]
    return {"modules": len(modules), "lazy_missing": missing}


def _extra_backends(extra: str) -> dict[str, Any]:
    """Registry entries (scheme -> entry) that ``pip install 'colmig[extra]'`` serves."""
    from colmig import registry

    hint = f"colmig[{extra}]"
    return {s: e for s, e in registry._BUILTIN.items() if hint in e.install_hint}


def _probe_extra(extra: str, lazy_missing: list[list[str]]) -> dict[str, object]:
    import colmig
    from colmig import registry

    package_dir = Path(colmig.__file__).resolve().parent
    backends = _extra_backends(extra)
    if not backends:
        raise CheckFailed(f"colmig/registry.py names no backend for the extra {extra!r}")
    problems = []
    for scheme, entry in sorted(backends.items()):
        for driver in entry.drivers:
            why = _try_import(driver)
            if why:
                problems.append(f"{scheme}:// driver {driver}: {why}")
        try:
            registry.backend_module(f"{scheme}://host/path")
        except Exception as exc:  # the finding
            problems.append(f"{scheme}:// backend {entry.module}: {type(exc).__name__}: {exc}")
    # A backend package that only this extra's schemes use: its lazy imports are this extra's.
    core_modules = {e.module for e in registry._BUILTIN.values() if "core" in e.install_hint}
    own_dirs = {
        e.module.replace(".", "/") for e in backends.values() if e.module not in core_modules
    }
    now_ok = []
    for file, name in lazy_missing:
        why = _try_import(name)
        if not why:
            now_ok.append([file, name])
        elif any(file.startswith(d + "/") for d in own_dirs):
            problems.append(f"{file} imports {name} lazily: {why}")
    if problems:
        raise CheckFailed(
            f"with colmig[{extra}] installed ({package_dir}):\n  " + "\n  ".join(problems)
        )
    return {"schemes": sorted(backends), "now_ok": now_ok}


def probe(argv: list[str]) -> int:
    try:
        core = argv[0] == "core"
        result = _probe_core() if core else _probe_extra(argv[1], json.loads(argv[2]))
    except CheckFailed as exc:
        print(exc, file=sys.stderr)  # the orchestrator prefixes it
        return 1
    print(json.dumps(result))
    return 0


# ---------------------------------------------------------------- orchestration (host python)


def _pyproject() -> dict:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def check_test_imports() -> None:
    """Every distribution that tests/ imports directly is declared for the test install."""
    import importlib.metadata as md

    project = _pyproject()
    extras = project["optional-dependencies"]
    declared = {_req_name(r) for r in project["dependencies"]}
    pending = list(extras["test"])
    while pending:  # follow colmig[...] self-references
        req = pending.pop()
        name = _req_name(req)
        if name == "colmig":
            for extra in re.findall(r"\[([^\]]*)\]", req)[0].split(","):
                pending += extras[extra.strip()]
        else:
            declared.add(name)
    dist_of = {m: {_norm(d) for d in ds} for m, ds in md.packages_distributions().items()}
    own = {"colmig", "tests"}
    undeclared: dict[str, set[str]] = {}
    for path in sorted((REPO / "tests").rglob("*.py")):
        for name in _imports(path, False):
            if not _third_party(name, own):
                continue
            top = name.split(".")[0]
            dists = dist_of.get(top, {_norm(top)})
            if not dists & declared:
                undeclared.setdefault(f"{top} ({'/'.join(sorted(dists))})", set()).add(
                    str(path.relative_to(REPO))
                )
    if undeclared:
        lines = [f"{k}: {', '.join(sorted(v))}" for k, v in sorted(undeclared.items())]
        raise CheckFailed(
            "tests import packages that the 'test' extra of pyproject.toml does not declare:\n  "
            + "\n  ".join(lines)
        )


def readme_command_1() -> str:
    """The first command block of README's "Quick start" section, as written."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Quick start", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    if not match:
        raise CheckFailed("README.md: no ```bash block in the Quick start section")
    return match.group(1).strip()


def _run(cmd: list[str], what: str, **kwargs: object) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        tail = "\n".join(output.splitlines()[-30:])
        raise CheckFailed(f"{what} exited {proc.returncode}:\n{tail}")
    return proc.stdout


def _wheelhouse() -> Path:
    """Wheels kept between runs (pip's own HTTP cache cannot be relied on: behind some proxies
    it stores nothing). Only used as a store: what is installed is still resolved from the
    declared requirements alone."""
    default = Path.home() / ".cache" / "colmig" / "wheels"
    return Path(os.environ.get("COLMIG_WHEELHOUSE", default))


def _pip(python: Path, *args: str, into: Path | None = None) -> list[str]:
    """A pip install from the wheelhouse only; ``into`` is another venv's python."""
    target = ["--python", str(into)] if into else []
    constraints = ["-c", str(CONSTRAINTS)] if CONSTRAINTS.exists() else []
    offline = ["--no-index", "--find-links", str(_wheelhouse())]
    return [
        str(python),
        "-m",
        "pip",
        *target,
        "install",
        "-q",
        "--no-compile",
        *offline,
        *constraints,
        *args,
    ]


def fill_wheelhouse(base: str, src: Path) -> bool:
    """Download every wheel that core and each extra need, unless the wheelhouse already
    holds them for this pyproject.toml and constraints.txt. True when it downloaded."""
    house = _wheelhouse()
    house.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes())
    if CONSTRAINTS.exists():
        digest.update(CONSTRAINTS.read_bytes())
    stamp = house / f"filled-all-{digest.hexdigest()[:16]}"
    if stamp.exists():
        return False
    constraints = ["-c", str(CONSTRAINTS)] if CONSTRAINTS.exists() else []
    download = [base, "-m", "pip", "download", "-q", "-d", str(house), "--find-links", str(house)]
    _run(
        [*download, *constraints, f"{src}[all]", "setuptools>=68", "wheel"],
        f"pip download into {house}",
    )
    stamp.touch()
    return True


def _copy_checkout(dest: Path) -> None:
    """The files git would commit (tracked and untracked, not ignored): no build leftovers."""
    listing = _run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        "git ls-files",
    )
    for rel in filter(None, listing.split("\0")):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _site_packages(python: Path) -> str:
    return _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        "sysconfig",
    ).strip()


def _extra_requirements(python: Path) -> dict[str, list[str]]:
    code = (
        "import importlib.metadata as md, json;"
        "print(json.dumps([md.metadata('colmig').get_all('Provides-Extra') or [],"
        " md.requires('colmig') or []]))"
    )
    names, reqs = json.loads(_run([str(python), "-I", "-c", code], "reading colmig metadata"))
    by_extra: dict[str, list[str]] = {}
    for extra in names:
        marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
        by_extra[extra] = [r.split(";")[0].strip() for r in reqs if marker.search(r)]
    return by_extra


def _scratch_dir() -> str | None:
    """Where the venvs go: memory (/dev/shm) when it has room, since writing and deleting
    ~1.5 GB of site-packages on a busy disk took minutes; else the usual temp directory."""
    shm = Path("/dev/shm")
    try:
        usage = shutil.disk_usage(shm)
    except OSError:
        return None
    return str(shm) if usage.free > 4 * 2**30 and os.access(shm, os.W_OK) else None


def _step(label: str, started: float) -> None:
    print(f"check-fresh-install: {label} ({time.monotonic() - started:.0f}s)", flush=True)


def main() -> int:
    started = time.monotonic()
    base = os.environ.get("PYTHON", sys.executable)
    with tempfile.TemporaryDirectory(prefix="colmig-fresh-", dir=_scratch_dir()) as tmp:
        work = Path(tmp)
        try:
            check_test_imports()
            _step("every tests/ import is declared for the test install", started)
            src, core = work / "src", work / "core"
            _copy_checkout(src)
            if fill_wheelhouse(base, src):
                _step(f"downloaded the wheels into {_wheelhouse()}", started)
            _run([base, "-m", "venv", str(core)], "python -m venv")
            py = core / "bin" / "python"
            me = str(Path(__file__).resolve())
            _run(_pip(py, str(src)), "pip install . (core only)", cwd=work)
            result = json.loads(_run([str(py), "-I", me, "--probe", "core"], "core probe"))
            _step(f"pip install . (core): all {result['modules']} modules import", started)

            command = readme_command_1()
            env = {**os.environ, "PATH": f"{core / 'bin'}:{os.environ['PATH']}"}
            env["VIRTUAL_ENV"] = str(core)
            env["PIP_FIND_LINKS"] = f"{_wheelhouse()} {env.get('PIP_FIND_LINKS', '')}".strip()
            env.pop("PYTHONPATH", None)
            _run(
                ["bash", "-euo", "pipefail", "-c", command],
                f"README command 1 ({command})",
                cwd=src,
                env=env,
            )
            outputs = list((src / "out").rglob("*.parquet"))
            if not outputs:
                raise CheckFailed("README command 1 exited 0 but wrote no Parquet under out/")
            _step(f"README command 1 as written: exit 0, {len(outputs)} Parquet files", started)

            lazy_missing = result["lazy_missing"]
            site = _site_packages(py)
            extras = _extra_requirements(py)
            for extra in sorted(set(extras) - AGGREGATE_EXTRAS):
                overlay = work / f"extra-{extra}"
                _run([base, "-m", "venv", "--without-pip", str(overlay)], "python -m venv")
                xpy = overlay / "bin" / "python"
                Path(_site_packages(xpy), "_colmig_core.pth").write_text(
                    f"import site; site.addsitedir({site!r})\n"
                )
                _run(
                    _pip(py, *extras[extra], into=xpy),
                    f"pip install colmig[{extra}] requirements {extras[extra]}",
                    cwd=work,
                )
                found = json.loads(
                    _run(
                        [str(xpy), "-I", me, "--probe", "extra", extra, json.dumps(lazy_missing)],
                        f"colmig[{extra}] probe",
                    )
                )
                ok = {tuple(pair) for pair in found["now_ok"]}
                lazy_missing = [p for p in lazy_missing if tuple(p) not in ok]
                schemes = ", ".join(f"{s}://" for s in found["schemes"])
                _step(f"colmig[{extra}]: {schemes} load with their drivers", started)
            if lazy_missing:
                lines = [f"{file} imports {name}" for file, name in lazy_missing]
                raise CheckFailed(
                    "lazy imports that neither the core install nor any extra provides "
                    "(declare them in pyproject.toml):\n  " + "\n  ".join(lines)
                )
        except CheckFailed as exc:
            print(f"check-fresh-install: FAILED: {exc}", file=sys.stderr)
            return 1
    _step("OK", started)
    return 0


def cli() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        return probe(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fill-wheelhouse", action="store_true", help="only fill the wheelhouse")
    parser.add_argument("--print-wheelhouse", action="store_true", help="print its path")
    args = parser.parse_args()
    if args.print_wheelhouse:
        print(_wheelhouse())
        return 0
    if args.fill_wheelhouse:
        # From a copy: a concurrent `pip install -e .` of the checkout writes its egg-info.
        try:
            with tempfile.TemporaryDirectory(prefix="colmig-src-") as src:
                _copy_checkout(Path(src))
                fill_wheelhouse(os.environ.get("PYTHON", sys.executable), Path(src))
        except CheckFailed as exc:
            print(f"check-fresh-install: FAILED: {exc}", file=sys.stderr)
            return 1
        return 0
    return main()


if __name__ == "__main__":
    sys.exit(cli())
