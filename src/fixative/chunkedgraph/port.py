"""The ChunkedGraph port: which root id a supervoxel belongs to at an instant, and how root ids
changed over time, with PyChunkedGraph's semantics.

Adapters: ``EmbeddedChunkedGraph`` (our own versioned supervoxel graph, persisted in the Store's
database) and ``HttpChunkedGraph`` (a client of PyChunkedGraph's v1 API). Ids are uint64 numpy
arrays on this side of the seam (``fixative.ids`` converts to int64 for the database and wire).
All instants are aware UTC datetimes; ``None`` means "now".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class Operation:
    """One edit of the graph (merge, split, undo or redo)."""

    operation_id: int
    kind: str  # "merge" | "split" | "undo" | "redo"
    user_id: str
    timestamp: datetime
    old_root_ids: tuple[int, ...]
    new_root_ids: tuple[int, ...]
    added_edges: tuple[tuple[int, int], ...] = ()
    removed_edges: tuple[tuple[int, int], ...] = ()
    target_operation_id: int | None = None  # for undo/redo
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


class ChunkedGraph(Protocol):
    """Read side of a chunkedgraph, identical for the embedded graph and the HTTP client."""

    @property
    def table_id(self) -> str: ...

    def get_roots(self, supervoxel_ids: npt.ArrayLike, at: datetime | None = None) -> U64:
        """Root of each supervoxel at ``at`` (0 for supervoxel id 0), same order and length."""
        ...

    def get_delta_roots(self, since: datetime, until: datetime | None = None) -> tuple[U64, U64]:
        """(old_roots, new_roots) of the operations in [since, until]: roots that expired and
        roots that were created in that window (PyChunkedGraph ``delta_roots``)."""
        ...

    def is_latest_roots(
        self, root_ids: npt.ArrayLike, at: datetime | None = None
    ) -> npt.NDArray[np.bool_]:
        """True where the root exists at ``at`` and has not been superseded by then."""
        ...

    def get_root_timestamps(
        self, root_ids: npt.ArrayLike, latest: bool = False, at: datetime | None = None
    ) -> list[datetime]:
        """Creation time of each root; with ``latest``, when it was superseded (or ``at``)."""
        ...

    def get_past_id_mapping(
        self, root_ids: npt.ArrayLike, past: datetime, future: datetime
    ) -> tuple[dict[int, list[int]], dict[int, int]]:
        """(past_id_map, future_id_map) as PyChunkedGraph ``past_id_mapping`` defines them."""
        ...

    def get_lineage_graph(
        self, root_ids: npt.ArrayLike, past: datetime | None = None, future: datetime | None = None
    ) -> dict[str, Any]:
        """networkx node-link JSON (``nodes`` with id/timestamp/operation_id, ``links``)."""
        ...

    def get_leaves(self, root_id: int) -> U64:
        """The supervoxels of a root (a root's leaves never change)."""
        ...

    def get_oldest_timestamp(self) -> datetime: ...
