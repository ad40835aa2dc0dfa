"""Fixtures of the runner tests: a datastack name of each test's own (PostgreSQL version
databases are server-wide) whose version databases are dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from runner_world import RunnerWorld, build_world

from fixative.clock import utc_now
from fixative.store import Store
from fixative.testing.databases import drop_pg_database
from fixative.versions import list_versions


@pytest.fixture
def stack(store: Store) -> Iterator[str]:
    name = f"rs_{uuid.uuid4().hex[:8]}"
    yield name
    if store.dialect_name == "postgresql":
        for v in list_versions(store, name, include_expired=True):
            if v.copied:  # a version kept in the root-id history has no database
                drop_pg_database(v.database)


@pytest.fixture
def world(store: Store, tmp_path: Path, stack: str) -> RunnerWorld:
    store.clock = utc_now  # the demo's history lies in the real past
    return build_world(store, tmp_path, stack)
