"""Edits of the embedded graph: what they mint, how they are stamped, and how they fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.store import Store
from fixative.testing.clock import TickingClock

ROOT_PREFIX = 10 << 56


def _root(graph: EmbeddedChunkedGraph, sv: int) -> int:
    return int(graph.get_roots([sv])[0])


def test_initial_roots_are_components_with_root_layer_ids(graph: EmbeddedChunkedGraph) -> None:
    roots = graph.get_roots(range(1, 12)).tolist()
    assert roots[0] == roots[1] == roots[2] != roots[4]
    assert roots[4] == roots[5] == roots[6] != roots[7]
    assert roots[7] == roots[8] == roots[9]
    assert len(set(roots)) == 5  # A, B, C and the lone 4 and 11
    assert all(r >> 56 == 10 for r in roots)
    assert str(roots[0]).startswith("7205759")


def test_merge_mints_one_new_root_and_expires_both(graph: EmbeddedChunkedGraph) -> None:
    a, b = _root(graph, 1), _root(graph, 5)
    op = graph.merge(3, 5, "ann")
    (new,) = op.new_root_ids
    assert op.kind == "merge"
    assert op.old_root_ids == (a, b)
    assert op.added_edges == ((3, 5),)
    assert new - ROOT_PREFIX == 6  # the sixth root minted
    assert graph.get_roots([1, 7]).tolist() == [new, new]
    assert graph.is_latest_roots([a, b, new]).tolist() == [False, False, True]
    assert graph.get_leaves(new).tolist() == [1, 2, 3, 5, 6, 7]
    assert graph.get_leaves(a).tolist() == [1, 2, 3]  # a root's leaves never change


def test_merge_of_one_root_is_a_conflict(graph: EmbeddedChunkedGraph) -> None:
    with pytest.raises(Conflict):
        graph.merge(1, 3, "ann")
    with pytest.raises(Conflict):
        graph.merge(2, 2, "ann")
    assert graph.list_operations() == []


@pytest.mark.parametrize(
    ("pair", "error"),
    [
        ((1, 99), NotFound),
        ((0, 5), InvalidInput),
        ((2**63 + 5, 1), NotFound),
        ((-3, 1), InvalidInput),
    ],
)
def test_merge_of_bad_supervoxels(
    graph: EmbeddedChunkedGraph, pair: tuple[int, int], error: type[Exception]
) -> None:
    with pytest.raises(error):
        graph.merge(*pair, "ann")


def test_split_by_minimum_cut(graph: EmbeddedChunkedGraph) -> None:
    graph.merge(3, 5, "ann")
    merged = _root(graph, 1)
    op = graph.split([1, 2], [7], "bob")
    assert op.kind == "split"
    assert op.removed_edges == ((3, 5),)
    assert op.old_root_ids == (merged,)
    assert len(op.new_root_ids) == 2
    assert op.extra == {"source_ids": [1, 2], "sink_ids": [7]}
    left, right = op.new_root_ids
    assert graph.get_roots([1, 2, 3, 5, 6, 7]).tolist() == [left] * 3 + [right] * 3


def test_partial_split_mints_one_root(graph: EmbeddedChunkedGraph) -> None:
    before = _root(graph, 1)
    op = graph.remove_edges([(1, 2)], "bob")
    (after,) = op.new_root_ids
    assert op.old_root_ids == (before,)
    assert after != before
    assert graph.get_roots([1, 2, 3]).tolist() == [after] * 3


def test_split_into_three(graph: EmbeddedChunkedGraph) -> None:
    op = graph.remove_edges([(9, 8), (9, 10)], "bob")
    assert op.removed_edges == ((8, 9), (9, 10))
    assert len(op.new_root_ids) == 3
    assert len(set(graph.get_roots([8, 9, 10]).tolist())) == 3


@pytest.mark.parametrize(
    ("sources", "sinks", "error"),
    [
        ([1], [5], InvalidInput),  # different roots
        ([1, 2], [2, 3], InvalidInput),  # overlap
        ([], [3], InvalidInput),
        ([1], [99], NotFound),
        ([0], [3], InvalidInput),
    ],
)
def test_bad_splits(
    graph: EmbeddedChunkedGraph, sources: list[int], sinks: list[int], error: type[Exception]
) -> None:
    with pytest.raises(error):
        graph.split(sources, sinks, "bob")
    assert graph.list_operations() == []


@pytest.mark.parametrize("edges", [[], [(1, 5)], [(1, 4)], [(1, 2), (5, 6)], [(3, 3)]])
def test_bad_edge_removals(graph: EmbeddedChunkedGraph, edges: list[tuple[int, int]]) -> None:
    with pytest.raises(InvalidInput):
        graph.remove_edges(edges, "bob")


def test_undo_and_redo_mint_new_ids(graph: EmbeddedChunkedGraph) -> None:
    a, b = _root(graph, 1), _root(graph, 5)
    merged = graph.merge(1, 5, "ann").new_root_ids[0]
    undo = graph.undo(1, "ann")
    assert undo.kind == "undo"
    assert undo.target_operation_id == 1
    assert undo.removed_edges == ((1, 5),)
    assert undo.old_root_ids == (merged,)
    assert not set(undo.new_root_ids) & {a, b, merged}
    assert graph.get_roots([1, 5]).tolist() == list(undo.new_root_ids)
    redo = graph.redo(1, "ann")
    assert redo.kind == "redo"
    assert redo.added_edges == ((1, 5),)
    assert redo.old_root_ids == undo.new_root_ids
    assert graph.get_roots([1, 5]).tolist() == [redo.new_root_ids[0]] * 2
    assert [op.operation_id for op in graph.list_operations()] == [1, 2, 3]


def test_undo_that_cannot_apply_is_a_conflict(graph: EmbeddedChunkedGraph) -> None:
    graph.merge(1, 5, "ann")
    graph.remove_edges([(1, 5)], "bob")
    with pytest.raises(Conflict):
        graph.undo(1, "ann")  # the edge it would remove is gone
    with pytest.raises(Conflict):
        graph.redo(2, "ann")  # the edge it would remove again is gone
    graph.undo(2, "ann")  # puts the edge back
    with pytest.raises(Conflict):
        graph.redo(1, "ann")  # the edge it would add is already there
    with pytest.raises(NotFound):
        graph.undo(17, "ann")
    with pytest.raises(NotFound):
        graph.redo(0, "ann")
    assert [op.kind for op in graph.list_operations()] == ["merge", "split", "undo"]


def test_undo_that_would_be_many_to_many_is_a_conflict(store: Store) -> None:
    graph = EmbeddedChunkedGraph.create(store, "chain", [1, 2, 3, 4], [(1, 2), (2, 3), (3, 4)])
    graph.remove_edges([(1, 2), (3, 4)], "bob")  # 1 | 2-3 | 4
    graph.remove_edges([(2, 3)], "bob")  # 1 | 2 | 3 | 4
    with pytest.raises(Conflict):
        graph.undo(1, "ann")  # four roots would become two: many-to-many
    graph.undo(2, "ann")  # 1 | 2-3 | 4
    three_to_one = graph.undo(1, "ann")
    assert len(three_to_one.old_root_ids) == 3
    assert len(three_to_one.new_root_ids) == 1


def test_instants_are_whole_milliseconds_and_strictly_increase(store: Store) -> None:
    frozen = datetime(2026, 3, 1, 12, 0, 0, 123_456, tzinfo=UTC)
    graph = EmbeddedChunkedGraph.create(store, "frozen", [1, 2, 3, 4], clock=lambda: frozen)
    assert graph.get_oldest_timestamp() == frozen.replace(microsecond=123_000)
    stamps = [graph.merge(1, n, "ann").timestamp for n in (2, 3, 4)]
    assert stamps == [
        frozen.replace(microsecond=123_000) + timedelta(milliseconds=k) for k in (1, 2, 3)
    ]
    assert all(s.utcoffset() == timedelta(0) for s in stamps)


def test_reads_at_exact_operation_instants(graph: EmbeddedChunkedGraph) -> None:
    a = _root(graph, 1)
    op = graph.merge(1, 5, "ann")
    tick = timedelta(microseconds=1)
    assert graph.get_roots([1], op.timestamp - tick).tolist() == [a]
    assert graph.get_roots([1], op.timestamp).tolist() == [op.new_root_ids[0]]
    assert graph.is_latest_roots([a], op.timestamp - tick).tolist() == [True]
    assert graph.is_latest_roots([a], op.timestamp).tolist() == [False]
    old, new = graph.get_delta_roots(op.timestamp, op.timestamp)
    assert new.tolist() == list(op.new_root_ids)
    assert sorted(old.tolist()) == list(op.old_root_ids)
    assert graph.get_delta_roots(op.timestamp + tick)[1].size == 0


def test_operation_log(graph: EmbeddedChunkedGraph, clock: TickingClock) -> None:
    first = graph.merge(1, 5, "ann")
    clock.advance(timedelta(seconds=5))
    second = graph.merge(1, 8, "bob")
    assert graph.list_operations() == [first, second]
    assert graph.list_operations(since=second.timestamp) == [second]
    assert graph.list_operations(until=second.timestamp - timedelta(microseconds=1)) == [first]
    assert graph.get_operation(2) == second
    assert second.user_id == "bob"
    with pytest.raises(NotFound):
        graph.get_operation(3)


def test_root_info(graph: EmbeddedChunkedGraph) -> None:
    a = _root(graph, 1)
    op = graph.merge(1, 5, "ann")
    info = graph.get_root_info(a)
    assert info.operation_id is None
    assert info.created_at == graph.get_oldest_timestamp()
    assert info.expired_at == op.timestamp
    assert info.expired_operation_id == 1
    assert info.new_root_ids == op.new_root_ids
    new = graph.get_root_info(op.new_root_ids[0])
    assert new.former_root_ids == op.old_root_ids
    assert new.expired_at is None
    with pytest.raises(NotFound):
        graph.get_root_info(1)


@pytest.mark.parametrize(
    ("svs", "edges", "error"),
    [
        ([], [], InvalidInput),
        ([1, 1, 2], [], InvalidInput),
        ([0, 1], [], InvalidInput),
        ([1, 10 << 56], [], InvalidInput),
        ([1, 2], [(1, 3)], NotFound),
        ([1, 2], [(2, 2)], InvalidInput),
        ([-1, 2], [], InvalidInput),
        ([1, 2, 3], [(1, 2, 3)], InvalidInput),
    ],
)
def test_bad_builds(
    store: Store, svs: list[int], edges: list[tuple[int, int]], error: type[Exception]
) -> None:
    with pytest.raises(error):
        EmbeddedChunkedGraph.create(store, "bad", svs, edges)
    assert EmbeddedChunkedGraph.list_table_ids(store) == []


def test_create_twice_and_open_unknown(store: Store, graph: EmbeddedChunkedGraph) -> None:
    with pytest.raises(Conflict):
        EmbeddedChunkedGraph.create(store, "pcg", [1])
    with pytest.raises(NotFound):
        EmbeddedChunkedGraph.open(store, "nope")


def test_graphs_in_one_database_are_independent(store: Store, graph: EmbeddedChunkedGraph) -> None:
    other = EmbeddedChunkedGraph.create(store, "other", [1, 2, 3], [(1, 2)])
    graph.merge(1, 5, "ann")
    assert other.list_operations() == []
    assert other.get_roots([1, 2, 3]).tolist() == [
        ROOT_PREFIX | 1,
        ROOT_PREFIX | 1,
        ROOT_PREFIX | 2,
    ]
    other.merge(2, 3, "bob")
    assert EmbeddedChunkedGraph.open(store, "pcg").list_operations()[0].user_id == "ann"
    assert EmbeddedChunkedGraph.list_table_ids(store) == ["other", "pcg"]
    assert np.array_equal(
        graph.get_roots([4, 11]), EmbeddedChunkedGraph.open(store, "pcg").get_roots([4, 11])
    )


@pytest.mark.parametrize("user_id", ["", "x" * 129])
def test_edits_need_a_user(graph: EmbeddedChunkedGraph, user_id: str) -> None:
    with pytest.raises(InvalidInput):
        graph.merge(1, 5, user_id)
    assert graph.list_operations() == []


def test_id_lists_convert_exactly(graph: EmbeddedChunkedGraph) -> None:
    root = _root(graph, 1)
    assert graph.get_roots([1, 0, 2]).tolist() == [root, 0, root]
    assert graph.is_latest_roots([root, 2**63 + 5]).tolist() == [True, False]
    with pytest.raises(NotFound):
        graph.get_roots([1, 2**63 + 5])  # np.asarray would make this list float64
    bad_lists: list[list[Any]] = [[1.5], [True], [-1], [2**64]]
    for bad in bad_lists:
        with pytest.raises(InvalidInput):
            graph.get_roots(bad)
