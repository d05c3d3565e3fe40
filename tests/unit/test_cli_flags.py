"""The command line: Go-style single-dash flags and --long flags are the same flags."""

from __future__ import annotations

import os

import pytest

from colmig.cli import main, parse_args
from colmig.errors import EXIT_CONFIG
from tests.conftest import RunCli

SPEC_FLAGS = [
    "source",
    "target",
    "direction",
    "version",
    "steps",
    "mode",
    "batch-size",
    "workers",
    "dry-run",
    "verbose",
    "config",
    "transform-config",
    "validate",
    "rollback-on-error",
]


@pytest.fixture(autouse=True)
def _no_colmig_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("COLMIG_"):
            monkeypatch.delenv(name)


def test_spec_defaults() -> None:
    words, settings = parse_args([])
    assert words == []
    assert settings.direction is None  # not given: plain runs go up
    assert settings.mode == "schema"
    assert settings.batch_size == 1000
    assert settings.workers == 4
    assert settings.dry_run is False
    assert settings.verbose is False
    assert settings.validate is False
    assert settings.rollback_on_error is False


SINGLE = [
    "-source",
    "file://./data/timeseries",
    "-target",
    "s3://mybucket/tsiot-data",
    "-mode",
    "data",
    "-batch-size",
    "5000",
    "-workers",
    "8",
    "-steps",
    "2",
    "-direction",
    "down",
    "-version",
    "20240115_add_indexes",
    "-transform-config",
    "t.yaml",
    "-validate",
    "-dry-run",
    "-rollback-on-error",
]


def test_single_dash_and_long_flags_are_equivalent() -> None:
    long_form = ["-" + arg if arg.startswith("-") else arg for arg in SINGLE]
    assert parse_args(SINGLE) == parse_args(long_form)
    _, settings = parse_args(SINGLE)
    assert settings.source == "file://./data/timeseries"
    assert settings.target == "s3://mybucket/tsiot-data"
    assert (settings.mode, settings.batch_size, settings.workers) == ("data", 5000, 8)
    assert (settings.steps, settings.direction) == (2, "down")
    assert settings.version == "20240115_add_indexes"
    assert settings.transform_config == "t.yaml"
    assert settings.validate and settings.dry_run and settings.rollback_on_error


def test_equals_form() -> None:
    _, single = parse_args(["-batch-size=7", "-source=sqlite:///a.db"])
    _, double = parse_args(["--batch-size=7", "--source=sqlite:///a.db"])
    assert single == double
    assert (single.batch_size, single.source) == (7, "sqlite:///a.db")


@pytest.mark.parametrize("flag", ["-validate", "--validate"])
@pytest.mark.parametrize(("value", "expected"), [("false", False), ("true", True), ("0", False)])
def test_go_style_boolean_values(flag: str, value: str, expected: bool) -> None:
    _, settings = parse_args([f"{flag}={value}"])
    assert settings.validate is expected


def test_later_boolean_wins() -> None:
    _, settings = parse_args(["-validate", "-validate=false"])
    assert settings.validate is False


def test_flags_and_command_words_mix() -> None:
    words, settings = parse_args(["-source", "sqlite:///a.db", "up", "-steps", "1"])
    assert words == ["up"]
    assert (settings.source, settings.steps) == ("sqlite:///a.db", 1)


def test_verbose_sets_debug_logging() -> None:
    _, settings = parse_args(["-verbose"])
    assert settings.log_level == "debug"


def test_flags_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLMIG_WORKERS", "6")
    monkeypatch.setenv("COLMIG_BATCH_SIZE", "250")
    _, settings = parse_args(["-workers", "2"])
    assert (settings.workers, settings.batch_size) == (2, 250)


@pytest.mark.parametrize(
    "argv",
    [
        ["-workers", "many"],
        ["-validate=maybe"],
        ["-direction", "sideways"],
        ["-nosuchflag", "1"],
        ["-mode"],
        ["-batch-size", "0"],
    ],
)
def test_bad_flags_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith("colmig: error: ")
    assert len(err.strip().splitlines()) == 1, err


def test_help_lists_every_spec_flag(run_cli: RunCli) -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    for flag in SPEC_FLAGS:
        assert f"-{flag}" in result.stdout, flag
        assert f"--{flag}" in result.stdout, flag
    assert "exit codes" in result.stdout
    for name in ("-h", "-help"):
        assert run_cli(name).stdout == result.stdout


def test_unknown_command_exits_2_with_one_line(run_cli: RunCli) -> None:
    result = run_cli("frobnicate")
    assert result.returncode == EXIT_CONFIG
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "frobnicate" in lines[0]
    assert "Traceback" not in result.stderr


def test_password_never_printed_for_a_bad_flag(run_cli: RunCli) -> None:
    result = run_cli("-source", "postgres://u:hunter2-pw@h/db", "-workers", "x")
    assert result.returncode == EXIT_CONFIG
    assert "hunter2-pw" not in result.stderr + result.stdout
