"""Ingest of new annotations against a real volume and an embedded chunkedgraph, on every
backend: supervoxels checked by numpy indexing of the labels, roots by the graph."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from workflow_world import SEG_TABLE, TABLE, CountingGraph, CountingSource, World, synapse_table

from fixative.errors import Conflict, InvalidInput
from fixative.store import NewTable
from fixative.store import tables as t
from fixative.store.segmentation import SegmentationTable, linked_through
from fixative.workflows import ingest
from fixative.workflows.ingest import ingest_chunk, ingest_table, plan_ingest
from fixative.workflows.progress import RunOptions
from fixative.workflows.update_roots import update_roots


def test_ingest_links_every_row_created_by_then(world: World) -> None:
    ids = world.insert(3000, seed=1, outside=7)
    world.store.update_annotations(
        TABLE, synapse_table(40, seed=2).append_column("id", [ids[:40].tolist()])
    )
    world.store.delete_annotations(TABLE, ids[100:130].tolist())
    at = world.clock()
    later = world.insert(25, seed=3)
    seen: list[tuple[int, int]] = []
    seg, cg = CountingSource(world.seg), CountingGraph(world.cg)

    result = ingest_table(
        world.store,
        seg,
        cg,
        TABLE,
        at,
        RunOptions(chunk_rows=500, report=lambda d, t: seen.append((d, t))),
    )

    assert result.rows == 3040  # the 40 replacements and the 70 replaced/deleted rows included
    assert result.chunks == 7
    assert result.points_without_supervoxel == 7
    assert len(seg.calls) == len(cg.calls) == result.chunks  # one lookup, one get_roots per chunk
    assert sum(seg.calls) == sum(cg.calls) == 2 * 3040
    assert seen[-1] == (3040, 3040)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    world.assert_linked(at)
    linked = set(world.links().column("id").to_pylist())
    assert set(ids[100:130].tolist()) <= linked  # deleted rows are linked too
    assert not set(later.tolist()) & linked  # created after the instant: not yet
    links = world.links()
    outside = links.filter(pc.is_in(links.column("id"), pa.array(ids[-7:])))
    assert outside.column("pre_pt_supervoxel_id").to_pylist() == [0] * 7
    assert outside.column("pre_pt_root_id").to_pylist() == [0] * 7


def test_chunks_run_again_write_nothing_twice(world: World) -> None:
    world.insert(1200, seed=4)
    at = world.clock()
    ranges = plan_ingest(world.store, TABLE, at, chunk_rows=300)
    assert [r.rows for r in ranges] == [300, 300, 300, 300]
    assert all(a.stop <= b.start for a, b in itertools.pairwise(ranges))

    first = [ingest_chunk(world.store, world.seg, world.cg, TABLE, r, at) for r in ranges[:2]]
    # a crash here; the rerun plans again and finds only what is left
    assert [r.rows for r in plan_ingest(world.store, TABLE, at, chunk_rows=300)] == [300, 300]
    again = [ingest_chunk(world.store, world.seg, world.cg, TABLE, r, at) for r in ranges]

    assert [c.rows for c in first] == [300, 300]
    assert [c.rows for c in again] == [0, 0, 300, 300]
    assert [ingest_chunk(world.store, world.seg, world.cg, TABLE, r, at).rows for r in ranges] == [
        0
    ] * 4
    assert world.links().num_rows == 1200
    world.assert_linked(at)


def test_the_next_chunk_is_prepared_while_one_is_written(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.insert(900, seed=5)
    at = world.clock()
    lookups: list[int] = []
    second_lookup = threading.Event()
    real_lookup = world.seg.lookup

    def lookup(points: Any, resolution_nm: Any, *, outside: str = "error") -> Any:
        lookups.append(len(points))
        if len(lookups) == 2:
            second_lookup.set()
        return real_lookup(points, resolution_nm, outside=outside)

    monkeypatch.setattr(world.seg, "lookup", lookup)
    overlapped: list[bool] = []
    real_write = ingest.write_chunk

    def write(store: Any, chunk: ingest.PreparedChunk) -> ingest.IngestCount:
        if not overlapped:  # the first write waits for the second chunk's lookup to start
            overlapped.append(second_lookup.wait(timeout=30))
        return real_write(store, chunk)

    monkeypatch.setattr(ingest, "write_chunk", write)

    result = ingest_table(world.store, world.seg, world.cg, TABLE, at, RunOptions(chunk_rows=300))

    assert overlapped == [True]
    assert len(lookups) == 3
    assert result.rows == 900
    world.assert_linked(at)


def test_rows_inserted_after_an_ingest_are_ingested_next_time(world: World) -> None:
    world.insert(500, seed=5)
    first_at = world.clock()
    assert ingest_table(world.store, world.seg, world.cg, TABLE, first_at).rows == 500
    new_ids = world.insert(80, seed=6)
    second_at = world.clock()

    ranges = plan_ingest(world.store, TABLE, second_at)
    result = ingest_table(world.store, world.seg, world.cg, TABLE, second_at)

    assert [(r.start, r.rows) for r in ranges] == [(int(new_ids[0]), 80)]
    assert result.rows == 80
    assert world.links().num_rows == 580
    update_roots(world.store, world.cg, TABLE, second_at)
    world.assert_linked(second_at)


def test_ingest_refuses_an_instant_before_last_updated(world: World) -> None:
    world.insert(10, seed=7)
    at = world.clock()
    update_roots(world.store, world.cg, TABLE, at)  # sets last_updated
    with pytest.raises(Conflict, match="valid at"):
        plan_ingest(world.store, TABLE, at - timedelta(seconds=1))
    with pytest.raises(InvalidInput, match="time zone"):
        plan_ingest(world.store, TABLE, at.replace(tzinfo=None))


def test_a_table_without_segmentation_is_refused(world: World) -> None:
    world.store.create_table(NewTable("tags", "bound_tag", "av", "alice", (4, 4, 40)))
    with pytest.raises(InvalidInput, match="no segmentation table"):
        plan_ingest(world.store, "tags", world.clock())


def test_empty_table_plans_nothing(world: World) -> None:
    at = world.clock()
    assert plan_ingest(world.store, TABLE, at) == []
    result = ingest_table(world.store, world.seg, world.cg, TABLE, at)
    assert (result.rows, result.chunks) == (0, 0)
    assert np.asarray(world.links().column("id")).size == 0


def test_ingest_searches_only_after_linked_through(world: World) -> None:
    """After an ingest, the next one looks only at annotations created after the table's
    ``linked_through``: a segmentation row removed behind it is not searched for again."""
    ids = world.insert(300, seed=11)
    first = world.clock()
    ingest_table(world.store, world.seg, world.cg, TABLE, first)
    seg = SegmentationTable.of(world.store.get_table(TABLE))
    with world.store.read() as conn:
        mark = linked_through(conn, seg)
    assert mark is not None
    assert mark <= first
    assert mark == world.store.get_table(TABLE).last_modified_at
    with world.store.write() as conn:  # forge a hole behind the mark
        table = world.store._table_object(conn, SEG_TABLE)
        conn.execute(table.delete().where(table.c.id == int(ids[0])))
    later = world.insert(20, seed=12)
    ranges = plan_ingest(world.store, TABLE, world.clock())
    assert sum(r.rows for r in ranges) == 20
    assert ranges[0].start >= int(later.min())
    with world.store.write() as conn:  # an unknown mark searches everything again
        meta = t.segmentation_table_metadata
        conn.execute(meta.update().values(linked_through=None))
    assert sum(r.rows for r in plan_ingest(world.store, TABLE, world.clock())) == 21


def test_writes_during_ingests_are_all_linked(world: World) -> None:
    """Writers and ingests at "now" run at once; whatever their interleaving, the rows created
    before each ingest's mark are linked, so a last ingest leaves no row unlinked."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        try:
            for k in range(25):
                world.insert(7, seed=seed * 100 + k)
        except BaseException as exc:  # reported below
            errors.append(exc)

    def ingest() -> None:
        try:
            while not stop.is_set():
                ingest_table(world.store, world.seg, world.cg, TABLE, world.clock())
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(s,)) for s in (1, 2)]
    ingester = threading.Thread(target=ingest)
    for th in [*writers, ingester]:
        th.start()
    for th in writers:
        th.join()
    stop.set()
    ingester.join()
    assert not errors
    at = world.clock()
    ingest_table(world.store, world.seg, world.cg, TABLE, at)
    world.assert_linked(at)
    assert np.asarray(world.links().column("id")).size == 2 * 25 * 7
