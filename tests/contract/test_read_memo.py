"""Metadata reads remembered for one request (``fixative.store.memo``): answered once inside a
scope, fresh after any write of the store, never shared with another thread or outside it."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from fixative.store import NewTable, Store, memo
from fixative.store import tables as t
from fixative.testing.annotations import synapse_columns


def _statements(store: Store) -> list[str]:
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    return seen


def test_a_scope_reads_metadata_once_and_forgets_it_on_write(store: Store) -> None:
    store.create_table(NewTable("synapses", "synapse", "av", "u", (8, 8, 40), pcg_table_name="pcg"))
    seen = _statements(store)
    token = memo.open_scope()
    try:
        first = store.get_table("synapses")
        reads = len(seen)
        assert reads > 0
        assert store.get_table("synapses") is first
        assert store.find_table("nope") is None
        unknown = len(seen)
        assert unknown > reads
        assert store.find_table("nope") is None  # an unknown name is remembered too
        assert len(seen) == unknown
        store.insert_annotations("synapses", synapse_columns(5, seed=1))  # a write: forgotten
        after = store.get_table("synapses")
        assert after.last_modified_at > first.last_modified_at

        other: list[object] = []  # another thread has no scope: it reads the database
        thread = threading.Thread(target=lambda: other.append(store.get_table("synapses")))
        before = len(seen)
        thread.start()
        thread.join()
        assert len(seen) > before
        assert other[0] == after
    finally:
        memo.close_scope(token)
    with store.write() as conn:  # outside a scope every read is fresh
        meta = t.annotation_table_metadata
        conn.execute(meta.update().values(description="changed"))
    assert store.get_table("synapses").description == "changed"
