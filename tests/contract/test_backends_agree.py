"""The same writes give identical answers on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fixative.store import NewTable, Store, open_store
from fixative.store.tables import all_metadata
from fixative.testing.annotations import synapse_columns, synapse_record
from fixative.testing.clock import TickingClock
from fixative.testing.databases import pg_database, sqlite_url


def _script(store: Store) -> list[pa.Table]:
    store.create_table(NewTable("synapses", "synapse", "av", "u", (8, 8, 40), pcg_table_name="pcg"))
    store.create_table(
        NewTable("cells", "cell_type_local", "av", "u", (8, 8, 40), pcg_table_name="pcg")
    )
    ids = store.insert_annotations("synapses", synapse_columns(500, seed=11)).tolist()
    store.insert_annotations(
        "cells",
        [
            {
                "pt": {"position": [i, 2 * i, 3]},
                "cell_type": f"t{i % 7}",
                "classification_system": "s",
            }
            for i in range(40)
        ],
    )
    store.update_annotations(
        "synapses", [{"id": i, **synapse_record((i, i, i), (i + 1, i, i), 0.5)} for i in ids[:30]]
    )
    store.delete_annotations("synapses", ids[100:150])
    store.delete_annotations("cells", [3, 4, 5])
    clock = store.clock
    assert isinstance(clock, TickingClock)
    start = TickingClock().now
    snapshots = []
    for step in range(12):
        t = start + timedelta(milliseconds=step)
        snapshots.append(store.annotations_at("synapses", t))
        snapshots.append(store.annotations_at("cells", t))
    snapshots.append(store.get_annotations("synapses", ids[:40]))
    return snapshots


def test_sqlite_and_postgres_agree(
    tmp_path: Path, pg_template: str, request: pytest.FixtureRequest
) -> None:
    if request.config.getoption("--db") != "sqlite,postgres":
        pytest.skip("needs both backends")
    lite = open_store(sqlite_url(tmp_path), TickingClock())
    with pg_database(pg_template) as url:
        pg = open_store(url, TickingClock())
        try:
            ours, theirs = _script(lite), _script(pg)
        finally:
            pg.dispose()
            lite.dispose()
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.schema == b.schema
        assert a.equals(b)
    assert any(t.num_rows for t in ours)


def test_migrations_match_table_definitions(store: Store) -> None:
    with store.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), all_metadata())
    problems = [d for d in diff if not (isinstance(d, tuple) and d[0] == "remove_table")]
    assert problems == []
