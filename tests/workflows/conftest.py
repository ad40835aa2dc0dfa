"""A small real world for the workflow tests: a 128x128x32 precomputed volume of blocky
supervoxels written with the volume writer (once per session), an embedded chunkedgraph over
its supervoxels (chains of 8 supervoxels per neuron), and a synapse table bound to both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from workflow_world import (
    BLOCK,
    CHUNK,
    GRAPH,
    SHAPE,
    TABLE,
    TABLE_RES,
    VOLUME_RES,
    World,
)

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.segmentation import TensorStoreSegmentation
from fixative.segmentation.writer import write_precomputed
from fixative.store import NewTable, Store
from fixative.testing.clock import TickingClock


@pytest.fixture(scope="session")
def block_ids() -> npt.NDArray[np.uint64]:
    """One supervoxel id per block, large and unordered."""
    grid = tuple(s // b for s, b in zip(SHAPE, BLOCK, strict=True))
    rng = np.random.default_rng(11)
    ids = rng.choice(2**40, size=int(np.prod(grid)), replace=False).astype(np.uint64) + 1
    return ids.reshape(grid)


@pytest.fixture(scope="session")
def labels(block_ids: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    return np.kron(block_ids, np.ones(BLOCK, dtype=np.uint64))


@pytest.fixture(scope="session")
def volume(
    tmp_path_factory: pytest.TempPathFactory, labels: npt.NDArray[np.uint64]
) -> TensorStoreSegmentation:
    path: Path = tmp_path_factory.mktemp("workflow_volume") / "seg"
    write_precomputed(path, labels, VOLUME_RES, chunk_size=CHUNK)
    return TensorStoreSegmentation.open(str(path))


@pytest.fixture
def world(
    store: Store,
    clock: TickingClock,
    volume: TensorStoreSegmentation,
    labels: npt.NDArray[np.uint64],
    block_ids: npt.NDArray[np.uint64],
) -> World:
    svs = block_ids.ravel()
    chains = np.random.default_rng(5).permutation(svs).reshape(-1, 8)
    edges = np.stack([chains[:, :-1].ravel(), chains[:, 1:].ravel()], axis=1)
    cg = EmbeddedChunkedGraph.create(store, GRAPH, svs, edges)
    store.create_table(NewTable(TABLE, "synapse", "av", "alice", TABLE_RES, pcg_table_name=GRAPH))
    return World(store, clock, volume, cg, labels, chains)
