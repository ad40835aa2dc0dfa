"""The flat segmentation adapter: every supervoxel is its own root, forever."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from fixative.chunkedgraph.static import StaticChunkedGraph

BUILT = datetime(2025, 6, 1, tzinfo=UTC)
LATER = datetime(2026, 6, 1, tzinfo=UTC)
BIG = 2**63 - 2


def test_roots_are_the_supervoxels_at_every_instant() -> None:
    graph = StaticChunkedGraph("flat", BUILT)
    ids = np.array([BIG, 0, 5, 5], dtype=np.uint64)
    for at in (None, BUILT, LATER):
        got = graph.get_roots(ids, at)
        assert got.dtype == np.uint64
        assert got.tolist() == [BIG, 0, 5, 5]
    assert graph.get_roots([]).size == 0


def test_nothing_is_ever_superseded() -> None:
    graph = StaticChunkedGraph("flat", BUILT, clock=lambda: LATER)
    assert graph.is_latest_roots([0, 3, BIG]).tolist() == [False, True, True]
    old, new = graph.get_delta_roots(BUILT, LATER)
    assert old.size == 0
    assert new.size == 0
    assert graph.get_root_timestamps([3, BIG]) == [BUILT, BUILT]
    assert graph.get_root_timestamps([3], latest=True) == [LATER]
    assert graph.get_root_timestamps([3], latest=True, at=BUILT) == [BUILT]


def test_lineage_is_trivial() -> None:
    graph = StaticChunkedGraph("flat", BUILT)
    assert graph.get_past_id_mapping([3, BIG], BUILT, LATER) == (
        {3: [3], BIG: [BIG]},
        {3: 3, BIG: BIG},
    )
    body = graph.get_lineage_graph([BIG, 3, 3])
    assert [n["id"] for n in body["nodes"]] == [3, BIG]
    assert body["links"] == []
    assert body["nodes"][0]["timestamp"] == BUILT.timestamp()
    assert graph.get_leaves(BIG).tolist() == [BIG]
    assert graph.get_oldest_timestamp() == BUILT
    assert graph.table_id == "flat"
