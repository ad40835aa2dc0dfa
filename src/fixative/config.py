"""The one typed settings object, read from a TOML file and ``FIXATIVE_*`` environment variables.

Built once at the entry point (``load_settings``) and passed down; nothing reads the environment
anywhere else. Precedence: explicit overrides > environment > TOML file > defaults.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from fixative.errors import SettingsError

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
CRON_FIELDS = 5
IDENTIFIER_MAX = 63  # PostgreSQL's longest identifier (a version database's name)
VERSION_SUFFIX_MAX = len("__mat") + 10  # "__mat{N}", N an up to 10-digit integer


def _check_name(value: str, what: str) -> str:
    if not NAME_RE.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} must start with a lowercase letter and hold only a-z, 0-9 and _"
        )
    return value


class Schedule(BaseModel):
    """One cron entry of a datastack: what to run and when (UTC)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cron: str
    task: Literal["materialize", "update_roots", "expire"] = "materialize"
    days_to_expire: int = Field(default=7, ge=1)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != CRON_FIELDS:
            raise ValueError(f"cron {value!r} needs 5 fields: minute hour day month weekday")
        from celery.schedules import crontab  # deferred: celery is heavy to import

        minute, hour, day_of_month, month, day_of_week = fields
        try:
            crontab(
                minute=minute,
                hour=hour,
                day_of_month=day_of_month,
                month_of_year=month,
                day_of_week=day_of_week,
            )
        except Exception as exc:
            raise ValueError(f"cron {value!r} is not valid: {exc}") from None
        return value


