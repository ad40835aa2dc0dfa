"""``version_database_prefix``: a version is built in ``{prefix}{datastack}__mat{N}``, queried
there, and expiry, cleanup and recovery drop only the prefixed databases the catalogue made;
another service's unprefixed ``{datastack}__mat{N}`` on the same server is never touched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from version_world import VersionWorld

from fixative.chunkedgraph.port import ChunkedGraph
from fixative.errors import InvalidInput
from fixative.query.engine import QueryEngine
from fixative.query.spec import QuerySpec
from fixative.store import Store
from fixative.versions import (
    database_name,
    expire_versions,
    get_version,
    open_version,
    recover_versions,
    version_of_database,
)
from fixative.versions.tables import versions

PREFIX = "svc_"


@pytest.fixture
def prefixed(world: VersionWorld) -> Iterator[VersionWorld]:
    """The world with the prefix set, and another service's unprefixed databases for versions 1
    and 3 on the same server (or in the same versions directory)."""
    world.store.version_database_prefix = PREFIX
    foreign = [database_name(world.datastack, n) for n in (1, 3)]
    for name in foreign:
        world.target.create(name)
    yield world
    for n in range(1, 4):
        world.target.drop(database_name(world.datastack, n, PREFIX))
    for name in foreign:
        world.target.drop(name)


def _version(world: VersionWorld) -> datetime:
    at = world.clock()
    world.segment(at)
    world.version_at(at, days_to_expire=1)
    return at


def _no_graph(datastack: str) -> ChunkedGraph:
    raise AssertionError("a version query needs no chunkedgraph")


def _count(store: Store, world: VersionWorld, version: int) -> int:
    engine = QueryEngine(store, _no_graph, row_cap=1000, version_dir=world.version_dir)
    try:
        return engine.version_count(world.datastack, version, QuerySpec(("synapses",)))
    finally:
        engine.close()


def test_a_prefixed_version_is_built_queried_and_expired(prefixed: VersionWorld) -> None:
    world, ds = prefixed, prefixed.datastack
    first = _version(world)
    info = get_version(world.store, ds, 1)
    assert info.database == f"{PREFIX}{ds}__mat1"
    assert version_of_database(info.database, ds, PREFIX) == 1
    assert version_of_database(info.database, ds) is None
    assert world.target.exists(info.database)
    engine = open_version(world.store, ds, 1, version_dir=world.version_dir)
    try:
        assert world.version_rows(engine, "synapses") == world.oracle("synapses", first)
    finally:
        engine.dispose()
    assert _count(world.store, world, 1) == len(world.oracle("synapses", first))

    second = _version(world)
    world.store.version_database_prefix = ""  # a changed setting does not lose built versions
    assert get_version(world.store, ds, 2).database == f"{PREFIX}{ds}__mat2"
    done = expire_versions(
        world.store, ds, second + timedelta(days=2), min_kept=1, version_dir=world.version_dir
    )
    assert done.expired == (1,)
    assert not world.target.exists(info.database)
    assert world.target.exists(database_name(ds, 1))  # the other service's: untouched
    assert world.target.exists(get_version(world.store, ds, 2).database)


def test_recovery_drops_only_the_prefixed_partial_database(prefixed: VersionWorld) -> None:
    world, ds = prefixed, prefixed.datastack
    _version(world)
    _version(world)
    _version(world)
    with world.store.write() as conn:  # version 3's build "was interrupted"
        conn.execute(versions.update().where(versions.c.version == 3).values(status="RUNNING"))
    stale = recover_versions(
        world.store,
        grace=timedelta(0),
        now=world.clock() + timedelta(days=1),
        version_dir=world.version_dir,
    )
    assert [v.version for v in stale] == [3]
    assert get_version(world.store, ds, 3).status == "FAILED"
    assert not world.target.exists(f"{PREFIX}{ds}__mat3")
    assert world.target.exists(database_name(ds, 3))
    expire_versions(world.store, ds, world.clock(), version_dir=world.version_dir)
    assert world.target.exists(database_name(ds, 3))  # the FAILED row's cleanup neither


def test_rows_from_before_recorded_names_read_unprefixed(prefixed: VersionWorld) -> None:
    world, ds = prefixed, prefixed.datastack
    _version(world)
    with world.store.write() as conn:
        conn.execute(versions.update().values(database=sa.null()))
    assert get_version(world.store, ds, 1).database == f"{ds}__mat1"


def test_prefixed_names_are_checked() -> None:
    assert database_name("minnie65", 943, "svc_") == "svc_minnie65__mat943"
    for bad in ("Svc", "1svc", "svc-", "svc\n"):
        with pytest.raises(InvalidInput, match="prefix"):
            database_name("minnie65", 1, bad)
    with pytest.raises(InvalidInput, match="63"):
        database_name("a" * 48, 1, "p" * 10)
