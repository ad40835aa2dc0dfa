"""The oracle itself, on cases small enough to check by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.testing.chunkedgraph_oracle import ChunkedGraphOracle, components, min_cut_size

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
R = 10 << 56


def test_components_and_cut_sizes() -> None:
    assert components([1, 2, 3, 4, 5], [(1, 2), (2, 3)]) == [
        frozenset({1, 2, 3}),
        frozenset({4}),
        frozenset({5}),
    ]
    square = [(1, 2), (2, 3), (3, 4), (4, 1)]
    assert min_cut_size(square, [1], [3]) == 2
    assert min_cut_size([*square, (1, 3)], [1], [3]) == 3
    assert min_cut_size(square, [1, 2], [3, 4]) == 2
    assert min_cut_size([(1, 2), (3, 4)], [1], [4]) == 0


def test_a_history_by_hand() -> None:
    oracle = ChunkedGraphOracle([1, 2, 3, 4], [(1, 2)], T0)
    assert oracle.roots_at([0, 1, 2, 3, 4]) == [0, R | 1, R | 1, R | 2, R | 3]
    merge = oracle.merge(2, 3, "ann", T0 + MS)
    assert (merge.old_root_ids, merge.new_root_ids) == ((R | 1, R | 2), (R | 4,))
    split = oracle.remove_edges([(1, 2)], "bob", T0 + 2 * MS)
    assert split.new_root_ids == (R | 5, R | 6)  # {1} then {2, 3}: by smallest supervoxel
    assert oracle.roots_at([1, 2, 3, 4], T0 + MS) == [R | 4, R | 4, R | 4, R | 3]
    assert oracle.roots_at([1], T0 - MS) == [0]
    assert oracle.delta_roots(T0 + MS, T0 + 2 * MS) == (
        [R | 1, R | 2, R | 4],
        [R | 4, R | 5, R | 6],
    )
    assert oracle.is_latest([R | 4, R | 5, 99], T0 + MS) == [True, False, False]
    # 6 descends from 1 and 2 through 4, which was split into 5 and 6 at T0 + 2 ms
    assert oracle.past_id_mapping([R | 6], T0, T0 + 2 * MS) == ({R | 6: [R | 1, R | 2]}, {})
    assert oracle.past_id_mapping([R | 6], T0, T0 + MS) == (
        {R | 6: [R | 1, R | 2]},
        {R | 1: R | 4, R | 2: R | 4},
    )
    assert oracle.past_id_mapping([R | 6], T0 + MS, T0 + 2 * MS) == ({R | 6: [R | 4]}, {})
    nodes, links = oracle.lineage([R | 5], None, None)
    assert nodes == {R | 1, R | 2, R | 4, R | 5}
    assert links == {(R | 1, R | 4), (R | 2, R | 4), (R | 4, R | 5)}


def test_refusals() -> None:
    oracle = ChunkedGraphOracle([1, 2, 3], [(1, 2)], T0)
    with pytest.raises(Conflict):
        oracle.merge(1, 2, "ann", T0 + MS)
    with pytest.raises(NotFound):
        oracle.merge(1, 9, "ann", T0 + MS)
    with pytest.raises(InvalidInput):
        oracle.remove_edges([(1, 3)], "ann", T0 + MS)
    with pytest.raises(NotFound):
        oracle.replay(1, "ann", T0 + MS, undo=True)
