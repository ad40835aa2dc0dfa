"""Which commands create the live database: only ``init``, ``demo`` and ``demo-data``. Every other
command told of a database that does not exist (a mistyped URL) says so and creates nothing, on
both backends."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from fixative.testing.databases import PG_SERVER, drop_pg_database, pg_url

Cli = Callable[..., subprocess.CompletedProcess[str]]

CONFIG = '[[datastacks]]\nname = "demo"\naligned_volume = "demo_av"\n'
NOT_CREATING = (
    ["tables"],
    ["status"],
    ["version", "list", "demo"],
    ["token", "list"],
    ["group", "list"],
    ["doctor", "demo"],
    ["ingest", "demo"],
    ["materialize", "demo"],
    ["submit", "expire", "demo"],
    ["serve", "--port", "0"],
)


def _pg_exists(name: str) -> bool:
    engine = sa.create_engine(f"{PG_SERVER}/postgres")
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
    finally:
        engine.dispose()
    return found is not None


def _table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _create_empty_pg(name: str) -> None:
    engine = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()


def test_only_init_creates_the_database_a_url_names(tmp_path: Path, cli: Cli, backend: str) -> None:
    (tmp_path / "fixative.toml").write_text(CONFIG)
    home = tmp_path / "home"
    name = f"fixative_no_such_db_{uuid.uuid4().hex[:10]}"
    missing = tmp_path / "typo" / "live.sqlite"
    url = f"sqlite:///{missing}" if backend == "sqlite" else pg_url(name)
    env = {"FIXATIVE_HOME": str(home), "FIXATIVE_DATABASE_URL": url}
    try:
        for args in NOT_CREATING:
            got = cli(args, tmp_path, **env)
            assert got.returncode == 1, (args, got.stdout, got.stderr)
            assert "does not exist (run `fixative init`)" in got.stderr, (args, got.stderr)
            assert "Traceback" not in got.stderr
        assert not home.exists()
        assert not missing.parent.exists()
        assert backend == "sqlite" or not _pg_exists(name)

        made = cli(["init"], tmp_path, **env)
        assert made.returncode == 0, made.stderr
        listed = cli(["tables"], tmp_path, **env)
        assert listed.returncode == 0, listed.stderr
    finally:
        if backend == "postgres":
            drop_pg_database(name)


def test_a_database_fixative_never_set_up_is_not_taken_over(
    tmp_path: Path, cli: Cli, backend: str
) -> None:
    """An existing database without Fixative's tables (an empty file, another application's
    database) is named, not initialized behind the user's back; ``init`` sets it up."""
    name = f"fixative_foreign_{uuid.uuid4().hex[:10]}"
    empty = tmp_path / "empty.sqlite"
    if backend == "sqlite":
        empty.touch()
        url = f"sqlite:///{empty}"
    else:
        _create_empty_pg(name)
        url = pg_url(name)
    env = {"FIXATIVE_HOME": str(tmp_path / "home"), "FIXATIVE_DATABASE_URL": url}
    try:
        got = cli(["tables"], tmp_path, **env)
        assert got.returncode == 1
        assert "exists but holds no Fixative tables (run `fixative init`)" in got.stderr
        assert not {"fixative_alembic_version", "annotation_table_metadata"} & _table_names(url)
        assert cli(["init"], tmp_path, **env).returncode == 0
        assert cli(["tables"], tmp_path, **env).returncode == 0
    finally:
        if backend == "postgres":
            drop_pg_database(name)
