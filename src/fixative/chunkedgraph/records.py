"""Plain records of a graph's history, shared by the index, the edits and the database layer:
the initial build, one operation's full effect (``Change``), root-id minting, and instants as
integer milliseconds.

Instants are held as integer milliseconds since the epoch. PyChunkedGraph stamps edits at
millisecond resolution (rounded down), so an operation instant is an exact integer and the
question "has operation k happened at T?" is an integer comparison with ``floor_ms(T)``: an
operation at ``t_ms`` is visible at T iff ``t_ms <= T`` iff ``t_ms <= floor_ms(T)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from fixative.chunkedgraph.port import Operation
from fixative.errors import InvalidInput
from fixative.ids import to_uint64

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)

LAYER_SHIFT = 56
ROOT_LAYER = 10  # FlyWire's root layer: root ids read 7205759...e17
ROOT_BASE = ROOT_LAYER << LAYER_SHIFT
SUPERVOXEL_LIMIT = ROOT_BASE  # supervoxel ids stay below the root layer, so never clash
ROOT_COUNTER_LIMIT = 1 << LAYER_SHIFT

KINDS = ("merge", "split", "undo", "redo")


def floor_ms(at: datetime) -> int:
    """Milliseconds since the epoch, rounded down (exact integer arithmetic)."""
    if at.tzinfo is None:
        raise InvalidInput(f"instant {at!r} has no time zone; Fixative uses aware UTC datetimes")
    return (at - EPOCH) // MILLISECOND


def ceil_ms(at: datetime) -> int:
    """Milliseconds since the epoch, rounded up: an operation at ``t_ms`` is at or after
    ``at`` iff ``t_ms >= ceil_ms(at)``."""
    down = floor_ms(at)
    return down if from_ms(down) == at else down + 1


def from_ms(ms: int) -> datetime:
    return EPOCH + int(ms) * MILLISECOND


def mint_root_id(counter: int) -> int:
    """Root id number ``counter``: the root layer byte on top, the counter below."""
    if not 0 < counter < ROOT_COUNTER_LIMIT:
        raise InvalidInput(f"root counter {counter} is out of range")
    return ROOT_BASE | counter


def as_ids(values: npt.ArrayLike) -> U64:
    """Any integer ids (array or list) as a flat uint64 array, exactly.

    ``np.asarray`` turns a list mixing ids above 2**63 with small ones into float64 (or object),
    which would round; such lists are converted element by element instead.
    """
    arr = np.asarray(values)
    if arr.dtype.kind in "iu" or arr.size == 0:
        return to_uint64(arr.ravel())
    items = np.asarray(values, dtype=object).ravel().tolist()
    if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in items):
        raise InvalidInput(f"ids must be integers, got {arr.dtype}")
    if any(not 0 <= int(v) < 2**64 for v in items):
        raise InvalidInput("ids must lie in [0, 2**64)")
    return np.array([int(v) for v in items], dtype=np.uint64)


def edge_key(a: int, b: int) -> tuple[int, int]:
    """An undirected supervoxel edge, smaller id first."""
    return (a, b) if a < b else (b, a)


@dataclass(frozen=True)
class Build:
    """The graph at its build instant (operation 0): every supervoxel and its initial root."""

    created_ms: int
    supervoxel_ids: U64  # sorted, unique
    root_ids: U64  # initial root of each supervoxel, aligned with supervoxel_ids
    user_id: str


@dataclass(frozen=True)
class Change:
    """Everything one committed operation changed.

    ``operation.new_root_ids`` are minted in increasing order; ``leaves[i]`` holds the sorted
    supervoxels of ``operation.new_root_ids[i]``. Every old root expires at ``timestamp_ms`` and
    is a former root of every new root (an operation is never many-to-many).
    """

    operation: Operation
    timestamp_ms: int
    leaves: tuple[U64, ...]

    @property
    def operation_id(self) -> int:
        return self.operation.operation_id


@dataclass(frozen=True)
class RootInfo:
    """A root's lifetime and its neighbours in the lineage graph."""

    root_id: int
    created_at: datetime
    operation_id: int | None  # None for roots of the initial build
    expired_at: datetime | None  # None while it is the latest
    expired_operation_id: int | None
    former_root_ids: tuple[int, ...]
    new_root_ids: tuple[int, ...]
