"""Fixtures for the version tests. On PostgreSQL the datastack is named after the test's live
database, so every version database it creates carries that prefix and is dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from version_world import VersionWorld

from fixative.store import Store
from fixative.testing.clock import TickingClock
from fixative.testing.databases import drop_pg_database


def _leftover_databases(store: Store, prefix: str) -> list[str]:
    with store.engine.connect() as conn:
        names = conn.execute(
            sa.text("SELECT datname FROM pg_database WHERE starts_with(datname, :p)"),
            {"p": prefix + "__mat"},
        ).scalars()
        return list(names)


@pytest.fixture
def datastack(store: Store) -> Iterator[str]:
    if store.dialect_name == "sqlite":
        yield "demo_ds"
        return
    name = store.engine.url.database
    assert name
    yield name
    for leftover in _leftover_databases(store, name):
        drop_pg_database(leftover)


@pytest.fixture
def world(store: Store, clock: TickingClock, datastack: str, tmp_path: Path) -> VersionWorld:
    built = VersionWorld(store, clock, datastack, tmp_path / "versions")
    built.build()
    return built
