"""The recommended PostgreSQL settings: the deploy files set them, a server with them draws no
advice, and a live server's real settings are read and judged (made bad or good with ``SET`` in
the session); on SQLite there is nothing to judge."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from fixative.store import open_store
from fixative.store.postgres_tuning import (
    GB,
    MB,
    RECOMMENDATIONS,
    REFERENCE_HOST,
    Host,
    ServerSettings,
    advise,
    check_server,
    check_store,
    deployed_settings,
    read_host,
    read_settings,
)
from fixative.testing.databases import pg_url, sqlite_url

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# what a server reports for the settings the deploy files leave at PostgreSQL's defaults
SAFE_DEFAULTS = {
    "autovacuum": ("on", None),
    "track_counts": ("on", None),
    "fsync": ("on", None),
    "full_page_writes": ("on", None),
    "synchronous_commit": ("on", None),
}


def _command_settings(path: Path) -> dict[str, str]:
    """The ``--name=value`` arguments of the db service's command in a compose file."""
    command = yaml.safe_load(path.read_text(encoding="utf-8"))["services"]["db"]["command"]
    assert command[0] == "postgres"
    return dict(arg.removeprefix("--").split("=", 1) for arg in command[1:])


def _conf_settings(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {name.strip(): value.strip() for name, value in pairs}


def _as_server(values: dict[str, str]) -> ServerSettings:
    """Settings as pg_settings would show them (memory in kB, time in seconds)."""
    rows: dict[str, tuple[str, str | None]] = dict(SAFE_DEFAULTS)
    units = {"MB": MB, "GB": GB}
    for name, value in values.items():
        if value[-2:] in units:
            rows[name] = (str(int(value[:-2]) * units[value[-2:]] // 1024), "kB")
        elif value.endswith("min"):
            rows[name] = (str(int(value[:-3]) * 60), "s")
        else:
            rows[name] = (value, None)
    return ServerSettings(rows)


def test_the_deploy_files_set_the_recommendations_for_the_reference_host() -> None:
    recommended = deployed_settings(REFERENCE_HOST)
    assert _command_settings(DEPLOY / "compose.yaml") == recommended
    hostnet = _command_settings(DEPLOY / "compose.hostnet.yaml")
    assert hostnet.pop("listen_addresses") == "127.0.0.1"
    assert hostnet == recommended
    assert _conf_settings(DEPLOY / "k8s" / "base" / "postgresql.conf") == recommended


def test_a_server_with_the_recommendations_draws_no_advice() -> None:
    for host in (REFERENCE_HOST, Host(8 * GB, 2), Host(64 * GB, 16), Host()):
        assert advise(_as_server(deployed_settings(host)), host) == [], host


def test_pg_defaults_draw_advice_on_what_bulk_work_needs() -> None:
    defaults = {
        "shared_buffers": "128MB",
        "effective_cache_size": "4GB",
        "work_mem": "4MB",
        "maintenance_work_mem": "64MB",
        "max_parallel_maintenance_workers": "2",
        "max_wal_size": "1GB",
        "checkpoint_timeout": "5min",
        "autovacuum_vacuum_scale_factor": "0.2",
        "random_page_cost": "4",
        "effective_io_concurrency": "1",
        "jit": "on",
    }
    found = {a.setting: a for a in advise(_as_server(defaults), Host(32 * GB, 8))}
    assert set(found) == {
        "shared_buffers",
        "effective_cache_size",
        "work_mem",
        "maintenance_work_mem",
        "max_wal_size",
        "random_page_cost",
        "jit",
    }
    assert found["shared_buffers"].current == "128MB"
    assert found["shared_buffers"].recommended == "8GB"  # a quarter of 32 GB
    assert found["effective_cache_size"].recommended == "24GB"
    assert found["max_wal_size"].current == "1GB"
    # without the server's memory, only what is wrong on any server
    unknown = {a.setting for a in advise(_as_server(defaults), Host())}
    assert "effective_cache_size" not in unknown
    assert "shared_buffers" in unknown


def test_unsafe_and_disabled_settings_are_named() -> None:
    settings = {**deployed_settings(), "max_parallel_maintenance_workers": "0"}
    server = _as_server(settings)
    server.rows.update(
        {
            "fsync": ("off", None),
            "full_page_writes": ("off", None),
            "synchronous_commit": ("off", None),
            "track_counts": ("off", None),  # autovacuum does nothing without it
        }
    )
    found = {a.setting: a for a in advise(server, REFERENCE_HOST)}
    assert set(found) == {
        "max_parallel_maintenance_workers",
        "autovacuum",
        "fsync",
        "full_page_writes",
        "synchronous_commit",
    }
    assert found["fsync"].problem.startswith("unsafe")
    assert found["synchronous_commit"].recommended == "on"
    assert "fsync = off (recommended: on): unsafe" in found["fsync"].describe()


def test_every_recommendation_says_why() -> None:
    names = [r.name for r in RECOMMENDATIONS]
    assert len(names) == len(set(names))
    assert all(r.why for r in RECOMMENDATIONS)


# -- a live server -------------------------------------------------------------------------------


@pytest.fixture
def pg() -> Iterator[sa.Connection]:
    """A session on the test server's postgres database (nothing here is written)."""
    engine = sa.create_engine(pg_url("postgres"))
    try:
        with engine.connect() as conn:
            yield conn
            conn.rollback()
    finally:
        engine.dispose()


BAD = {
    "work_mem": "1MB",
    "maintenance_work_mem": "16MB",
    "max_parallel_maintenance_workers": "0",
    "random_page_cost": "4",
    "jit": "on",
    "synchronous_commit": "off",
}


def _set(conn: sa.Connection, values: dict[str, str]) -> None:
    for name, value in values.items():
        conn.execute(sa.text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})


def test_a_live_server_is_read_as_it_is(pg: sa.Connection) -> None:
    settings = read_settings(pg)
    assert {r.name for r in RECOMMENDATIONS} <= set(settings.rows)
    shown = pg.execute(sa.text("SELECT current_setting('shared_buffers')")).scalar_one()
    assert settings.shown("shared_buffers") == shown
    assert settings.number("shared_buffers") >= 128 * 1024  # in bytes
    host = read_host(pg)  # the test role is a superuser on a Linux server
    assert (host.memory_bytes or 0) > GB
    assert (host.cores or 0) >= 1


def test_bad_session_settings_draw_advice_and_good_ones_none(pg: sa.Connection) -> None:
    _set(pg, BAD)
    found = {a.setting: a for a in check_server(pg)}
    assert set(BAD) <= set(found)
    assert found["maintenance_work_mem"].current == "16MB"
    assert found["jit"].current == "on"
    pg.rollback()

    host = read_host(pg)
    good = {n: v for n, v in deployed_settings(host).items() if n in BAD}
    _set(pg, {**good, "synchronous_commit": "on"})
    found = {a.setting: a for a in check_server(pg)}
    assert set(BAD) & set(found) == set()


def test_a_role_that_may_not_read_server_files_gets_an_unknown_host(pg: sa.Connection) -> None:
    role = f"fixative_t_{uuid.uuid4().hex[:10]}"
    pg.exec_driver_sql(f'CREATE ROLE "{role}" NOLOGIN')
    try:
        pg.exec_driver_sql(f'SET LOCAL ROLE "{role}"')
        assert read_host(pg) == Host()
        assert read_settings(pg).text("jit") in {"on", "off"}
    finally:
        pg.rollback()  # the role was made in this transaction


def test_sqlite_has_nothing_to_tune(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path))
    try:
        assert check_store(store) == []
    finally:
        store.dispose()
