"""The database is the truth: other instances and other processes see every edit, and an edit
that fails half-way leaves no trace."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import numpy as np
import pytest

from fixative.chunkedgraph import persist
from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.errors import Transient
from fixative.store import Store, open_store
from fixative.testing.clock import TickingClock

SVS = list(range(1, 12))

READER = """
import json, sys
from datetime import datetime
from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.store import open_store

store = open_store(sys.argv[1], migrate=False)
graph = EmbeddedChunkedGraph.open(store, "pcg")
instants = [datetime.fromisoformat(s) for s in json.loads(sys.argv[2])]
print(json.dumps({
    "roots": [graph.get_roots(list(range(1, 12)), at).tolist() for at in instants],
    "operations": [[o.operation_id, o.kind, o.user_id, o.timestamp.isoformat(),
                    list(o.old_root_ids), list(o.new_root_ids)]
                   for o in graph.list_operations()],
}))
store.dispose()
"""


def _edit_a_little(graph: EmbeddedChunkedGraph, clock: TickingClock) -> None:
    graph.merge(3, 5, "ann")
    clock.advance(timedelta(microseconds=2_500))
    graph.split([1], [7], "bob")
    graph.undo(2, "cat")


def test_another_instance_catches_up_on_read_and_edit(
    graph: EmbeddedChunkedGraph, store_url: str, clock: TickingClock
) -> None:
    other_store = open_store(store_url, clock, migrate=False)
    try:
        other = EmbeddedChunkedGraph.open(other_store, "pcg")
        _edit_a_little(graph, clock)
        assert other.list_operations() == graph.list_operations()
        assert np.array_equal(other.get_roots(SVS), graph.get_roots(SVS))
        expected_old = tuple(sorted(graph.get_roots([1, 8]).tolist()))
        mine = other.merge(1, 8, "dan")  # must first catch up inside its transaction
        assert mine.operation_id == 4
        assert mine.old_root_ids == expected_old
        assert graph.get_operation(4) == mine
        assert graph.get_roots([8]).tolist() == list(mine.new_root_ids)
        assert len(set(graph.get_roots(SVS).tolist()) & set(mine.old_root_ids)) == 0
    finally:
        other_store.dispose()


def test_another_process_gives_identical_answers(
    graph: EmbeddedChunkedGraph, store_url: str, clock: TickingClock
) -> None:
    _edit_a_little(graph, clock)
    stamps = [graph.get_oldest_timestamp()] + [o.timestamp for o in graph.list_operations()]
    instants = [s + d for s in stamps for d in (-timedelta(microseconds=1), timedelta(0))]
    done = subprocess.run(
        [sys.executable, "-c", READER, store_url, json.dumps([i.isoformat() for i in instants])],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    theirs = json.loads(done.stdout)
    assert theirs["roots"] == [graph.get_roots(SVS, at).tolist() for at in instants]
    assert theirs["operations"] == [
        [
            o.operation_id,
            o.kind,
            o.user_id,
            o.timestamp.isoformat(),
            list(o.old_root_ids),
            list(o.new_root_ids),
        ]
        for o in graph.list_operations()
    ]


def test_an_edit_that_fails_half_way_leaves_no_trace(
    graph: EmbeddedChunkedGraph, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = graph.get_roots(SVS)
    real = persist.write_change

    def crash(*args: object, **kwargs: object) -> None:
        real(*args, **kwargs)  # type: ignore[arg-type]
        raise Transient("disk unplugged after the writes")

    monkeypatch.setattr(persist, "write_change", crash)
    with pytest.raises(Transient):
        graph.merge(1, 5, "ann")
    monkeypatch.undo()
    assert np.array_equal(graph.get_roots(SVS), before)
    assert graph.list_operations() == []
    reopened = EmbeddedChunkedGraph.open(store, "pcg")
    assert np.array_equal(reopened.get_roots(SVS), before)
    op = graph.merge(1, 5, "ann")
    assert op.operation_id == 1
    assert op.new_root_ids == (max(before.tolist()) + 1,)  # the counter did not move either


def test_operation_details_round_trip_with_64_bit_ids(store: Store) -> None:
    big = [(10 << 56) - k for k in (3, 2, 1)]  # the largest supervoxel ids allowed
    graph = EmbeddedChunkedGraph.create(store, "big", big, [(big[0], big[1]), (big[1], big[2])])
    split = graph.split([big[0]], [big[2]], "ann")
    merge = graph.merge(big[0], big[2], "ann")
    reopened = EmbeddedChunkedGraph.open(store, "big")
    assert [o.extra for o in reopened.list_operations()] == [split.extra, merge.extra]
    assert split.extra["source_ids"] == [big[0]]
    assert reopened.get_operation(2).added_edges == ((big[0], big[2]),)
    assert reopened.get_roots(big).tolist() == graph.get_roots(big).tolist()


def test_concurrent_editors_serialize(store: Store, store_url: str, clock: TickingClock) -> None:
    lone = list(range(1, 41))
    first = EmbeddedChunkedGraph.create(store, "busy", lone)
    other_store = open_store(store_url, clock, migrate=False)
    try:
        second = EmbeddedChunkedGraph.open(other_store, "busy")

        def merge_pairs(graph: EmbeddedChunkedGraph, start: int) -> list[int]:
            return [graph.merge(a, a + 1, "ann").operation_id for a in range(start, start + 20, 2)]

        with ThreadPoolExecutor(2) as pool:
            running = [pool.submit(merge_pairs, first, 1), pool.submit(merge_pairs, second, 21)]
            ids = [op_id for job in running for op_id in job.result()]
        assert sorted(ids) == list(range(1, 21))
        roots = first.get_roots(lone).tolist()
        assert roots == second.get_roots(lone).tolist()
        assert roots == EmbeddedChunkedGraph.open(store, "busy").get_roots(lone).tolist()
        assert all(roots[i] == roots[i + 1] != roots[i + 2] for i in range(0, 38, 2))
        stamps = [op.timestamp for op in first.list_operations()]
        assert stamps == sorted(set(stamps))
    finally:
        other_store.dispose()
