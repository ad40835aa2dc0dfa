"""Small builders of annotation records for tests, the demo and benchmarks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa


def synapse_record(
    pre: tuple[int, int, int], post: tuple[int, int, int], size: float | None = 1.0
) -> dict[str, Any]:
    ctr = tuple((a + b) // 2 for a, b in zip(pre, post, strict=True))
    record: dict[str, Any] = {
        "pre_pt": {"position": list(pre)},
        "ctr_pt": {"position": list(ctr)},
        "post_pt": {"position": list(post)},
    }
    if size is not None:
        record["size"] = size
    return record


def synapse_columns(n_rows: int, seed: int = 0, extent: int = 100_000) -> pa.Table:
    """``n_rows`` random synapses as flattened columns (the bulk form)."""
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    pre = rng.integers(0, extent, size=(n_rows, 3), dtype=np.int64)
    post = pre + rng.integers(-20, 20, size=(n_rows, 3), dtype=np.int64)
    for name, pts in (("pre_pt", pre), ("ctr_pt", (pre + post) // 2), ("post_pt", post)):
        for i, axis in enumerate("xyz"):
            cols[f"{name}_position_{axis}"] = pts[:, i]
    cols["size"] = rng.random(n_rows) * 100
    return pa.table(cols)
