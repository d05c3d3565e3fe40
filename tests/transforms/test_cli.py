"""`colmig transform check` and `colmig transform list` through the real command line."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_check_spec_example_exits_0(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("transform", "check", REPO / "transforms" / "v2_upgrade.yaml", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "upgrade_sensor_data: sensor_data_v1 -> sensor_data_v2" in result.stdout
    assert "timestamp -> recorded_at  [unix_to_timestamp]" in result.stdout


def test_check_error_exits_2_with_position(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "bad.yaml"
    config.write_text(
        "transformations:\n  - name: t\n    mappings:\n      - source: v\n"
        "        transform: celsius_to_farenheit\n",
        encoding="utf-8",
    )
    result = run_cli("transform", "check", config)
    assert result.returncode == 2
    assert f"{config}:5:20: unknown transform 'celsius_to_farenheit'" in result.stderr
    assert "did you mean 'celsius_to_fahrenheit'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_list_shows_builtins_and_slow_custom(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("transform", "list", "-transforms-dir", REPO / "transforms")
    assert result.returncode == 0, result.stderr
    assert "unix_to_timestamp" in result.stdout and "hash_sha256" in result.stdout
    slow = next(line for line in result.stdout.splitlines() if "sensor_crc32" in line)
    assert "SLOW" in slow


def test_salt_never_printed(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "pii.yaml"
    config.write_text(
        "transformations:\n  - name: t\n    mappings:\n      - source: email\n"
        "        transform: {hash_sha256: {salt_env: COLMIG_TEST_SALT}}\n",
        encoding="utf-8",
    )
    result = run_cli("transform", "check", config, env={"COLMIG_TEST_SALT": "s3cr3t-salt"})
    assert result.returncode == 0
    assert "s3cr3t-salt" not in result.stdout + result.stderr
    assert "salt_env=COLMIG_TEST_SALT" in result.stdout
