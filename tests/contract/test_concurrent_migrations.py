"""Processes that open the same new live database at once (the API, every worker and the
migration job of a deployment) all succeed, and the schema ends at head exactly once."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixative.store import open_store
from fixative.testing.databases import _admin, drop_pg_database, pg_url, sqlite_url

PROCESSES = 4
OPEN_AND_LIST = (
    "import sys; from fixative.store import open_store; "
    "s = open_store(sys.argv[1]); print(len(s.list_tables())); s.dispose()"
)


@pytest.fixture
def empty_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A live database that exists but holds no table yet."""
    if backend == "sqlite":
        yield sqlite_url(tmp_path)
        return
    name = f"fixative_empty_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


def test_simultaneous_migrations_all_succeed(empty_url: str) -> None:
    store_url = empty_url
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AND_LIST, store_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    outcomes = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [(code, out.strip()) for code, out, _ in outcomes] == [(0, "0")] * PROCESSES, outcomes
    store = open_store(store_url)
    try:
        with store.read() as conn:
            heads = conn.execute(sa.text("SELECT version_num FROM fixative_alembic_version")).all()
        assert len(heads) == 1
    finally:
        store.dispose()
