"""Root-id updates after merges and splits, on every backend: the result must equal a full
re-resolve (get_roots of every stored supervoxel at T), and the work must be the rows holding
expired roots, counted."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa
from workflow_world import POINTS, SEG_TABLE, TABLE, CountingGraph, World

from fixative.errors import Conflict
from fixative.workflows.ingest import ingest_table
from fixative.workflows.progress import RunOptions
from fixative.workflows.refresh import refresh_table
from fixative.workflows.update_roots import (
    AllRoots,
    ExpiredRoots,
    NullRoots,
    plan_update_roots,
    run_update_roots,
    update_roots,
    update_roots_chunk,
)


def _edit(world: World) -> None:
    """Two merges and two splits touching six of the 32 neurons."""
    c = world.chains
    world.cg.merge(int(c[0, 0]), int(c[1, 3]), "ed")
    world.cg.split([int(v) for v in c[2, :3]], [int(v) for v in c[2, 3:]], "ed")
    world.cg.merge(int(c[3, 7]), int(c[4, 0]), "ed")
    world.cg.split([int(c[3, 0])], [int(c[4, 7])], "ed")  # cuts the fresh merge again
    world.cg.split([int(v) for v in c[5, :6]], [int(v) for v in c[5, 6:]], "ed")


def _changed_pairs(world: World, since: datetime, until: datetime) -> int:
    """(row, point) pairs whose root differs between the two instants: the oracle's count."""
    links = world.links()
    changed = 0
    for p in POINTS:
        svs = np.asarray(links.column(f"{p}_supervoxel_id").to_numpy()).astype(np.uint64)
        changed += int((world.cg.get_roots(svs, since) != world.cg.get_roots(svs, until)).sum())
    return changed


def test_refresh_after_edits_touches_only_rows_holding_expired_roots(world: World) -> None:
    world.insert(3000, seed=11)
    first = world.clock()
    refresh_table(world.store, world.seg, world.cg, TABLE, first)
    assert world.store.get_table(TABLE).last_updated_at == first
    _edit(world)
    world.insert(200, seed=12)
    at = world.clock()
    expected = _changed_pairs(world, first, at)
    cg = CountingGraph(world.cg)
    seen: list[tuple[int, int]] = []

    result = refresh_table(
        world.store, world.seg, cg, TABLE, at, RunOptions(500, lambda d, t: seen.append((d, t)))
    )

    assert 0 < expected < 6000 // 4  # a handful of edits changes a small part of the table
    assert result.roots.rows_touched == expected
    assert result.ingest.rows == 200
    assert sum(cg.calls) == 2 * 200 + expected  # every supervoxel resolved was needed
    assert result.roots.since == first
    assert world.store.get_table(TABLE).last_updated_at == at
    assert seen[-1] == (200 + expected, 200 + expected)
    world.assert_linked(at)


def test_update_chunks_run_again_touch_nothing(world: World) -> None:
    world.insert(2000, seed=13)
    first = world.clock()
    refresh_table(world.store, world.seg, world.cg, TABLE, first)
    _edit(world)
    at = world.clock()
    plan = plan_update_roots(world.store, world.cg, TABLE, at, chunk_rows=100)
    assert plan.chunks
    assert all(isinstance(c, ExpiredRoots) for c in plan.chunks)
    assert plan.rows == _changed_pairs(world, first, at)
    half = len(plan.chunks) // 2

    done = [update_roots_chunk(world.store, world.cg, TABLE, c, at) for c in plan.chunks[:half]]
    # a crash here: planning again finds only the rest, and a finished chunk finds nothing
    rest = plan_update_roots(world.store, world.cg, TABLE, at, chunk_rows=100)
    assert rest.rows == plan.rows - sum(done)
    assert update_roots_chunk(world.store, world.cg, TABLE, plan.chunks[0], at) == 0
    result = run_update_roots(world.store, world.cg, rest)

    assert [c.rows for c in plan.chunks[:half]] == done
    assert result.rows_touched == rest.rows
    assert world.store.get_table(TABLE).last_updated_at == at
    assert plan_update_roots(world.store, world.cg, TABLE, at).chunks == ()
    world.assert_linked(at)


def test_a_table_never_resolved_has_every_row_resolved(world: World) -> None:
    world.insert(900, seed=14)
    first = world.clock()
    ingest_table(world.store, world.seg, world.cg, TABLE, first)  # last_updated stays NULL
    _edit(world)
    at = world.clock()

    plan = plan_update_roots(world.store, world.cg, TABLE, at, chunk_rows=400)
    result = run_update_roots(world.store, world.cg, plan)

    assert all(isinstance(c, AllRoots) for c in plan.chunks)
    assert [c.rows for c in plan.chunks] == [400, 400, 100]
    assert result.rows_touched == 900
    assert world.store.get_table(TABLE).last_updated_at == at
    world.assert_linked(at)


def test_null_roots_are_resolved_once_in_their_own_pass(world: World) -> None:
    ids = world.insert(1500, seed=15)
    first = world.clock()
    refresh_table(world.store, world.seg, world.cg, TABLE, first)
    with world.store.write() as conn:
        seg = world.store._table_object(conn, SEG_TABLE)
        conn.execute(
            seg.update().where(seg.c.id.in_(ids[:50].tolist())).values(pre_pt_root_id=None)
        )
        conn.execute(
            seg.update().where(seg.c.id.in_(ids[40:70].tolist())).values(post_pt_root_id=None)
        )
    _edit(world)
    at = world.clock()
    with world.store.read() as conn:
        nulls = conn.execute(
            sa.select(sa.func.count()).select_from(seg).where(seg.c.pre_pt_root_id.is_(None))
        ).scalar_one()
    assert nulls == 50
    expired = _changed_pairs_excluding_nulls(world, first, at)

    plan = plan_update_roots(world.store, world.cg, TABLE, at, chunk_rows=20)
    null_chunks = [c for c in plan.chunks if isinstance(c, NullRoots)]
    result = run_update_roots(world.store, world.cg, plan)

    assert sorted({(c.point, c.rows) for c in null_chunks}) == [
        ("post_pt", 10),
        ("post_pt", 20),
        ("pre_pt", 10),
        ("pre_pt", 20),
    ]
    assert sum(c.rows for c in null_chunks) == 80
    assert result.rows_touched == expired + 80
    world.assert_linked(at)


def _changed_pairs_excluding_nulls(world: World, since: datetime, until: datetime) -> int:
    links = world.links()
    changed = 0
    for p in POINTS:
        svs = np.asarray(links.column(f"{p}_supervoxel_id").to_numpy()).astype(np.uint64)
        known = np.asarray(links.column(f"{p}_root_id").is_valid().to_numpy(zero_copy_only=False))
        moved = world.cg.get_roots(svs, since) != world.cg.get_roots(svs, until)
        changed += int((moved & known).sum())
    return changed


def test_update_refuses_an_instant_before_last_updated(world: World) -> None:
    world.insert(10, seed=16)
    at = world.clock()
    update_roots(world.store, world.cg, TABLE, at)
    with pytest.raises(Conflict, match="earlier instant"):
        update_roots(world.store, world.cg, TABLE, at - timedelta(milliseconds=5))
    again = update_roots(world.store, world.cg, TABLE, at)
    assert (again.rows_touched, again.expired_root_ids) == (0, 0)
