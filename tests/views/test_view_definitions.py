"""Stored view definitions on both backends: created only after the SQL checks and plans on
each backend, names unique per datastack and apart from tables, listed and deleted."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.store import NewTable, Store
from fixative.store.tables import metadata
from fixative.views.definitions import create_view, delete_view, get_view, list_views
from fixative.views.model import NewView
from fixative.views.tables import view_definitions

AV = "av"


@pytest.fixture
def tables(store: Store) -> Store:
    store.create_table(NewTable("synapses", "synapse", AV, "u", (4, 4, 40), pcg_table_name="pcg"))
    store.create_table(NewTable("cells", "cell_type_local", AV, "u", (4, 4, 40)))
    return store


def _new(name: str, sql: str) -> NewView:
    return NewView("ds", name, sql, "u", (4.0, 4.0, 40.0))


def test_migration_matches_the_table_definition(store: Store) -> None:
    assert view_definitions.metadata is metadata
    with store.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if "view_definitions" in repr(d)] == []


def test_create_list_get_delete(tables: Store) -> None:
    sql = "SELECT id % 2 AS parity, '100%' AS label, pre_pt_root_id FROM synapses"
    made = create_view(tables, AV, _new("parities", sql))
    assert (made.name, made.sql, made.voxel_resolution_nm) == ("parities", sql, (4.0, 4.0, 40.0))
    assert get_view(tables, "ds", "parities") == made
    with pytest.raises(Conflict):
        create_view(tables, AV, _new("parities", sql))
    with pytest.raises(Conflict):
        create_view(tables, AV, _new("cells", sql))
    assert list_views(tables, "other") == []
    assert [v.name for v in list_views(tables, "ds")] == ["parities"]
    delete_view(tables, "ds", "parities")
    with pytest.raises(NotFound):
        get_view(tables, "ds", "parities")


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE cells",
        "SELECT id FROM cells; DELETE FROM cells",
        "SELECT id FROM cells /* */ WHERE id > 1",
        "SELECT pg_sleep(5) AS s FROM cells",
        "SELECT nope FROM cells",
        "SELECT id FROM nowhere",
    ],
)
def test_refused_sql_stores_nothing(tables: Store, sql: str) -> None:
    with pytest.raises(InvalidInput):
        create_view(tables, AV, _new("bad", sql))
    assert list_views(tables, "ds") == []
    assert [t.table_name for t in tables.list_tables()] == ["cells", "synapses"]


def test_sql_a_backend_refuses_is_refused_when_defined(tables: Store) -> None:
    """PostgreSQL has no max(boolean); SQLite (where live views run) has no such gap here."""
    sql = "SELECT max(size > 1) AS any_big FROM synapses"
    if tables.dialect_name == "postgresql":
        with pytest.raises(InvalidInput, match="fails on postgresql"):
            create_view(tables, AV, _new("any_big", sql))
        assert list_views(tables, "ds") == []
    else:
        create_view(tables, AV, _new("any_big", sql))


def test_bad_names_and_resolutions(tables: Store) -> None:
    for name in ("Bad", "a__b", "pg_view", ""):
        with pytest.raises(InvalidInput):
            create_view(tables, AV, _new(name, "SELECT id FROM cells"))
    bad = NewView("ds", "ok", "SELECT id FROM cells", "u", (0.0, 4.0, 40.0))
    with pytest.raises(InvalidInput, match="voxel_resolution"):
        create_view(tables, AV, bad)
