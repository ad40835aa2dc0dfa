"""``fixative --version`` and ``fixative config``: the settings in effect, where they came from,
secrets masked."""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import fixative

Cli = Callable[..., subprocess.CompletedProcess[str]]

SETTINGS = """
database_url = "postgresql://fixative:s3cret@db.example.org/live"
broker_url = "redis://:hunter2@127.0.0.1:6379/3"
query_row_limit = 10

[[datastacks]]
name = "demo"
aligned_volume = "demo_av"
segmentation_source = "precomputed://https://ada:pa55@example.org/seg?token=abc123"

[[datastacks.schedules]]
cron = "10 8 * * *"
days_to_expire = 2
"""


def test_version(tmp_path: Path, cli: Cli) -> None:
    shown = cli(["--version"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"fixative {version('fixative')}"
    assert version("fixative") == fixative.__version__  # the OpenAPI document says the same


def test_config_shows_file_environment_and_masks_secrets(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "fixative.toml").write_text(SETTINGS)
    shown = cli(
        ["config"], tmp_path, FIXATIVE_QUERY_ROW_LIMIT="99", FIXATIVE_VERSION_DATABASE_PREFIX="s_"
    )
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert f"# settings file: {tmp_path / 'fixative.toml'} (found as ./fixative.toml)" in out
    assert "FIXATIVE_QUERY_ROW_LIMIT, FIXATIVE_VERSION_DATABASE_PREFIX" in out
    for secret in ("s3cret", "hunter2", "pa55", "abc123"):
        assert secret not in out
    settings = tomllib.loads(out)  # the output is a settings file itself
    assert settings["database_url"] == "postgresql://fixative:***@db.example.org/live"
    assert settings["broker_url"] == "redis://:***@127.0.0.1:6379/3"
    assert settings["query_row_limit"] == 99
    assert settings["version_database_prefix"] == "s_"
    (stack,) = settings["datastacks"]
    assert stack["segmentation_source"] == "precomputed://https://ada:***@example.org/seg?token=***"
    assert stack["schedules"] == [
        {"cron": "10 8 * * *", "task": "materialize", "days_to_expire": 2}
    ]


def test_config_without_a_file(tmp_path: Path, cli: Cli) -> None:
    shown = cli(["config"], tmp_path, FIXATIVE_HOME=str(tmp_path / "home"))
    assert shown.returncode == 0, shown.stderr
    assert "# no settings file: defaults and FIXATIVE_* environment" in shown.stdout
    assert tomllib.loads(shown.stdout)["home"] == str(tmp_path / "home")
    chosen = tmp_path / "elsewhere.toml"
    chosen.write_text('auth = "tokens"\n')
    by_option = cli(["--config", str(chosen), "config"], tmp_path)
    assert f"# settings file: {chosen} (--config)" in by_option.stdout
    assert tomllib.loads(by_option.stdout)["auth"] == "tokens"


def test_a_bad_prefix_stops_the_program_naming_the_key(tmp_path: Path, cli: Cli) -> None:
    for bad in ("Svc-", "9svc"):
        refused = cli(["config"], tmp_path, FIXATIVE_VERSION_DATABASE_PREFIX=bad)
        assert refused.returncode == 1
        assert refused.stderr.startswith("error: bad setting version_database_prefix")
