"""Processes that open the same new live database at once (the API, every worker and the
migration job of a deployment) all succeed, and the schema ends at head exactly once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixative.store import open_store
from fixative.testing.databases import pg_database, sqlite_url

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
    with pg_database(None, prefix="fixative_empty") as url:
        yield url


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
