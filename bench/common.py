"""Shared benchmark machinery: arguments, data set, measuring child processes, result table.

Every contender runs in its own child process (a command, or a function of a bench module
called through ``python -c``), so wall time includes interpreter start and imports for all of
them alike, and the peak RSS is that contender's alone. Peak RSS is the largest *sum* of the
resident set of the child and all its descendants, sampled every 50 ms with psutil (what
matters for a worker pool), and never less than the kernel's exact peak of the largest single
process of the tree (``wait4`` rusage), which catches peaks shorter than the sampling period.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import generate  # noqa: E402  (needs the bench directory on sys.path)

SAMPLE_SECONDS = 0.05
MiB = 2**20
GiB = 2**30
MB = 10**6


@dataclass
class Result:
    """One measured run."""

    section: str
    name: str
    seconds: float | None = None
    rows: int = 0
    peak_rss: int = 0
    baseline: bool = True
    status: str = "ok"  # ok | FAILED | WRONG | skipped
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.seconds is not None

    @property
    def rows_per_s(self) -> float | None:
        return self.rows / self.seconds if self.ok and self.seconds else None


@dataclass
class Bench:
    """Options shared by every benchmark script plus the results gathered so far."""

    rows: int
    workers: int
    data_dir: Path
    repeat: int
    timeout: float
    keep_output: bool
    manifest: dict[str, Any]
    results: list[Result] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return generate.data_root(self.data_dir, self.rows)

    @property
    def csv_dir(self) -> Path:
        return Path(self.manifest["csv_dir"])

    @property
    def csv_files(self) -> list[Path]:
        return [self.csv_dir / f["name"] for f in self.manifest["files"]]

    @property
    def csv_glob(self) -> str:
        return str(self.csv_dir / "*.csv")

    @property
    def v1_dir(self) -> Path:
        """The same rows with epoch-second timestamps (the spec's sensor_data_v1)."""
        return Path(self.manifest["v1_dir"])

    @property
    def v1_glob(self) -> str:
        return str(self.v1_dir / "*.csv")

    def output(self, name: str) -> Path:
        """A fresh, empty output directory for contender ``name``."""
        path = self.root / "out" / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def scratch(self, name: str) -> Path:
        """A fresh working directory (cwd, colmig state) for contender ``name``."""
        path = self.root / "run" / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def env(self) -> dict[str, str]:
        """Environment for children: the same thread budget for every engine."""
        threads = str(self.workers)
        return {
            **os.environ,
            "POLARS_MAX_THREADS": threads,
            "OMP_NUM_THREADS": threads,
            "PYTHONUNBUFFERED": "1",
        }


def parser(description: str) -> argparse.ArgumentParser:
    """Argument parser with the options every benchmark script takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--rows", type=int, default=generate.DEFAULT_ROWS, help="rows in the archive")
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="colmig -workers and the thread budget of every baseline (default: cores)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=generate.DEFAULT_OUT,
        help="root of the generated data sets (generated there when missing)",
    )
    p.add_argument("--repeat", type=int, default=1, help="runs per contender; the best counts")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per run before a kill")
    p.add_argument("--keep-output", action="store_true", help="keep the outputs after the run")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    return p


def setup(args: argparse.Namespace) -> Bench:
    """Make sure the data set exists and warm the page cache, so no contender pays for I/O
    the one before it did not."""
    if args.rows < generate.FILES:
        raise SystemExit(f"--rows must be at least {generate.FILES} (one per file)")
    data_dir = args.data_dir.resolve()
    manifest = generate.ensure(data_dir, args.rows)
    bench = Bench(
        rows=args.rows,
        workers=args.workers,
        data_dir=data_dir,
        repeat=max(1, args.repeat),
        timeout=args.timeout,
        keep_output=args.keep_output,
        manifest=manifest,
    )
    warm_page_cache([*bench.csv_files, *(bench.v1_dir / p.name for p in bench.csv_files)])
    print(
        f"data: {bench.rows:,} rows in {len(bench.csv_files)} CSV files "
        f"({int(manifest['bytes']) / MiB:,.0f} MiB) at {bench.csv_dir}; "
        f"workers/threads: {bench.workers}; cores: {os.cpu_count()}",
        flush=True,
    )
    return bench


def warm_page_cache(paths: Sequence[Path]) -> None:
    """Read every file once (1 MiB blocks)."""
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(MiB):
                pass


def colmig_cmd(*args: str | Path) -> list[str]:
    """``python -m colmig ARGS`` with this interpreter."""
    return [sys.executable, "-m", "colmig", *(str(a) for a in args)]


def pycall(module: str, func: str, *args: Any) -> list[str]:
    """A command that imports bench ``module`` in a fresh interpreter and calls ``func(*args)``.

    Arguments travel as a JSON literal, so only str/int/float/bool/list/dict are allowed."""
    payload = json.dumps(list(args))
    code = (
        f"import json, sys; sys.path.insert(0, {str(BENCH_DIR)!r}); import {module}; "
        f"{module}.{func}(*json.loads({payload!r}))"
    )
    return [sys.executable, "-c", code]


@dataclass
class Measurement:
    seconds: float
    peak_rss: int
    returncode: int
    stderr: str


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    with contextlib.suppress(psutil.Error):
        procs = [root, *root.children(recursive=True)]
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
    return total


def measure(
    cmd: Sequence[str], *, cwd: Path, env: dict[str, str] | None, timeout: float
) -> Measurement:
    """Run ``cmd`` in its own process group; wall seconds and peak RSS of its process tree."""
    err_path = cwd / "stderr.txt"
    with open(cwd / "stdout.txt", "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            process_group=0,
        )  # fmt: skip
    root = psutil.Process(proc.pid)
    # A thread blocks in wait4 so the end time is exact, not rounded up to the next sample.
    done: dict[str, Any] = {}

    def reap() -> None:
        _, done["status"], done["usage"] = os.wait4(proc.pid, 0)
        done["ended"] = time.perf_counter()

    reaper = threading.Thread(target=reap, daemon=True)
    reaper.start()
    peak = 0
    deadline = started + timeout
    try:
        while reaper.is_alive():
            peak = max(peak, _tree_rss(root))
            if time.perf_counter() > deadline:
                raise TimeoutError(f"killed after {timeout:.0f} s")
            reaper.join(SAMPLE_SECONDS)
    finally:
        _kill_group(proc.pid)  # leftovers of a contender must not disturb the next one
        reaper.join()
    proc.returncode = os.waitstatus_to_exitcode(done["status"])
    peak = max(peak, done["usage"].ru_maxrss * 1024)  # KiB on Linux
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    return Measurement(done["ended"] - started, peak, proc.returncode, stderr)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def last_line(text: str) -> str:
    """The last non-empty line of ``text`` (a failure's one-line reason)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no stderr)"


def run(
    bench: Bench,
    section: str,
    name: str,
    cmd: Sequence[str],
    *,
    rows: int,
    verify: Callable[[], int] | None = None,
    before: Callable[[], None] | None = None,
    baseline: bool = True,
    output: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> Result:
    """Measure ``cmd`` ``bench.repeat`` times (best time counts), check the row count, record
    and print the result. ``before`` resets the target before each run; ``verify`` returns the
    rows the target holds afterwards, which must equal ``rows``."""
    best: Result | None = None
    for _ in range(bench.repeat):
        if before is not None:
            before()
        cwd = bench.scratch(re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-"))
        if output is not None:
            shutil.rmtree(output, ignore_errors=True)
            output.mkdir(parents=True)
        result = Result(section, name, rows=rows, baseline=baseline)
        try:
            m = measure(
                cmd, cwd=cwd, env={**bench.env(), **(env or {})}, timeout=timeout or bench.timeout
            )
        except TimeoutError as exc:
            result.status, result.detail = "FAILED", str(exc)
        else:
            result.seconds, result.peak_rss = m.seconds, m.peak_rss
            if m.returncode != 0:
                result.status = "FAILED"
                result.detail = f"{last_line(m.stderr)} (exit {m.returncode})"
            elif verify is not None:
                try:
                    got = verify()
                except Exception as exc:  # a broken output is a failed run, not a crash
                    result.status, result.detail = "FAILED", f"verify: {exc}"
                else:
                    if got != rows:
                        result.status = "WRONG"
                        result.detail = f"target holds {got:,} rows, expected {rows:,}"
        if not result.ok:  # one failed run is the result, whatever the others did
            best = result
            break
        if best is None or result.seconds < best.seconds:  # type: ignore[operator]
            best = result
    assert best is not None
    if output is not None and not bench.keep_output:
        shutil.rmtree(output, ignore_errors=True)
    bench.results.append(best)
    _print_progress(best)
    return best


def skip(bench: Bench, section: str, name: str, why: str, *, baseline: bool = True) -> None:
    """Record a contender that could not run here."""
    result = Result(section, name, baseline=baseline, status="skipped", detail=why)
    bench.results.append(result)
    print(f"  {name}: skipped: {why}", flush=True)


def _print_progress(r: Result) -> None:
    if r.ok:
        print(f"  {r.name}: {r.seconds:.2f} s, peak RSS {r.peak_rss / MiB:,.0f} MiB", flush=True)
    else:
        print(f"  {r.name}: {r.status} {r.detail}", flush=True)


@dataclass(frozen=True)
class Goal:
    """colmig's target in a section: time ratio to a reference (None: the fastest baseline)
    and peak RSS."""

    section: str
    name: str
    max_ratio: float
    max_rss: int  # bytes
    reference: str | None = None


def fastest_baseline(results: Sequence[Result]) -> Result | None:
    ok = [r for r in results if r.baseline and r.ok]
    return min(ok, key=lambda r: r.seconds or 0.0) if ok else None


def table(results: Sequence[Result]) -> str:
    """Markdown table per section: seconds, rows/s, peak RSS, ratio to the fastest baseline."""
    lines: list[str] = []
    sections = list(dict.fromkeys(r.section for r in results))
    for section in sections:
        rows = [r for r in results if r.section == section]
        fastest = fastest_baseline(rows)
        lines += [
            "",
            f"### {section}",
            "",
            "| contender | seconds | rows/s | peak RSS MiB | ratio to fastest baseline |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in rows:
            if r.ok and r.seconds is not None:
                ratio = f"{r.seconds / fastest.seconds:.2f}" if fastest and fastest.seconds else "-"
                lines.append(
                    f"| {r.name} | {r.seconds:.2f} | {r.rows_per_s:,.0f} | "
                    f"{r.peak_rss / MiB:,.0f} | {ratio} |"
                )
            else:
                lines.append(f"| {r.name} | {r.status}: {r.detail} | | | |")
        if fastest:
            lines.append(f"\nfastest baseline: {fastest.name}")
    return "\n".join(lines)


def goals(results: Sequence[Result], checks: Sequence[Goal]) -> str:
    """One line per goal: colmig's ratio and peak RSS against it, met or not."""
    lines = []
    for goal in checks:
        rows = [r for r in results if r.section == goal.section]
        mine = next((r for r in rows if r.name == goal.name), None)
        if goal.reference is None:
            ref = fastest_baseline(rows)
        else:
            ref = next((r for r in rows if r.name == goal.reference and r.ok), None)
        if mine is None or not mine.ok or ref is None or not ref.seconds:
            why = mine.detail if mine is not None and not mine.ok else "no reference run"
            lines.append(f"- {goal.section}: {goal.name} not measured ({why})")
            continue
        ratio = (mine.seconds or 0.0) / ref.seconds
        rss = mine.peak_rss / MiB
        met = ratio <= goal.max_ratio and mine.peak_rss < goal.max_rss
        limit = (
            f"{goal.max_rss / GiB:g} GiB"
            if goal.max_rss % GiB == 0
            else f"{goal.max_rss / MB:g} MB"
        )
        lines.append(
            f"- {goal.section}: {goal.name} ratio {ratio:.2f} to {ref.name} "
            f"(goal <= {goal.max_ratio}), peak RSS {rss:,.0f} MiB = {mine.peak_rss / MB:,.0f} MB "
            f"(goal < {limit}): {'met' if met else 'NOT met'}"
        )
    return "\n".join(lines)


def report(bench: Bench, args: argparse.Namespace, title: str, checks: Sequence[Goal]) -> None:
    """Print the results table and the goals; optionally save them as JSON."""
    print(f"\n## {title}\n")
    print(
        f"{bench.rows:,} rows, {len(bench.csv_files)} CSV files, workers {bench.workers}, "
        f"cores {os.cpu_count()}, repeat {bench.repeat} (best run)"
    )
    print(table(bench.results))
    print("\nGoals:\n" + goals(bench.results, checks))
    if args.json:
        data = {
            "title": title,
            "rows": bench.rows,
            "workers": bench.workers,
            "cores": os.cpu_count(),
            "results": [asdict(r) for r in bench.results],
        }
        args.json.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def parquet_rows(path: Path) -> int:
    """Rows in every Parquet file under ``path`` (from the footers; hive names ignored)."""
    import pyarrow.parquet as pq

    files = [
        p
        for p in path.rglob("*.parquet")
        if p.is_file()
        and not any(part.startswith((".", "_")) for p in [p.relative_to(path)] for part in p.parts)
    ]
    if not files:
        raise ValueError(f"no Parquet files under {path}")
    return sum(pq.ParquetFile(p).metadata.num_rows for p in files)


DAY_DIR = re.compile(r"^[^=]+=(\d{4}-\d{2}-\d{2})$")


def parquet_rows_by_day(path: Path, rows_per_day: dict[str, int]) -> int:
    """Rows under ``path`` after checking each hive day directory (``<key>=YYYY-MM-DD``,
    whatever the key is called) holds exactly that UTC day's rows."""
    import pyarrow.parquet as pq

    found: dict[str, int] = {}
    for file in path.rglob("*.parquet"):
        parts = file.relative_to(path).parts
        if any(part.startswith((".", "_")) for part in parts):
            continue
        days = [m.group(1) for part in parts[:-1] if (m := DAY_DIR.match(part))]
        if len(days) != 1:
            raise ValueError(
                f"{file.relative_to(path)} is not under one <key>=YYYY-MM-DD directory"
            )
        found[days[0]] = found.get(days[0], 0) + pq.ParquetFile(file).metadata.num_rows
    wrong = {day: (found.get(day, 0), rows_per_day.get(day, 0)) for day in {*found, *rows_per_day}}
    wrong = {day: counts for day, counts in wrong.items() if counts[0] != counts[1]}
    if wrong:
        day, (got, want) = min(wrong.items())
        raise ValueError(
            f"{len(wrong)} day partition(s) wrong, e.g. {day}: {got:,} rows, expected {want:,}"
        )
    return sum(found.values())


def start_postgres() -> Any:
    """The throwaway PostgreSQL server of the test suite (tests/servers.py), started."""
    sys.path.insert(0, str(REPO))
    from tests.servers import PostgresServer, exit_cleanly_on_sigterm

    exit_cleanly_on_sigterm()
    return PostgresServer().start()
