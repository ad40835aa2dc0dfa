"""``fixative doctor`` warns of PostgreSQL settings that hurt the workload, as warnings that never
fail it: a setting made bad on the live database (``ALTER DATABASE ... SET``) is named, made good
it is not; on SQLite there is nothing to warn of."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixative.store import Store
from fixative.testing.databases import pg_url

Cli = Callable[..., subprocess.CompletedProcess[str]]
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def doctor(tmp_path: Path, cli: Cli, store_url: str, store: Store, stack: str) -> Run:
    """``fixative doctor`` on a datastack with nothing in it, on the test's live database (made
    by ``store``)."""
    config = tmp_path / "stack.toml"
    config.write_text(
        f'[[datastacks]]\nname = "{stack}"\naligned_volume = "av"\n'
        'segmentation_source = "precomputed://file:///nowhere"\n'
        'chunkedgraph_source = "embedded://nowhere"\n'
    )
    env = {"FIXATIVE_HOME": str(tmp_path / "home"), "FIXATIVE_DATABASE_URL": store_url}

    def run() -> subprocess.CompletedProcess[str]:
        return cli(["--config", str(config), "doctor", stack], tmp_path, COLUMNS="80", **env)

    return run


def _alter_database(store_url: str, settings: dict[str, str]) -> None:
    """Set ``settings`` for every new session on the live database."""
    name = sa.make_url(store_url).database
    engine = sa.create_engine(pg_url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for setting, value in settings.items():
                conn.exec_driver_sql(f"ALTER DATABASE \"{name}\" SET {setting} = '{value}'")
    finally:
        engine.dispose()


def _warned(out: str) -> dict[str, str]:
    lines = [line.removeprefix("warning: ") for line in out.splitlines()]
    return {line.split(" = ")[0]: line for line in lines if " = " in line}


def test_doctor_warns_of_bad_settings_and_still_exits_zero(
    doctor: Run, store_url: str, backend: str
) -> None:
    if backend == "sqlite":
        done = doctor()
        assert done.returncode == 0, done.stderr
        assert "warning" not in done.stdout + done.stderr
        assert "nothing blocks its workflows" in done.stdout
        return

    _alter_database(store_url, {"maintenance_work_mem": "16MB", "jit": "on", "work_mem": "1MB"})
    bad = doctor()
    assert bad.returncode == 0, bad.stderr
    warned = _warned(bad.stdout)
    assert "maintenance_work_mem = 16MB (recommended:" in warned["maintenance_work_mem"]
    assert "jit = on (recommended: off)" in warned["jit"]
    assert "work_mem" in warned
    assert "postgis" not in warned  # the live database has it
    assert "nothing blocks its workflows" in bad.stdout

    _alter_database(store_url, {"maintenance_work_mem": "1GB", "jit": "off", "work_mem": "256MB"})
    good = doctor()
    assert good.returncode == 0, good.stderr
    assert {"maintenance_work_mem", "jit", "work_mem"} & set(_warned(good.stdout)) == set()
