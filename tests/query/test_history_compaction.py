"""Compaction of the root-id histories never changes an answer at a retained version or inside
the any-instant window, and does drop what nothing needs any more; live queries older than the
window start from a retained version instead."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from helpers import rows_of
from query_world import QueryWorld, close_rows

from fixative.errors import Conflict
from fixative.query.engine import QueryEngine
from fixative.query.spec import Filter, Join, QuerySpec
from fixative.store import tables as t
from fixative.versions import VersionOptions, create_version
from fixative.versions.compaction import compact_histories
from fixative.versions.tables import versions

TAG_CELL = Join("tags", "target_id", "cells", "id")


def make_engine(world: QueryWorld) -> QueryEngine:
    return QueryEngine(world.store, lambda _ds: world.cg, row_cap=1000, batch_rows=16)


def _intervals(world: QueryWorld) -> int:
    with world.store.read() as conn:
        return sum(
            conn.execute(
                sa.select(sa.func.count()).select_from(
                    sa.table(t.history_table_name(f"{name}__cg"))
                )
            ).scalar_one()
            for name in ("synapses", "cells", "nuclei")
        )


def test_compaction_keeps_every_answer_it_must(history_world: QueryWorld) -> None:
    world = history_world
    engine = make_engine(world)
    roots = sorted({r["pre_pt_root_id"] for r in world.rows_at("synapses", world.times["t2"])})
    specs = [
        QuerySpec(("synapses",)),
        QuerySpec(("synapses",), filters=(Filter("synapses", "pre_pt_root_id", "in", roots[:4]),)),
        QuerySpec(("tags", "cells"), joins=(TAG_CELL,)),
        QuerySpec(("nuclei",)),
    ]
    with world.store.write() as conn:  # version 1 expired: only version 2 is retained
        conn.execute(
            versions.update()
            .where(versions.c.datastack == world.datastack, versions.c.version == 1)
            .values(status="EXPIRED", valid=False)
        )
    before = _intervals(world)
    # the window reaches back to just after t2: the history before it is needed by version 2 only
    now = world.store.clock()
    dropped = compact_histories(world.store, None, now, now - world.times["t2"])
    assert sum(dropped.values()) > 0
    assert _intervals(world) == before - sum(dropped.values())
    try:
        for spec in specs:
            got = rows_of(engine.version_query(world.datastack, 2, spec))
            assert close_rows(got, world.oracle(spec, world.times["t2"]))
            for when in ("mid", "t2", "after", "t3"):
                at = world.times[when]
                got = rows_of(engine.live_query(world.datastack, at, spec))
                assert close_rows(got, world.oracle(spec, at)), (when, spec)
        again = compact_histories(world.store, None, now, now - world.times["t2"])
        assert sum(again.values()) == 0
    finally:
        engine.close()


def test_a_pinned_or_retained_version_keeps_its_intervals_whatever_the_window(
    history_world: QueryWorld,
) -> None:
    world = history_world
    engine = make_engine(world)
    now = world.store.clock() + timedelta(days=400)
    compact_histories(world.store, None, now, timedelta(days=1))  # everything is old
    try:
        for version, when in ((1, "t1"), (2, "t2")):
            spec = QuerySpec(("synapses",))
            got = rows_of(engine.version_query(world.datastack, version, spec))
            assert close_rows(got, world.oracle(spec, world.times[when]))
    finally:
        engine.close()


def test_a_history_version_at_a_past_recorded_instant(history_world: QueryWorld) -> None:
    """A history version can be made later at an instant the tables were brought to (t1, long
    after it), and answers as at t1; an instant never recorded is refused."""
    world = history_world
    engine = make_engine(world)
    try:
        made = create_version(
            world.store, world.datastack, world.times["t1"], None, VersionOptions(kind="history")
        )
        for spec in (QuerySpec(("synapses",)), QuerySpec(("tags", "cells"), joins=(TAG_CELL,))):
            got = rows_of(engine.version_query(world.datastack, made.version, spec))
            assert close_rows(got, world.oracle(spec, world.times["t1"]))
        with pytest.raises(Conflict, match="brought to"):
            create_version(
                world.store,
                world.datastack,
                world.times["mid"],
                None,
                VersionOptions(kind="history"),
            )
        with pytest.raises(Conflict, match="not at"):  # a flat copy cannot go back
            create_version(
                world.store, world.datastack, world.times["t1"], None, VersionOptions(kind="flat")
            )
    finally:
        engine.close()
