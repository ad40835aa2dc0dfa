"""Session fixtures: the known volume written in every layout, a loopback HTTP server serving
them, and each of them opened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from segvolumes import (
    ALL_KINDS,
    CHUNK,
    PRECOMPUTED,
    RESOLUTION,
    LoopbackServer,
    Volume,
    known_labels,
    volume,
)

from fixative.segmentation import TensorStoreSegmentation
from fixative.segmentation.writer import write_precomputed, write_zarr


@pytest.fixture(scope="session")
def labels() -> npt.NDArray[np.uint64]:
    return known_labels()


@pytest.fixture(scope="session")
def volume_root(tmp_path_factory: pytest.TempPathFactory, labels: npt.NDArray[np.uint64]) -> Path:
    root = tmp_path_factory.mktemp("volumes")
    for kind, options in PRECOMPUTED.items():
        write_precomputed(root / kind, labels, RESOLUTION, **{"chunk_size": CHUNK, **options})
    write_zarr(root / "zarr2", labels, RESOLUTION, CHUNK, zarr_format=2)
    write_zarr(root / "zarr3", labels, RESOLUTION, CHUNK, zarr_format=3)
    return root


@pytest.fixture(scope="session")
def http_server(volume_root: Path) -> Iterator[LoopbackServer]:
    server = LoopbackServer(volume_root)
    yield server
    server.close()


@pytest.fixture(scope="session", params=ALL_KINDS)
def opened(
    request: pytest.FixtureRequest, volume_root: Path
) -> tuple[Volume, TensorStoreSegmentation]:
    """Each written volume, opened (the HTTP ones through the loopback server)."""
    kind: str = request.param
    server = request.getfixturevalue("http_server") if kind.startswith("http_") else None
    vol = volume(kind, volume_root, server)
    return vol, TensorStoreSegmentation.open(vol.source)
