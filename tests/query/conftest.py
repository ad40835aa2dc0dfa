"""Fixtures for the query tests.

``world``/``engine``: a ``QueryWorld`` built on the function-scoped ``store`` (for tests that
write). ``shared``/``shared_engine``: one world per backend for the session, built the same way on a
throw-away database, for the many read-only tests (building a world with two versions takes
seconds on PostgreSQL). On PostgreSQL a datastack is named after its live database so its version
databases are dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext

import pytest
import sqlalchemy as sa
from query_world import QueryWorld

from fixative.query.engine import QueryEngine
from fixative.store import Store, open_store
from fixative.testing.clock import TickingClock
from fixative.testing.databases import drop_pg_database, pg_database, sqlite_url


def _datastack_of(store: Store) -> str:
    if store.dialect_name == "sqlite":
        return "demo_ds"
    name = store.engine.url.database
    assert name
    return name


def _drop_versions(store: Store, datastack: str) -> None:
    if store.dialect_name == "sqlite":
        return
    with store.engine.connect() as conn:
        names = list(
            conn.execute(
                sa.text("SELECT datname FROM pg_database WHERE starts_with(datname, :p)"),
                {"p": datastack + "__mat"},
            ).scalars()
        )
    for leftover in names:
        drop_pg_database(leftover)


def make_engine(world: QueryWorld) -> QueryEngine:
    return QueryEngine(world.store, lambda _ds: world.cg, row_cap=1000, batch_rows=16)


@pytest.fixture
def world(store: Store, clock: TickingClock) -> Iterator[QueryWorld]:
    datastack = _datastack_of(store)
    yield QueryWorld(store, clock, datastack).build()
    _drop_versions(store, datastack)


@pytest.fixture
def history_world(store: Store, clock: TickingClock) -> Iterator[QueryWorld]:
    """The world with its versions kept as rows of the root-id history, per test."""
    datastack = _datastack_of(store)
    yield QueryWorld(store, clock, datastack, kind="history").build()
    _drop_versions(store, datastack)


@pytest.fixture
def engine(world: QueryWorld) -> Iterator[QueryEngine]:
    built = make_engine(world)
    yield built
    built.close()


@pytest.fixture(scope="session", params=["flat", "history"])
def shared(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[QueryWorld]:
    """The world, once per backend and per kind of version (copies, or rows of the root-id
    history): every test on it checks both against the same oracle."""
    database: AbstractContextManager[str]
    if backend == "sqlite":
        database = nullcontext(sqlite_url(tmp_path_factory.mktemp("query_world")))
    else:
        database = pg_database(request.getfixturevalue("pg_template"))
    with database as url:
        clock = TickingClock()
        store = open_store(url, clock)
        datastack = _datastack_of(store)
        try:
            yield QueryWorld(store, clock, datastack, kind=request.param).build()
        finally:
            _drop_versions(store, datastack)
            store.dispose()


@pytest.fixture(scope="session")
def shared_engine(shared: QueryWorld) -> Iterator[QueryEngine]:
    built = make_engine(shared)
    yield built
    built.close()