class DatastackSettings(BaseModel):
    """A datastack: an aligned volume, its segmentation and its chunkedgraph."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    aligned_volume: str
    segmentation_source: str = ""
    chunkedgraph_source: str = ""
    viewer_resolution: tuple[float, float, float] = (8.0, 8.0, 40.0)
    synapse_table: str | None = None
    soma_table: str | None = None
    description: str = ""
    schedules: tuple[Schedule, ...] = ()
    min_versions_kept: int = Field(default=2, ge=1)
    # how its versions are kept: "history" copies nothing (a catalogue row, answered from the
    # live tables' root-id histories); "flat" copies every table into a version database
    version_kind: Literal["flat", "history"] = "history"

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_name(value, "datastack name")

    @field_validator("aligned_volume")
    @classmethod
    def _valid_av(cls, value: str) -> str:
        return _check_name(value, "aligned volume name")

    @field_validator("viewer_resolution")
    @classmethod
    def _positive(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(v <= 0 for v in value):
            raise ValueError("viewer_resolution needs three positive numbers (nm per voxel)")
        return value

    @field_validator("chunkedgraph_source")
    @classmethod
    def _valid_cg(cls, value: str) -> str:
        if value and not re.match(r"^(embedded|static|graphene|https?)://\S+$", value):
            raise ValueError(
                f"chunkedgraph_source {value!r} must be embedded://<table>, static://<table>, "
                "graphene://http(s)://host/segmentation/table/<table> or http(s)://..."
            )
        return value

    @property
    def pcg_table_name(self) -> str:
        """The chunkedgraph table id: the last path component of the chunkedgraph source."""
        source = self.chunkedgraph_source.rstrip("/")
        return source.rsplit("/", 1)[-1] if source else f"{self.name}_pcg"


class Settings(BaseSettings):
    """Everything Fixative can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="FIXATIVE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    home: Path = Path(".fixative")
    database_url: str = ""
    broker_url: str = ""
    # seconds before the broker hands an unacknowledged task (its worker died) to another
    # worker. Keep it above the longest workflow: a live task delivered twice is harmless (the
    # second delivery finds the run held and leaves it) but is then not redelivered again
    task_visibility_timeout: int = Field(default=6 * 3600, ge=1)
    # least seconds between one ingest run of a table ending and the next one that annotation
    # writes trigger starting (writes coalesce into one QUEUED run per table meanwhile)
    ingest_min_interval_s: float = Field(default=5.0, ge=0)
    # seconds after which a RUNNING run whose heartbeat stopped is taken for dead: the reaper
    # (in every worker and in fixative serve) then has it redone, or marks it FAILED
    run_stale_after_s: float = Field(default=120.0, gt=0)
    datastacks: tuple[DatastackSettings, ...] = ()
    max_request_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    query_row_limit: int = Field(default=1_000_000, ge=1)
    # longest a query may run on PostgreSQL before it is cancelled (a 503 naming the limit)
    query_timeout_s: float = Field(default=120.0, gt=0)
    # "tokens": every request needs an API token (fixative token create); "none": the local
    # user may do everything, and fixative serve then only binds to the loopback address
    auth: Literal["none", "tokens"] = "none"
    # prepended to every version database's name ({prefix}{datastack}__mat{N}), so services
    # sharing one PostgreSQL server (or one versions directory) keep their versions apart
    version_database_prefix: str = ""
    # how far back live queries may start from the root-id histories' recorded instants: the
    # complete workflow compacts older intervals that no retained history version needs
    history_window_days: float = Field(default=30.0, ge=0)

    @field_validator("database_url")
    @classmethod
    def _valid_db(cls, value: str) -> str:
        if value and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError(f"database_url {value!r} must start with sqlite:// or postgresql://")
        return value

    @field_validator("broker_url")
    @classmethod
    def _valid_broker(cls, value: str) -> str:
        if value and not re.match(r"^(redis|rediss|memory)://", value):
            raise ValueError(f"broker_url {value!r} must be a redis:// URL")
        return value

    @field_validator("version_database_prefix")
    @classmethod
    def _valid_prefix(cls, value: str) -> str:
        if value and not NAME_RE.fullmatch(value):
            raise ValueError(
                f"version_database_prefix {value!r} must start with a lowercase letter and hold "
                "only a-z, 0-9 and _"
            )
        return value

    @model_validator(mode="after")
    def _version_names_fit(self) -> Settings:
        """``{prefix}{datastack}__mat{N}`` must stay a PostgreSQL identifier for every N."""
        room = IDENTIFIER_MAX - VERSION_SUFFIX_MAX - len(self.version_database_prefix)
        longest = max((ds.name for ds in self.datastacks), key=len, default="x")
        if self.version_database_prefix and len(longest) > room:
            raise ValueError(
                f"version_database_prefix {self.version_database_prefix!r} is too long: with "
                f"datastack {longest!r} the version databases' names would pass "
                f"{IDENTIFIER_MAX} characters"
            )
        return self

    @model_validator(mode="after")
    def _unique_datastacks(self) -> Settings:
        names = [ds.name for ds in self.datastacks]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"datastack names must be unique, repeated: {', '.join(dupes)}")
        return self

    @property
    def live_database_url(self) -> str:
        """The live database: the configured URL, or a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'live.sqlite').resolve()}"

    @property
    def embedded(self) -> bool:
        return self.live_database_url.startswith("sqlite")

    def datastack(self, name: str) -> DatastackSettings:
        for ds in self.datastacks:
            if ds.name == name:
                return ds
        from fixative.errors import NotFound

        raise NotFound(f"datastack {name!r} is not configured")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = active_config_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


_CONFIG_OVERRIDE: list[Path | None] = [None]


def active_config_path() -> Path | None:
    return _config_choice()[0]


def _config_choice() -> tuple[Path | None, str]:
    """The settings file and what chose it (``--config``, ``FIXATIVE_CONFIG``, or where it was
    found), or (None, "")."""
    explicit = _CONFIG_OVERRIDE[0]
    if explicit is not None:
        return explicit, "--config"
    env = os.environ.get("FIXATIVE_CONFIG")
    if env:
        return Path(env), "FIXATIVE_CONFIG"
    home = Path(os.environ.get("FIXATIVE_HOME", ".fixative"))
    for candidate, where in (
        (Path("fixative.toml"), "./"),
        (home / "fixative.toml", "$FIXATIVE_HOME/"),
    ):
        if candidate.is_file():
            return candidate, f"found as {where}fixative.toml"
    return None, ""


@dataclass(frozen=True)
class SettingsSources:
    """Where the settings in effect come from: the file read (None: defaults and environment
    only), what chose it, and the ``FIXATIVE_*`` variables that set a setting (they win over
    the file)."""

    path: Path | None
    chosen_by: str
    environment: tuple[str, ...]


def settings_sources(config_path: Path | str | None = None) -> SettingsSources:
    """What ``load_settings(config_path)`` reads, without reading the settings themselves."""
    path: Path | None
    if config_path is not None:
        path, chosen_by = Path(config_path), "--config"
    else:
        path, chosen_by = _config_choice()
    prefix = (Settings.model_config.get("env_prefix") or "").upper()
    variables = sorted(
        name
        for name in os.environ
        if name.upper().startswith(prefix)
        and name[len(prefix) :].lower().split("__")[0] in Settings.model_fields
    )
    return SettingsSources(path, chosen_by, tuple(variables))


_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/?#@\s]*:)[^@/?#\s]+@", re.IGNORECASE)
_SECRET_PARAMETER = re.compile(
    r"(?P<head>[?&][a-z_]*(?:password|passwd|secret|token|key)=)[^&#\s]+", re.IGNORECASE
)


def redact(text: str) -> str:
    """``text`` with the passwords of URLs in it, and secret-looking query parameters, as ***."""
    text = _URL_PASSWORD.sub(r"\g<head>***@", text)
    return _SECRET_PARAMETER.sub(r"\g<head>***", text)


def _key_of(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "settings"


def load_settings(config_path: Path | str | None = None, **overrides: Any) -> Settings:
    """Read the settings once; a bad value raises ``SettingsError`` naming its key."""
    path = Path(config_path) if config_path is not None else None
    if path is not None and not path.is_file():
        raise SettingsError(f"config file {path} does not exist")
    _CONFIG_OVERRIDE[0] = path
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{_key_of(tuple(err['loc']))}: {err['msg']}" for err in exc.errors())
        raise SettingsError(f"bad setting {problems}") from None
    except ValueError as exc:  # TOML syntax errors surface as ValueError subclasses
        raise SettingsError(f"bad settings file {active_config_path()}: {exc}") from None
    finally:
        _CONFIG_OVERRIDE[0] = None


def settings_summary(settings: Settings) -> Mapping[str, Any]:
    return {
        "home": str(settings.home),
        "database": settings.live_database_url,
        "broker": settings.broker_url or "in-process",
        "datastacks": [ds.name for ds in settings.datastacks],
    }
