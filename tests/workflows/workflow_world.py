"""The world the workflow tests share (see conftest.py), its oracles and counting wrappers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import sqlalchemy as sa

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.segmentation import TensorStoreSegmentation
from fixative.store import Store
from fixative.store import tables as t
from fixative.store.history import read_arrow
from fixative.testing.clock import TickingClock

SHAPE = (128, 128, 32)  # volume voxels
BLOCK = (16, 16, 8)  # one supervoxel per block: 256 supervoxels
CHUNK = (64, 64, 16)
VOLUME_RES = (8.0, 8.0, 40.0)
TABLE_RES = (4.0, 4.0, 40.0)  # table voxels are half the volume's in x and y
TABLE_SHAPE = (256, 256, 32)  # the volume's extent in table voxels
TABLE = "synapses"
GRAPH = "cg"
SEG_TABLE = f"{TABLE}__{GRAPH}"
POINTS = ("pre_pt", "post_pt")

U64 = npt.NDArray[np.uint64]


def synapse_table(n: int, seed: int, outside: int = 0) -> pa.Table:
    """``n`` synapses inside the volume; the last ``outside`` have their pre point beyond it."""
    rng = np.random.default_rng(seed)
    pre = rng.integers(0, TABLE_SHAPE, size=(n, 3), dtype=np.int64)
    post = rng.integers(0, TABLE_SHAPE, size=(n, 3), dtype=np.int64)
    if outside:
        pre[n - outside :, 0] = TABLE_SHAPE[0] + 1000
    cols: dict[str, Any] = {}
    for name, pts in (("pre_pt", pre), ("ctr_pt", (pre + post) // 2), ("post_pt", post)):
        for i, axis in enumerate("xyz"):
            cols[f"{name}_position_{axis}"] = pts[:, i]
    cols["size"] = rng.random(n) * 100
    return pa.table(cols)


@dataclass
class World:
    store: Store
    clock: TickingClock
    seg: TensorStoreSegmentation
    cg: EmbeddedChunkedGraph
    labels: U64
    chains: U64  # (neurons, 8) supervoxels, each row one neuron's chain

    def insert(self, n: int, seed: int, outside: int = 0) -> npt.NDArray[np.int64]:
        return self.store.insert_annotations(TABLE, synapse_table(n, seed, outside))

    def expected_supervoxels(self, xyz: npt.NDArray[np.int64]) -> U64:
        """Supervoxel under table-voxel points by numpy indexing of the labels (0 outside)."""
        vox = (xyz * np.array(TABLE_RES) // np.array(VOLUME_RES)).astype(np.int64)
        inside = ((vox >= 0) & (vox < np.array(SHAPE))).all(axis=1)
        out = np.zeros(len(xyz), dtype=np.uint64)
        v = vox[inside]
        out[inside] = self.labels[v[:, 0], v[:, 1], v[:, 2]]
        return out

    def annotations(self) -> pa.Table:
        """Every row ever written (deleted ones too), sorted by id."""
        with self.store.read() as conn:
            table = self.store._table_object(conn, TABLE)
            return read_arrow(conn, sa.select(table).order_by(table.c.id), table)

    def links(self) -> pa.Table:
        """The segmentation table, sorted by id."""
        with self.store.read() as conn:
            table = self.store._table_object(conn, SEG_TABLE)
            return read_arrow(conn, sa.select(table).order_by(table.c.id), table)

    def history(self) -> list[dict[str, Any]]:
        """The root-id history, every interval, by id then start."""
        info = self.store.get_table(TABLE)
        assert info.segmentation_table is not None
        name = t.history_table_name(info.segmentation_table)
        table = t.history_table(sa.MetaData(), name, info.schema)
        with self.store.read() as conn:
            query = sa.select(table).order_by(table.c.id, table.c.valid_from)
            return read_arrow(conn, query, table).to_pylist()  # type: ignore[no-any-return]

    def ids_created_by(self, at: datetime) -> npt.NDArray[np.int64]:
        ann = self.annotations()
        created = ann.column("created").to_pylist()
        ids = np.asarray(ann.column("id").to_numpy())
        return ids[np.array([c <= at for c in created], dtype=bool)]

    def assert_linked(self, at: datetime) -> None:
        """The oracle: exactly the rows created by ``at`` have segmentation rows, every
        supervoxel is the label under its point and every root is get_roots(sv, at)."""
        links = self.links()
        ann = self.annotations()
        ids = np.asarray(links.column("id").to_numpy())
        np.testing.assert_array_equal(ids, self.ids_created_by(at))
        rows = np.searchsorted(np.asarray(ann.column("id").to_numpy()), ids)
        for p in POINTS:
            xyz = np.stack(
                [np.asarray(ann.column(f"{p}_position_{a}").to_numpy())[rows] for a in "xyz"],
                axis=1,
            )
            svs = np.asarray(links.column(f"{p}_supervoxel_id").to_numpy()).astype(np.uint64)
            roots = np.asarray(links.column(f"{p}_root_id").to_numpy()).astype(np.uint64)
            np.testing.assert_array_equal(svs, self.expected_supervoxels(xyz))
            np.testing.assert_array_equal(roots, self.cg.get_roots(svs, at))


@dataclass
class CountingGraph:
    """A chunkedgraph that counts the supervoxels it is asked to resolve."""

    graph: EmbeddedChunkedGraph
    calls: list[int] = field(default_factory=list)

    @property
    def table_id(self) -> str:
        return self.graph.table_id

    def get_roots(self, supervoxel_ids: Any, at: datetime | None = None) -> U64:
        self.calls.append(len(supervoxel_ids))
        return self.graph.get_roots(supervoxel_ids, at)

    def get_delta_roots(self, since: datetime, until: datetime | None = None) -> Any:
        return self.graph.get_delta_roots(since, until)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.graph, name)


@dataclass
class CountingSource:
    """A segmentation source that counts lookup calls and points."""

    source: TensorStoreSegmentation
    calls: list[int] = field(default_factory=list)

    @property
    def resolution_nm(self) -> tuple[float, float, float]:
        return self.source.resolution_nm

    def lookup(self, points: Any, resolution_nm: Any, *, outside: str = "error") -> U64:
        self.calls.append(len(points))
        return self.source.lookup(points, resolution_nm, outside=outside)
