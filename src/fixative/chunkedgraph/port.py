"""The ChunkedGraph port: which root id a supervoxel belongs to at an instant, and how root ids
changed over time, with PyChunkedGraph's semantics.

Adapters: ``EmbeddedChunkedGraph`` (our own versioned supervoxel graph, persisted in the Store's
database) and ``HttpChunkedGraph`` (a client of PyChunkedGraph's v1 API). Ids are uint64 numpy
arrays on this side of the seam (``fixative.ids`` converts to int64 for the database and wire).
All instants are aware UTC datetimes; ``None`` means "now".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

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


@runtime_checkable
class EditHistory(Protocol):
    """What analysts read of a graph's edit history, with PyChunkedGraph's semantics
    (``chunkedgraph/logs.py``): the embedded graph computes it, the HTTP client asks
    PyChunkedGraph. A flat segmentation has no history and does not offer it."""

    def get_change_log(
        self, root_id: int, filtered: bool = False, past: datetime | None = None
    ) -> dict[str, Any]:
        """``{n_splits, n_mergers, user_info, operations_ids, past_ids}`` of a root."""
        ...

    def get_tabular_change_logs(
        self, root_ids: npt.ArrayLike, filtered: bool = True
    ) -> dict[int, list[dict[str, Any]]]:
        """Per root, one row per operation of its history (``timestamp`` an aware datetime)."""
        ...

    def get_merge_log(self, root_id: int) -> dict[str, Any]:
        """``{merge_edges, merge_edge_coords}`` of the merges in a root's history."""
        ...

    def get_operation_details(self, operation_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The log row of each existing operation among ``operation_ids``."""
        ...

    def get_user_operations(
        self,
        user_id: str | None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_undone: bool = False,
    ) -> list[tuple[int, datetime]]:
        """(operation id, instant) of a user's operations in [since, until]."""
        ...

    def get_children(self, node_id: int) -> U64:
        """A node's children one layer down (none for a supervoxel)."""
        ...

    def get_valid_nodes(
        self, node_ids: npt.ArrayLike, since: datetime | None = None, until: datetime | None = None
    ) -> U64:
        """The ids among ``node_ids`` with a row written in [since, until]."""
        ...
