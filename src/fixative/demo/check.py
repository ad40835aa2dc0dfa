"""The demo's ground-truth check: synapses grouped by (pre root, post root), labelled through the
cell_types table, must equal the C. elegans file once every edit is applied.

Points go through the real volume (segmentation reader) and the real chunkedgraph, so the check
covers the whole chain from annotation to neuron id.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from fixative.chunkedgraph.port import ChunkedGraph
from fixative.segmentation.port import SegmentationSource
from fixative.store import Store

if TYPE_CHECKING:
    from fixative.query.engine import QueryEngine


def _points(table: pa.Table, point: str) -> npt.NDArray[np.int64]:
    return np.stack(
        [np.asarray(table.column(f"{point}_position_{a}").to_numpy(), np.int64) for a in "xyz"],
        axis=1,
    )


def _roots(
    table: pa.Table,
    point: str,
    seg: SegmentationSource,
    graph: ChunkedGraph,
    at: datetime,
    resolution: tuple[float, float, float],
) -> npt.NDArray[np.uint64]:
    svids = seg.lookup(_points(table, point), resolution)
    return graph.get_roots(svids, at)


def connectivity(
    store: Store, seg: SegmentationSource, graph: ChunkedGraph, at: datetime
) -> Counter[tuple[str, str]]:
    """(pre cell name, post cell name) -> synapse count at ``at``; unlabelled roots show as
    ``?<root id>``, a root holding several labelled cells as ``a+b``."""
    resolution = store.get_table("synapses").voxel_resolution_nm
    cells = store.annotations_at("cell_types", at)
    cell_roots = _roots(cells, "pt", seg, graph, at, resolution)
    names: dict[int, list[str]] = {}
    for root, name in zip(cell_roots.tolist(), cells.column("cell_type").to_pylist(), strict=True):
        names.setdefault(root, []).append(name)
    synapses = store.annotations_at("synapses", at)
    pre = _roots(synapses, "pre_pt", seg, graph, at, resolution)
    post = _roots(synapses, "post_pt", seg, graph, at, resolution)
    pairs, counts = np.unique(np.stack([pre, post], axis=1), axis=0, return_counts=True)

    def label(root: int) -> str:
        return "+".join(sorted(names[root])) if root in names else f"?{root}"

    return Counter(
        {(label(int(a)), label(int(b))): int(n) for (a, b), n in zip(pairs, counts, strict=True)}
    )


def differences(
    got: Counter[tuple[str, str]], expected: dict[tuple[str, str], int]
) -> list[tuple[tuple[str, str], int, int]]:
    """(pair, got, expected) for every pair where the two disagree."""
    keys = set(got) | set(expected)
    return sorted(
        (k, got.get(k, 0), expected.get(k, 0)) for k in keys if got.get(k, 0) != expected.get(k, 0)
    )


def connectivity_from_tables(store: Store, at: datetime) -> Counter[tuple[str, str]]:
    """The same count, read from the segmentation tables the workflows maintain (their root ids
    must be valid at ``at``: run ingest and update-roots to ``at`` first)."""
    import sqlalchemy as sa

    from fixative.store.history import visible_at

    def rows(name: str, *cols: str) -> list[Any]:
        info = store.get_table(name)
        with store.read() as conn:
            ann = store._table_object(conn, name)
            seg = store._table_object(conn, str(info.segmentation_table))
            both = {**{c.name: c for c in ann.c}, **{c.name: c for c in seg.c if c.name != "id"}}
            query = sa.select(*(both[c] for c in cols)).select_from(
                ann.join(seg, ann.c.id == seg.c.id)
            )
            return list(conn.execute(query.where(visible_at(ann, at))).all())

    names: dict[int, list[str]] = {}
    for root, name in rows("cell_types", "pt_root_id", "cell_type"):
        names.setdefault(int(root), []).append(name)

    def label(root: int) -> str:
        return "+".join(sorted(names[root])) if root in names else f"?{root}"

    pairs = Counter(
        (int(a), int(b)) for a, b in rows("synapses", "pre_pt_root_id", "post_pt_root_id")
    )
    return Counter({(label(a), label(b)): n for (a, b), n in pairs.items()})


def connectivity_from_version(
    engine: QueryEngine, datastack: str, version: int
) -> Counter[tuple[str, str]]:
    """The same count, read from a version through the query engine (a flat copy or the
    root-id history, as the version is kept)."""
    from fixative.query.spec import QuerySpec

    def column_pairs(table: str, a: str, b: str) -> list[tuple[Any, Any]]:
        spec = QuerySpec((table,), select={table: (a, b)})
        result = engine.version_query(datastack, version, spec)
        try:
            out: list[tuple[Any, Any]] = []
            for batch in result.batches:
                out += zip(batch.column(a).to_pylist(), batch.column(b).to_pylist(), strict=True)
            return out
        finally:
            result.close()

    names: dict[int, list[str]] = {}
    for root, name in column_pairs("cell_types", "pt_root_id", "cell_type"):
        names.setdefault(int(root), []).append(name)

    def label(root: int) -> str:
        return "+".join(sorted(names[root])) if root in names else f"?{root}"

    out: Counter[tuple[str, str]] = Counter()
    for a, b in column_pairs("synapses", "pre_pt_root_id", "post_pt_root_id"):
        out[(label(int(a)), label(int(b)))] += 1
    return out
