"""Live queries at any instant against the oracle: between versions, before the first, after
the last, at a version's own instant, without any version, with root filters whose ids changed
since the base version, joins and paging; and the refusal of rows not yet ingested."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
import sqlalchemy as sa
from helpers import rows_of
from query_world import PositionVolume, QueryWorld, close_rows

from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.query.engine import QueryEngine
from fixative.query.spec import Filter, Join, QuerySpec
from fixative.store import NewTable

TAG_CELL = Join("tags", "target_id", "cells", "id")
WHEN = ("before", "t1", "mid", "t2", "after", "t3")


def check(
    engine: QueryEngine, world: QueryWorld, when: str, spec: QuerySpec, ds: str | None = None
) -> list[dict]:
    at = world.times[when]
    got = rows_of(engine.live_query(ds or world.datastack, at, spec))
    expected = world.oracle(spec, at)
    assert close_rows(got, expected), (when, spec, got[:3], expected[:3])
    return got


def changed_roots(world: QueryWorld, when: str, base: str) -> list[int]:
    """Pre-point roots at ``when`` that are not roots at ``base`` (merged or split since)."""
    rows = world.rows_at("synapses", world.times[when])
    svs = np.array([r["pre_pt_supervoxel_id"] for r in rows], dtype=np.uint64)
    then = world.cg.get_roots(svs, world.times[base]).tolist()
    return sorted(
        {
            r["pre_pt_root_id"]
            for r, old in zip(rows, then, strict=True)
            if r["pre_pt_root_id"] != old
        }
    )


@pytest.mark.parametrize("when", WHEN)
def test_live_matches_oracle(shared: QueryWorld, shared_engine: QueryEngine, when: str) -> None:
    specs = [
        QuerySpec(("synapses",)),
        QuerySpec(("cells",), filters=(Filter("cells", "cell_type", "regex", "^(pyr|mar)"),)),
        QuerySpec(
            ("tags", "cells"),
            joins=(TAG_CELL,),
            select={"tags": ("tag",), "cells": ("id", "pt_root_id")},
        ),
        QuerySpec(
            ("synapses", "cells", "tags"),
            joins=(Join("synapses", "post_pt_root_id", "cells", "pt_root_id"), TAG_CELL),
            select={"synapses": ("id",), "cells": ("id", "pt_position"), "tags": ("id",)},
            suffixes={"tags": "_tag"},
        ),
        QuerySpec(
            ("synapses",),
            filters=(
                Filter("synapses", "pre_pt_position", "spatial", ((0, 0, 0), (120, 200, 90))),
            ),
        ),
        QuerySpec(
            ("synapses",),
            desired_resolution=(2.0, 2.0, 20.0),
            split_positions=False,
            limit=9,
            offset=4,
        ),
    ]
    for spec in specs:
        check(shared_engine, shared, when, spec)


@pytest.mark.parametrize(
    ("when", "base"), [("mid", "t1"), ("after", "t2"), ("before", "t1"), ("t3", "t2")]
)
def test_root_filters_with_changed_ids(
    shared: QueryWorld, shared_engine: QueryEngine, when: str, base: str
) -> None:
    roots = changed_roots(shared, when, base)
    all_roots = sorted(
        {r["pre_pt_root_id"] for r in shared.rows_at("synapses", shared.times[when])}
    )
    if not roots:
        roots = all_roots[:2]
    syn = "synapses"
    for filters in (
        [Filter(syn, "pre_pt_root_id", "in", roots)],
        [Filter(syn, "pre_pt_root_id", "equal", roots[0])],
        [Filter(syn, "pre_pt_root_id", "not_in", roots)],
        [Filter(syn, "pre_pt_root_id", "greater", roots[0])],
        [Filter(syn, "post_pt_root_id", "in", all_roots[:4]), Filter(syn, "size", "less", 60.0)],
    ):
        check(shared_engine, shared, when, QuerySpec((syn,), filters=tuple(filters)))


def test_some_root_ids_changed(shared: QueryWorld) -> None:
    assert changed_roots(shared, "mid", "t1"), "the world should merge or split between versions"
    assert changed_roots(shared, "after", "t2")


def test_live_paging_is_exact(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    at = shared.times["mid"]
    spec = QuerySpec(("synapses",), select={"synapses": ("id", "pre_pt_root_id")})
    full = rows_of(shared_engine.live_query(shared.datastack, at, spec))
    pages = []
    for offset in range(0, len(full) + 6, 6):
        page = QuerySpec(spec.tables, select=spec.select, offset=offset, limit=6)
        pages.extend(rows_of(shared_engine.live_query(shared.datastack, at, page)))
    assert pages == full == shared.oracle(spec, at)
    sample = rows_of(
        shared_engine.live_query(shared.datastack, at, QuerySpec(("synapses",), random_sample=10))
    )
    assert len(sample) == 10
    assert [r["id"] for r in sample] == sorted(r["id"] for r in sample)


def test_live_without_versions(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    for when in ("before", "mid", "t3"):
        check(shared_engine, shared, when, QuerySpec(("synapses",)), ds="no_versions_here")
        check(
            shared_engine,
            shared,
            when,
            QuerySpec(("tags", "cells"), joins=(TAG_CELL,)),
            ds="no_versions_here",
        )


def test_live_equals_version_at_its_instant(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    spec = QuerySpec(("tags", "cells"), joins=(TAG_CELL,))
    live = rows_of(shared_engine.live_query(shared.datastack, shared.times["t2"], spec))
    version = rows_of(shared_engine.version_query(shared.datastack, 2, spec))
    assert live == version


def test_live_links_rows_not_ingested(world: QueryWorld, engine: QueryEngine) -> None:
    """Rows written since the last ingest are linked by the live query itself (supervoxels
    from the volume, roots at T), in every table that has them, with or without root filters;
    nothing is written to the segmentation tables."""
    linked = QueryEngine(world.store, lambda _ds: world.cg, volumes=lambda _ds: PositionVolume())
    try:
        new = world.insert("synapses", 6)
        cells = world.insert("cells", 3)
        world.store.delete_annotations("synapses", new[:1])
        world.store.update_annotations("cells", [{"id": cells[-1], **world.cell()}])
        at = world.store.clock()
        for spec in (
            QuerySpec(("synapses",)),
            QuerySpec(("tags", "cells"), joins=(TAG_CELL,)),
        ):
            got = rows_of(linked.live_query(world.datastack, at, spec))
            assert close_rows(got, world.oracle(spec, at))
        fresh = [r for r in world.rows_at("synapses", at) if r["id"] in new]
        assert len(fresh) == 5
        wanted = sorted({fresh[0]["pre_pt_root_id"], fresh[1]["pre_pt_root_id"]})
        spec = QuerySpec(
            ("synapses",), filters=(Filter("synapses", "pre_pt_root_id", "in", wanted),)
        )
        got = rows_of(linked.live_query(world.datastack, at, spec))
        assert {fresh[0]["id"], fresh[1]["id"]} <= {r["id"] for r in got}
        assert close_rows(got, world.oracle(spec, at))
        with world.store.read() as conn:
            seg = world.store.table_object("synapses__cg")
            assert not set(conn.execute(sa.select(seg.c.id)).scalars()) & set(new)
    finally:
        linked.close()


def test_live_refuses_rows_not_ingested(world: QueryWorld, engine: QueryEngine) -> None:
    """An engine without volumes, or with more unlinked rows than its cap, refuses."""
    world.insert("synapses", 2)
    at = world.store.clock()
    with pytest.raises(Conflict, match="synapses"):
        rows_of(engine.live_query(world.datastack, at, QuerySpec(("synapses",))))
    capped = QueryEngine(
        world.store, lambda _ds: world.cg, volumes=lambda _ds: PositionVolume(), unlinked_cap=1
    )
    with pytest.raises(Conflict, match="2 row"):
        rows_of(capped.live_query(world.datastack, at, QuerySpec(("synapses",))))
    capped.close()
    # a table without segmentation answers, and so does the synapse table before the insert
    rows_of(engine.live_query(world.datastack, at, QuerySpec(("tags",))))
    check(engine, world, "t3", QuerySpec(("synapses",)))
    world.bring_to(world.store.clock())
    later = world.store.clock()
    got = rows_of(engine.live_query(world.datastack, later, QuerySpec(("synapses",))))
    assert got == world.oracle(QuerySpec(("synapses",)), later)


def test_live_refuses_bad_instants(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    future = shared.store.clock() + timedelta(days=1)
    with pytest.raises(InvalidInput, match="future"):
        shared_engine.live_query(shared.datastack, future, QuerySpec(("synapses",)))
    with pytest.raises(InvalidInput):
        shared_engine.live_query(shared.datastack, "not a time", QuerySpec(("synapses",)))  # type: ignore[arg-type]


def test_table_newer_than_every_version(world: QueryWorld, engine: QueryEngine) -> None:
    """A table no version holds is read from the live database alone, and joins with tables
    that start from a version."""
    world.store.create_table(NewTable("late", "simple_point", "av", "u", (8.0, 8.0, 40.0)))
    ids = world.store.insert_annotations(
        "late", [{"pt": {"position": [i, 2 * i, 3]}} for i in range(1, 30)]
    )
    world.store.delete_annotations("late", [int(ids[0])])
    at = world.store.clock()
    got = rows_of(engine.live_query(world.datastack, at, QuerySpec(("late",))))
    assert [r["id"] for r in got] == [int(i) for i in ids[1:]]
    assert got[0]["pt_position_y"] == 4
    joined = QuerySpec(("cells", "late"), joins=(Join("cells", "id", "late", "id"),))
    rows = rows_of(engine.live_query(world.datastack, at, joined))
    cells = {r["id"] for r in world.rows_at("cells", at)}
    assert [r["id"] for r in rows] == sorted(cells & {int(i) for i in ids[1:]})
    with pytest.raises(NotFound, match="late"):
        engine.version_query(world.datastack, 2, QuerySpec(("late",)))


def test_live_starts_from_the_latest_recorded_instant(
    world: QueryWorld, engine: QueryEngine
) -> None:
    """After the last version, a live query starts from the table's latest recorded instant
    (its root-id history there), and corrects the roots edited since with the chunkedgraph."""
    from fixative.query.live import _base
    from fixative.versions import list_versions

    world.edit_graph(merges=2, splits=1)
    at = world.store.clock()
    base = _base(engine, list_versions(world.store, world.datastack), "synapses", at)
    assert base is not None
    assert (base.info.kind, base.info.time_stamp) == ("history", world.times["t3"])
    world.times["now"] = at
    moved = changed_roots(world, "now", "t3")
    assert moved  # the edits moved some roots since t3
    for spec in (
        QuerySpec(("synapses",)),
        QuerySpec(("synapses",), filters=(Filter("synapses", "pre_pt_root_id", "in", moved),)),
        QuerySpec(("tags", "cells"), joins=(TAG_CELL,)),
    ):
        check(engine, world, "now", spec)
