from __future__ import annotations

from pathlib import Path

import pytest

from fixative.config import load_settings
from fixative.errors import SettingsError

TOML = """
home = "{home}"
database_url = "postgresql://postgres@127.0.0.1:5432/live"

[[datastacks]]
name = "demo"
aligned_volume = "demo_av"
segmentation_source = "precomputed://file:///data/seg"
chunkedgraph_source = "embedded://demo_pcg"
viewer_resolution = [8, 8, 40]

[[datastacks.schedules]]
cron = "10 8 * * 0,2,4,6"
days_to_expire = 2
"""


def test_defaults_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FIXATIVE_HOME", raising=False)
    settings = load_settings()
    assert settings.embedded
    assert settings.live_database_url == f"sqlite:///{tmp_path / '.fixative' / 'live.sqlite'}"
    assert settings.broker_url == ""


def test_toml_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fixative.toml"
    path.write_text(TOML.format(home=tmp_path))
    monkeypatch.setenv("FIXATIVE_BROKER_URL", "redis://127.0.0.1:6379/0")
    settings = load_settings(path)
    assert settings.broker_url == "redis://127.0.0.1:6379/0"
    assert not settings.embedded
    ds = settings.datastack("demo")
    assert ds.pcg_table_name == "demo_pcg"
    assert ds.viewer_resolution == (8.0, 8.0, 40.0)
    assert ds.schedules[0].days_to_expire == 2
    monkeypatch.setenv("FIXATIVE_DATABASE_URL", "sqlite:////tmp/x.sqlite")
    assert load_settings(path).embedded


@pytest.mark.parametrize(
    ("mutation", "key"),
    [
        (('cron = "10 8 * * 0,2,4,6"', 'cron = "every day"'), "datastacks[0].schedules[0].cron"),
        (('cron = "10 8 * * 0,2,4,6"', 'cron = "99 8 * * *"'), "datastacks[0].schedules[0].cron"),
        (
            ("viewer_resolution = [8, 8, 40]", "viewer_resolution = [8, -8, 40]"),
            "viewer_resolution",
        ),
        (('name = "demo"', 'name = "Demo Stack"'), "datastacks[0].name"),
        (("database_url = ", "database_uri = "), "database_uri"),
        (('"embedded://demo_pcg"', '"ftp://x"'), "chunkedgraph_source"),
        (("days_to_expire = 2", "days_to_expire = 0"), "days_to_expire"),
    ],
)
def test_bad_setting_names_the_key(tmp_path: Path, mutation: tuple[str, str], key: str) -> None:
    path = tmp_path / "fixative.toml"
    path.write_text(TOML.format(home=tmp_path).replace(*mutation))
    with pytest.raises(SettingsError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_settings(path)


def test_bad_env_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIXATIVE_BROKER_URL", "amqp://nope")
    with pytest.raises(SettingsError, match="broker_url"):
        load_settings()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "fixative.toml"
    path.write_text("home = [unterminated")
    with pytest.raises(SettingsError):
        load_settings(path)


def test_version_database_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fixative.toml"
    path.write_text(TOML.format(home=tmp_path))
    assert load_settings(path).version_database_prefix == ""
    monkeypatch.setenv("FIXATIVE_VERSION_DATABASE_PREFIX", "lab_a_")
    assert load_settings(path).version_database_prefix == "lab_a_"
    for bad in ("Lab", "lab-a", "_lab", "lab a", "l" * 64):
        monkeypatch.setenv("FIXATIVE_VERSION_DATABASE_PREFIX", bad)
        with pytest.raises(SettingsError, match="version_database_prefix"):
            load_settings(path)
    monkeypatch.setenv("FIXATIVE_VERSION_DATABASE_PREFIX", "p" * 45)  # + "demo__mat{N}" > 63
    with pytest.raises(SettingsError, match=r"version_database_prefix .* too long"):
        load_settings(path)
    monkeypatch.setenv("FIXATIVE_VERSION_DATABASE_PREFIX", "p" * 44)
    assert load_settings(path).version_database_prefix == "p" * 44
