"""A small graph on the ``store`` fixture: triangles A (1-2-3) and B (5-6-7), a chain C
(8-9-10) and a lone supervoxel 11."""

from __future__ import annotations

import pytest

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.store import Store

SUPERVOXELS = list(range(1, 12))
EDGES = [(1, 2), (2, 3), (1, 3), (5, 6), (6, 7), (5, 7), (8, 9), (9, 10)]


@pytest.fixture
def graph(store: Store) -> EmbeddedChunkedGraph:
    return EmbeddedChunkedGraph.create(store, "pcg", SUPERVOXELS, EDGES, user_id="builder")
