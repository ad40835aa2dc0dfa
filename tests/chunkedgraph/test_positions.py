"""Supervoxel id -> position in every layout, against a plain dict."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixative.chunkedgraph.positions import SupervoxelPositions

ids_any = st.integers(1, 2**63 - 1)
ids_near = st.integers(1, 400)


@settings(max_examples=300, deadline=None)
@given(
    members=st.sets(st.one_of(ids_near, ids_any), min_size=1, max_size=60),
    asked=st.lists(st.one_of(ids_near, ids_any, st.just(0), st.integers(2**63, 2**64 - 1))),
)
def test_lookup_matches_a_dict(members: set[int], asked: list[int]) -> None:
    ordered = np.array(sorted(members), dtype=np.uint64)
    where = {int(sv): i for i, sv in enumerate(ordered.tolist())}
    asked += list(members)[:5]
    pos, bad = SupervoxelPositions(ordered).lookup(np.array(asked, dtype=np.uint64))
    missing = [a not in where for a in asked]
    assert (bad.tolist() if bad is not None else [False] * len(asked)) == missing
    assert [p for p, m in zip(pos.tolist(), missing, strict=True) if not m] == [
        where[a] for a in asked if a in where
    ]


@pytest.mark.parametrize(
    ("members", "layout"),
    [
        (np.arange(7, 1007), "contiguous"),
        (np.arange(7, 3007, 3), "table"),
        ((1 << 56) | (np.arange(1, 1001) << 20), "hash"),
    ],
)
def test_layouts(members: npt.NDArray[np.int64], layout: str) -> None:
    index = SupervoxelPositions(members.astype(np.uint64))
    assert index.layout == layout
    pos, bad = index.lookup(members[::-1].astype(np.uint64))
    assert bad is None
    assert pos.tolist() == list(range(members.size - 1, -1, -1))
