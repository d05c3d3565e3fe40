"""Command-line entry point: flags (single-dash as in the spec, or --long), commands, exit codes.

``colmig [command] [args] [flags]`` where command is one of create, status, up, down, goto,
force, version, plan, transform check. Without a command the spec's flag form runs:
``-mode schema`` applies ``-direction``/``-version``/``-steps``; ``-mode data`` and
``-mode transform`` run a data job.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import traceback
from dataclasses import fields
from typing import Any, NoReturn

from colmig import __version__
from colmig.config import FIELD_TYPES, Settings, build_settings, coerce
from colmig.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_UNEXPECTED,
    ColmigError,
    ConfigError,
)
from colmig.logs import setup_logging
from colmig.urls import redact_secrets

log = logging.getLogger("colmig")

COMMANDS = {
    "create": "create NAME: write an empty up/down migration pair with a UTC timestamp",
    "status": "show applied, pending, dirty and changed migrations",
    "up": "apply pending migrations (all, or -steps N, or up to -version)",
    "down": "revert migrations (needs -steps N or -version)",
    "goto": "goto VERSION: migrate up or down to VERSION",
    "force": "force VERSION: record VERSION as applied and clean, after a manual fix",
    "version": "print the current schema version",
    "plan": "print the partitions of a data job without moving data",
    "transform": "transform check CONFIG: validate a transformation file without data;"
    " transform list: show the available transforms",
}

EXIT_CODES_HELP = """exit codes:
  0 success   1 internal error (a bug)   2 configuration or usage error
  3 connection failed   4 bad source data   5 target refused or cannot be written
  6 validation mismatch   7 migration state (dirty, changed file, lock held)
  8 some partitions failed, others committed (re-run resumes)
  130 interrupted (Ctrl-C)   143 terminated (SIGTERM); a re-run resumes data jobs"""


def _expand_bool_values(argv: list[str]) -> list[str]:
    """Accept Go-style ``-flag=false`` for boolean flags by rewriting it to ``-no-flag``."""
    out = []
    for arg in argv:
        name, eq, value = arg.partition("=")
        key = name.lstrip("-").replace("-", "_")
        if eq and arg.startswith("-") and FIELD_TYPES.get(key) is bool:
            dashes = "--" if name.startswith("--") else "-"
            enabled = coerce(key, value, where=name)
            out.append(name if enabled else f"{dashes}no-{name.lstrip('-')}")
        else:
            out.append(arg)
    return out


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ConfigError line instead of the whole usage text."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see colmig --help)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every Settings field is a flag spelled -name and --name."""
    parser = _Parser(
        prog="colmig",
        description="Schema migrations and columnar data migrations for time-series data.",
        epilog="commands:\n"
        + "\n".join(f"  {name:<10} {text}" for name, text in COMMANDS.items())
        + "\n\n"
        + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
        argument_default=argparse.SUPPRESS,
        add_help=False,
    )
    # Go's flag package also answers -help.
    parser.add_argument("-h", "-help", "--help", action="help", help="show this help and exit")
    parser.add_argument("-V", "--version-info", action="version", version=f"colmig {__version__}")
    parser.add_argument("command", nargs="*", help="optional command and its arguments")
    groups: dict[str, Any] = {}
    for f in fields(Settings):
        group_name = f.metadata["group"]
        if group_name not in groups:
            groups[group_name] = parser.add_argument_group(f"{group_name} options")
        group = groups[group_name]
        dashed = f.name.replace("_", "-")
        names = [f"-{dashed}", f"--{dashed}"]
        kind = FIELD_TYPES[f.name]
        default_text = "" if f.default in (None, False) else f" (default {f.default!r})"
        help_text = f.metadata["help"] + default_text
        if kind is bool:
            group.add_argument(
                *names, dest=f.name, action="store_const", const=True, help=help_text
            )
            group.add_argument(
                f"-no-{dashed}",
                f"--no-{dashed}",
                dest=f.name,
                action="store_const",
                const=False,
                help=argparse.SUPPRESS if f.default is False else f"Disable -{dashed}",
            )
        else:
            group.add_argument(
                *names,
                dest=f.name,
                type=kind,
                metavar=f.metadata.get("metavar") or f.name.upper(),
                help=help_text,
            )
    return parser


def parse_args(argv: list[str]) -> tuple[list[str], Settings]:
    """Parse ``argv`` into the command words and the merged Settings."""
    parser = build_parser()
    try:
        namespace = parser.parse_intermixed_args(_expand_bool_values(argv))
    except SystemExit as exc:
        raise SystemExit(2 if exc.code not in (0, None) else 0) from None
    values = vars(namespace)
    words: list[str] = values.pop("command", [])
    return words, build_settings(values)


def dispatch(words: list[str], settings: Settings) -> int:
    """Run the command named by ``words`` (or the spec's -mode form) and return an exit code."""
    command = words[0] if words else None
    if command is not None and command not in COMMANDS:
        raise ConfigError(f"unknown command {command!r}; commands: {', '.join(COMMANDS)}")
    if command == "transform":
        from colmig.transforms.check import run_check, run_list

        if words[1:] == ["list"]:
            return run_list(settings)
        if len(words) != 3 or words[1] != "check":
            raise ConfigError("usage: colmig transform check CONFIG | colmig transform list")
        return run_check(words[2], settings)
    if command == "plan" or (command is None and settings.mode in ("data", "transform")):
        from colmig.engine.job import run_job

        return run_job(settings, plan_only=command == "plan")
    from colmig.schema.commands import run_schema_command

    return run_schema_command(command, words[1:], settings)


class _Terminated(BaseException):
    """SIGTERM arrived (docker stop, a CI timeout, kill PID). A BaseException like
    KeyboardInterrupt, so no ``except Exception`` on the way (a partition's error handling)
    mistakes it for that partition's failure: the run unwinds, the partition in flight stays
    uncommitted and unfailed, and a re-run resumes it."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    """Console-script entry: returns the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    settings: Settings | None = None
    if threading.current_thread() is threading.main_thread():
        # Unwind like Ctrl-C (pools shut down, locks released) instead of dying mid-write.
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        words, settings = parse_args(argv)
        setup_logging(settings.log_level)
        code = dispatch(words, settings)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at interpreter exit
        return code
    except ColmigError as exc:
        _report(exc, settings)
        return exc.exit_code
    except KeyboardInterrupt:
        print("colmig: interrupted; re-run the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _Terminated:
        print("colmig: terminated; re-run the same command to resume", file=sys.stderr)
        return EXIT_TERMINATED
    except SystemExit as exc:
        return int(exc.code or 0)
    except BrokenPipeError:
        # The reader of our output went away (`colmig plan ... | head`): nothing is wrong with
        # the run; stop writing quietly instead of printing a traceback at interpreter exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug, not a user mistake: show the traceback, redacted
        print(
            redact_secrets("colmig: internal error: " + "".join(traceback.format_exception(exc))),
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED


def _report(exc: ColmigError, settings: Settings | None) -> None:
    if settings is not None and settings.log_level == "debug":
        print(redact_secrets("".join(traceback.format_exception(exc))), file=sys.stderr)
    print(redact_secrets(f"colmig: error: {exc}"), file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
