"""A bulk ingest, on every backend: it sets the root-id indexes aside while it writes and builds
them again at the end, even when a chunk fails; indexes an ingest left dropped are restored by
the next; a small ingest into a large table keeps them. On PostgreSQL the chunks of never-linked
id ranges take a COPY-and-insert way, which must write exactly what the general way writes, and
give way to it when a row turns up under its feet."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from workflow_world import TABLE, World

from fixative.store import bulkindex, root_history
from fixative.store.segmentation import IdRange, SegmentationTable, read_unlinked
from fixative.workflows.ingest import ingest_table, link_rows, lookup_supervoxels
from fixative.workflows.progress import RunOptions

ROOT_INDEXES = 4  # pre and post root ids, in the segmentation table and in its history


@pytest.fixture
def small_bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulkindex, "BULK_MIN_ROWS", 100)


def _links(world: World) -> SegmentationTable:
    return SegmentationTable.of(world.store.get_table(TABLE))


def _missing(world: World) -> list[str]:
    with world.store.read() as conn:
        return bulkindex.missing(conn, _links(world))


class WatchingSource:
    """The world's volume, noting at each lookup which root-id indexes are missing, and failing
    at lookup number ``fail_at`` (counting from 1) when given."""

    def __init__(self, world: World, fail_at: int | None = None) -> None:
        self.world, self.fail_at = world, fail_at
        self.missing_seen: list[int] = []

    def lookup(self, points: Any, resolution_nm: Any, *, outside: str = "error") -> Any:
        self.missing_seen.append(len(_missing(self.world)))
        if self.fail_at is not None and len(self.missing_seen) == self.fail_at:
            raise ConnectionError("volume unreachable (injected)")
        return self.world.seg.lookup(points, resolution_nm, outside=outside)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.world.seg, name)


def test_a_bulk_ingest_builds_the_root_indexes_afresh(world: World, small_bulk: None) -> None:
    world.insert(1000, seed=1)
    at = world.clock()
    source = WatchingSource(world)

    result = ingest_table(world.store, source, world.cg, TABLE, at, RunOptions(chunk_rows=300))

    assert result.rows == 1000
    assert source.missing_seen == [ROOT_INDEXES] * 4  # no index maintained while it wrote
    assert _missing(world) == []
    world.assert_linked(at)
    with world.store.read() as conn:  # and the rebuilt indexes answer
        roots = conn.execute(
            sa.text(f'SELECT count(*) FROM "{_links(world).history}" WHERE pre_pt_root_id > 0')
        ).scalar_one()
    assert roots == 1000


def test_a_small_ingest_into_a_large_table_keeps_its_indexes(
    world: World, small_bulk: None
) -> None:
    world.insert(1000, seed=1)
    ingest_table(world.store, world.seg, world.cg, TABLE, world.clock())
    world.insert(150, seed=2)  # 150 rows: bulk-sized, but fewer than the table holds
    at = world.clock()
    source = WatchingSource(world)

    ingest_table(world.store, source, world.cg, TABLE, at)

    assert source.missing_seen == [0]
    world.assert_linked(at)


def test_a_failed_bulk_ingest_still_rebuilds_and_a_rerun_finishes(
    world: World, small_bulk: None
) -> None:
    world.insert(1000, seed=1)
    at = world.clock()
    failing = WatchingSource(world, fail_at=2)

    with pytest.raises(ConnectionError):
        ingest_table(world.store, failing, world.cg, TABLE, at, RunOptions(chunk_rows=300))

    assert _missing(world) == []
    assert world.links().num_rows == 300  # the first chunk's work is kept
    result = ingest_table(world.store, world.seg, world.cg, TABLE, at, RunOptions(chunk_rows=300))
    assert result.rows == 700
    world.assert_linked(at)


def test_indexes_an_ingest_left_dropped_are_restored_by_the_next(world: World) -> None:
    world.insert(50, seed=1)
    with world.store.write() as conn:  # what a bulk ingest killed mid-way leaves
        bulkindex.drop(conn, _links(world))
    assert len(_missing(world)) == ROOT_INDEXES
    at = world.clock()

    ingest_table(world.store, world.seg, world.cg, TABLE, at)

    assert _missing(world) == []
    world.assert_linked(at)


def _link_chunk(world: World, at: datetime) -> tuple[pa.Table, IdRange]:
    """The link rows of every annotation, as an ingest chunk would write them at ``at``."""
    info = world.store.get_table(TABLE)
    links = SegmentationTable.of(info)
    ann = world.annotations()
    ids = ann.column("id").to_numpy()
    id_range = IdRange(int(ids.min()), int(ids.max()) + 1, len(ids))
    with world.store.read() as conn:
        ids, positions, present = read_unlinked(conn, links, id_range, at)
    svs = lookup_supervoxels(world.seg, positions, present, info.voxel_resolution_nm)
    roots = world.cg.get_roots(svs.ravel(), at).reshape(svs.shape)
    return link_rows(links, ids, svs, roots), id_range


def test_the_copy_way_writes_what_the_general_way_writes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = world.insert(400, seed=3)
    world.store.delete_annotations(TABLE, ids[::7].tolist())
    at = world.clock()
    data, id_range = _link_chunk(world, at)
    links = _links(world)

    with world.store.write() as conn:
        root_history.link_new(conn, links, data, id_range, at)
    fast = (world.links().to_pylist(), world.history())
    with world.store.write() as conn:
        conn.exec_driver_sql(f'DELETE FROM "{links.history}"')
        conn.exec_driver_sql(f'DELETE FROM "{links.name}"')
    monkeypatch.setattr(root_history, "_ever_linked", lambda *_: True)  # the general way
    with world.store.write() as conn:
        root_history.link_new(conn, links, data, id_range, at)

    assert (world.links().to_pylist(), world.history()) == fast
    assert len(fast[1]) == 400
    assert all(row["valid_to"] is None for row in fast[1])
    assert sum(row["deleted"] is not None for row in fast[1]) == len(ids[::7])


def test_a_row_written_under_the_copy_way_sends_it_the_general_way(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.insert(300, seed=4)
    at = world.clock()
    data, id_range = _link_chunk(world, at)
    links = _links(world)
    with world.store.write() as conn:  # a twin run of the chunk got there first
        root_history.link_new(conn, links, data.slice(100, 50), id_range, at)
    monkeypatch.setattr(root_history, "_ever_linked", lambda *_: False)  # its check was earlier

    with world.store.write() as conn:
        root_history.link_new(conn, links, data, id_range, at)

    history = world.history()
    assert len(history) == 300  # one interval per row: the twin's 50 are not doubled
    assert [r["id"] for r in history] == sorted(data.column("id").to_pylist())
    world.assert_linked(at)


def _wait_for(read: Any, wanted: Any) -> None:
    """Poll ``read()`` until it returns ``wanted`` (PostgreSQL flushes table statistics to the
    shared view about once a second)."""
    deadline = time.monotonic() + 10
    while read() != wanted:
        assert time.monotonic() < deadline, f"statistics never showed {wanted!r}: {read()!r}"
        time.sleep(0.1)


def test_analyze_if_stale_skips_tables_whose_statistics_are_fresh(world: World) -> None:
    store = world.store
    world.insert(1000, seed=1)

    def estimate() -> float:
        if store.engine.dialect.name != "postgresql":
            return -1.0
        with store.read() as conn:
            found = conn.execute(
                sa.text(f"SELECT reltuples FROM pg_class WHERE relname = '{TABLE}'")
            )
            return float(found.scalar_one())

    def since() -> tuple[int, bool]:
        with store.read() as conn:
            conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            row = conn.execute(
                sa.text(
                    "SELECT n_mod_since_analyze, last_analyze IS NOT NULL FROM "
                    f"pg_stat_user_tables WHERE relname = '{TABLE}'"
                )
            ).one()
            return int(row[0]), bool(row[1])

    if store.engine.dialect.name != "postgresql":
        store.analyze_if_stale(TABLE)
        with store.read() as conn:  # SQLite has no row counts to judge by: always
            assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_stat1").scalar_one() > 0
        return
    _wait_for(since, (1000, False))  # the inserts' counts reached the view
    store.analyze_if_stale(TABLE)  # never analyzed: it is
    assert estimate() == 1000
    _wait_for(since, (0, True))
    world.insert(50, seed=2)  # 5% written since: fresh enough
    _wait_for(since, (50, True))
    store.analyze_if_stale(TABLE)
    assert estimate() == 1000
    world.insert(100, seed=3)  # 15% now: stale
    _wait_for(since, (150, True))
    store.analyze_if_stale(TABLE)
    assert estimate() == 1150
