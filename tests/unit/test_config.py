"""Settings merge: flags > COLMIG_* env > YAML file > defaults, ${ENV} interpolation, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from colmig.config import Settings, build_settings, parse_size
from colmig.errors import EXIT_CONFIG, ConfigError


def write(tmp_path: Path, text: str, name: str = "colmig.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_defaults_follow_the_spec() -> None:
    settings = build_settings({}, {})
    assert settings == Settings()
    assert settings.direction is None  # not given: plain runs go up
    assert settings.mode == "schema"
    assert settings.batch_size == 1000
    assert settings.workers == 4
    assert settings.dry_run is False
    assert settings.validate is False


def test_file_overrides_defaults(tmp_path: Path) -> None:
    config = write(tmp_path, "batch-size: 200\nworkers: 2\nmode: data\nvalidate: true\n")
    settings = build_settings({"config": config}, {})
    assert (settings.batch_size, settings.workers, settings.mode) == (200, 2, "data")
    assert settings.validate is True
    assert settings.direction is None


def test_env_overrides_file_and_flags_override_env(tmp_path: Path) -> None:
    config = write(tmp_path, "batch_size: 200\nworkers: 2\nmode: data\n")
    env = {"COLMIG_BATCH_SIZE": "300", "COLMIG_WORKERS": "5"}
    settings = build_settings({"config": config, "workers": 8}, env)
    assert settings.batch_size == 300  # env beats file
    assert settings.workers == 8  # flag beats env
    assert settings.mode == "data"  # file beats default


def test_config_path_may_come_from_env(tmp_path: Path) -> None:
    config = write(tmp_path, "batch-size: 42\n")
    assert build_settings({}, {"COLMIG_CONFIG": config}).batch_size == 42


def test_env_booleans(tmp_path: Path) -> None:
    assert build_settings({}, {"COLMIG_DRY_RUN": "true"}).dry_run is True
    assert build_settings({}, {"COLMIG_HEADER": "0"}).header is False


def test_env_interpolation_in_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLMIG_TEST_PGPW", "pw-from-env")
    monkeypatch.setenv("COLMIG_TEST_BATCH", "777")
    monkeypatch.delenv("COLMIG_TEST_UNSET", raising=False)
    config = write(
        tmp_path,
        "source: postgres://u:${COLMIG_TEST_PGPW}@h/db\n"
        "batch-size: ${COLMIG_TEST_BATCH}\n"
        "target: ${COLMIG_TEST_UNSET:-duckdb:///tmp/out.duckdb}\n"
        "table: ${COLMIG_TEST_UNSET:-}\n",
    )
    settings = build_settings({"config": config}, {})
    assert settings.source == "postgres://u:pw-from-env@h/db"
    assert settings.batch_size == 777
    assert settings.target == "duckdb:///tmp/out.duckdb"
    assert settings.table == ""
    assert "pw-from-env" not in repr(settings)


def test_set_variable_beats_its_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLMIG_TEST_TARGET", "sqlite:///set.db")
    config = write(tmp_path, "target: ${COLMIG_TEST_TARGET:-sqlite:///default.db}\n")
    assert build_settings({"config": config}, {}).target == "sqlite:///set.db"


def test_unset_variable_is_an_error_naming_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLMIG_TEST_UNSET", raising=False)
    config = write(tmp_path, "source: ${COLMIG_TEST_UNSET}\n")
    with pytest.raises(ConfigError) as info:
        build_settings({"config": config}, {})
    assert config in str(info.value)
    assert "COLMIG_TEST_UNSET" in str(info.value)


def test_commented_out_variable_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLMIG_TEST_UNSET", raising=False)
    config = write(tmp_path, "# source: ${COLMIG_TEST_UNSET}\nworkers: 3\n")
    assert build_settings({"config": config}, {}).workers == 3


def test_unknown_key_names_the_file_and_key(tmp_path: Path) -> None:
    config = write(tmp_path, "workers: 2\nbatch_sizee: 10\n")
    with pytest.raises(ConfigError) as info:
        build_settings({"config": config}, {})
    message = str(info.value)
    assert config in message
    assert "batch_sizee" in message
    assert info.value.exit_code == EXIT_CONFIG


def test_bad_yaml_names_line_and_column(tmp_path: Path) -> None:
    config = write(tmp_path, "workers: 2\nbatch-size: 10\n  bad: [\n")
    with pytest.raises(ConfigError) as info:
        build_settings({"config": config}, {})
    assert f"{config}:3:" in str(info.value)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    config = write(tmp_path, "- workers\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        build_settings({"config": config}, {})


def test_missing_config_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError) as info:
        build_settings({"config": missing}, {})
    assert missing in str(info.value)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"COLMIG_WORKERS": "many"}, "COLMIG_WORKERS"),
        ({"COLMIG_VALIDATE": "maybe"}, "COLMIG_VALIDATE"),
        ({"COLMIG_DIRECTION": "sideways"}, "direction"),
        ({"COLMIG_BATCH_SIZE": "0"}, "batch-size"),
        ({"COLMIG_WORKERS": "0"}, "workers"),
    ],
)
def test_bad_values_are_config_errors(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        build_settings({}, env)


def test_verbose_means_debug_unless_log_level_is_given() -> None:
    assert build_settings({"verbose": True}, {}).log_level == "debug"
    assert build_settings({"verbose": True, "log_level": "warning"}, {}).log_level == "warning"


def test_repr_hides_passwords() -> None:
    settings = build_settings({"source": "postgres://u:hunter2-pw@h/db"}, {})
    assert "hunter2-pw" not in repr(settings)


def test_with_copies() -> None:
    settings = Settings()
    changed = settings.with_(workers=9)
    assert (settings.workers, changed.workers) == (4, 9)


@pytest.mark.parametrize(
    ("text", "size"),
    [("1000", 1000), ("512MB", 512_000_000), ("1GiB", 1024**3), ("1.5kb", 1500), ("2 k", 2000)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_size_rejects_garbage() -> None:
    with pytest.raises(ConfigError, match="12 parsecs"):
        parse_size("12 parsecs")
