"""``StaticChunkedGraph``: a flat segmentation, where every supervoxel is its own root forever.

Used for datastacks without proofreading (CAVE's ``flat_segmentation_source``): roots never
change, so every id is latest, nothing is ever superseded and there are no delta roots.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from fixative.chunkedgraph.port import U64
from fixative.chunkedgraph.records import EPOCH, as_ids
from fixative.clock import Clock, utc_now


class StaticChunkedGraph:
    """root == supervoxel id at all times (0 stays 0)."""

    def __init__(self, table_id: str, created_at: datetime = EPOCH, clock: Clock = utc_now) -> None:
        self._table_id = table_id
        self._created_at = created_at
        self._clock = clock

    @property
    def table_id(self) -> str:
        return self._table_id

    def get_roots(self, supervoxel_ids: npt.ArrayLike, at: datetime | None = None) -> U64:
        return as_ids(supervoxel_ids).copy()

    def get_delta_roots(self, since: datetime, until: datetime | None = None) -> tuple[U64, U64]:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64)

    def is_latest_roots(
        self, root_ids: npt.ArrayLike, at: datetime | None = None
    ) -> npt.NDArray[np.bool_]:
        latest: npt.NDArray[np.bool_] = as_ids(root_ids) != 0
        return latest

    def get_root_timestamps(
        self, root_ids: npt.ArrayLike, latest: bool = False, at: datetime | None = None
    ) -> list[datetime]:
        stamp = (at or self._clock()) if latest else self._created_at
        return [stamp] * as_ids(root_ids).size

    def get_past_id_mapping(
        self, root_ids: npt.ArrayLike, past: datetime, future: datetime
    ) -> tuple[dict[int, list[int]], dict[int, int]]:
        ids = [int(i) for i in as_ids(root_ids).tolist()]
        return {i: [i] for i in ids}, {i: i for i in ids}

    def get_lineage_graph(
        self, root_ids: npt.ArrayLike, past: datetime | None = None, future: datetime | None = None
    ) -> dict[str, Any]:
        stamp = self._created_at.timestamp()
        nodes = [
            {"id": i, "timestamp": stamp, "operation_id": None}
            for i in sorted(set(as_ids(root_ids).tolist()))
        ]
        return {"directed": True, "multigraph": False, "graph": {}, "nodes": nodes, "links": []}

    def get_leaves(self, root_id: int) -> U64:
        return as_ids([root_id])

    def get_oldest_timestamp(self) -> datetime:
        return self._created_at
