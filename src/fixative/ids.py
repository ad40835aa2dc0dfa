"""The one place that converts ids between uint64 (volumes, chunkedgraph) and int64
(database, wire).

Segment ids are uint64 in volumes and in PyChunkedGraph, but PostgreSQL, SQLite, Arrow consumers
(caveclient) and JSON all want signed 64-bit integers. Real root ids stay below 2**63 (the layer
byte is small), so the conversion is a reinterpretation that we check instead of trusting.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fixative.errors import InvalidInput

INT64_MAX = np.iinfo(np.int64).max


def to_int64(ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """uint64 (or any integer array) -> int64, refusing ids that do not fit."""
    arr = np.asarray(ids)
    if arr.dtype == np.int64:
        return arr
    if arr.dtype == np.uint64:
        if arr.size and int(arr.max()) > INT64_MAX:
            raise InvalidInput("segment id above 2**63-1 cannot be stored as a signed 64-bit id")
        return arr.astype(np.int64)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInput(f"ids must be integers, got {arr.dtype}")
    return arr.astype(np.int64)


def to_uint64(ids: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    """int64 (or any integer array) -> uint64, refusing negative ids."""
    arr = np.asarray(ids)
    if arr.dtype == np.uint64:
        return arr
    if arr.size == 0:
        return np.zeros(0, dtype=np.uint64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInput(f"ids must be integers, got {arr.dtype}")
    if int(arr.min()) < 0:
        raise InvalidInput("segment ids cannot be negative")
    return arr.astype(np.uint64)
