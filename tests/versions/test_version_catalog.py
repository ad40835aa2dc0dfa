"""The catalogue: migration 0003 matches the table definitions, metadata in caveclient's shape,
lookups of unknown versions and datastacks."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from version_world import VersionWorld

from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.store import Store
from fixative.store.tables import metadata
from fixative.versions import get_version, latest_version, list_version_tables, open_version
from fixative.versions.model import database_name
from fixative.versions.tables import ALL_TABLES
from fixative.versions.tables import versions as versions_table


def test_migration_matches_table_definitions(store: Store) -> None:
    assert all(t.metadata is metadata for t in ALL_TABLES)
    with store.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    names = {t.name for t in ALL_TABLES}
    assert [d for d in diff if any(n in repr(d) for n in names)] == []


def test_metadata_dict_has_the_keys_caveclient_reads(world: VersionWorld) -> None:
    at = world.clock()
    world.segment(at)
    world.version_at(at, days_to_expire=3)
    meta = get_version(world.store, world.datastack, 1).metadata_dict()
    assert set(meta) == {
        "id",
        "datastack",
        "version",
        "time_stamp",
        "expires_on",
        "status",
        "valid",
        "is_merged",
        "parent_version",
        "pinned",
        "pin_name",
        "kind",
    }
    assert (meta["pinned"], meta["pin_name"], meta["kind"]) == (False, None, "flat")
    assert meta["time_stamp"] == at.isoformat()
    assert (meta["version"], meta["status"], meta["is_merged"]) == (1, "AVAILABLE", True)
    assert latest_version(world.store, world.datastack).version == 1


def test_unknown_and_unavailable_versions(world: VersionWorld) -> None:
    with pytest.raises(NotFound):
        get_version(world.store, world.datastack, 7)
    with pytest.raises(NotFound):
        list_version_tables(world.store, world.datastack, 7)
    with pytest.raises(NotFound):
        latest_version(world.store, world.datastack)
    with pytest.raises(InvalidInput):
        get_version(world.store, 'x"; drop table versions; --', 1)
    at = world.clock()
    world.segment(at)
    world.version_at(at)
    with world.store.write() as conn:
        conn.execute(versions_table.update().values(status="EXPIRED", valid=False))
    with pytest.raises(Conflict, match="EXPIRED"):
        open_version(world.store, world.datastack, 1, version_dir=world.version_dir)


def test_database_names() -> None:
    assert database_name("minnie65", 943) == "minnie65__mat943"
    with pytest.raises(InvalidInput):
        database_name("Bad-Name", 1)
    with pytest.raises(InvalidInput):
        database_name("a" * 60, 1)
