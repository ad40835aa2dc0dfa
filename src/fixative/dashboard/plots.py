"""The plots page: Vega-Lite specs with their data inline, rendered in the browser by
vega-embed. Rows per table across versions (catalogue), run durations over time (runner
records, admins only), edits per day (the chunkedgraph's operations) and how many synapses
each neuron makes in the latest version (one query of two root-id columns, sampled when the
table is larger than the server's query cap)."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from fixative.api.services import HttpServices
from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.dashboard.runs import datastack_runs
from fixative.query.spec import QuerySpec
from fixative.versions import get_version, list_version_tables, list_versions

VEGA_LITE = "https://vega.github.io/schema/vega-lite/v5.json"
WIDTH = 520
HEIGHT = 220
KEPT = 16  # versions whose synapse counts are kept per process
# a palette whose colours keep 3:1 contrast against the white page (WCAG non-text contrast)
PALETTE = ["#1f5fa8", "#b3461f", "#2e7d32", "#6a3d9a", "#8a6d00", "#a61c5c", "#00695c"]


def _chart(title: str, data: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "$schema": VEGA_LITE,
        "title": title,
        "width": WIDTH,
        "height": HEIGHT,
        "data": {"values": data},
        "config": {"range": {"category": PALETTE}, "axis": {"labelColor": "#222"}},
        **spec,
    }


def rows_per_version(services: HttpServices, datastack: str) -> dict[str, Any]:
    found = list_versions(services.store, datastack, include_expired=True)
    data = []
    for v in found:
        if v.status not in ("AVAILABLE", "EXPIRED"):
            continue
        tables = list_version_tables(services.store, datastack, v.version)
        allowed = set(services.readable(datastack, [t.table_name for t in tables]))
        data += [
            {"version": v.version, "table": t.table_name, "rows": t.row_count}
            for t in tables
            if t.table_name in allowed
        ]
    return _chart(
        "Rows per table across versions",
        data,
        mark={"type": "line", "point": True},
        encoding={
            "x": {"field": "version", "type": "ordinal", "title": "version"},
            "y": {"field": "rows", "type": "quantitative", "title": "rows"},
            "color": {"field": "table", "type": "nominal"},
        },
    )


def run_durations(services: HttpServices, datastack: str) -> dict[str, Any]:
    data = [
        {"submitted": r["created"], "seconds": r["seconds"], "kind": r["kind"], "id": r["id"]}
        for r in datastack_runs(services, datastack)
        if r["seconds"] is not None
    ]
    return _chart(
        "Run durations over time",
        data,
        mark={"type": "point", "filled": True, "size": 60},
        encoding={
            "x": {
                "field": "submitted",
                "type": "temporal",
                "title": "submitted (UTC)",
                "scale": {"type": "utc"},
                "axis": {"format": "%Y-%m-%d %H:%M", "labelAngle": -30},
            },
            "y": {"field": "seconds", "type": "quantitative", "title": "seconds"},
            "color": {"field": "kind", "type": "nominal"},
            "tooltip": [{"field": "id"}, {"field": "kind"}, {"field": "seconds"}],
        },
    )


def edits_per_day(services: HttpServices, datastack: str) -> dict[str, Any] | None:
    """None when the chunkedgraph does not list its operations here (a PyChunkedGraph
    server's edit log is read per root or per user, not whole)."""
    graph = services.chunkedgraph(datastack)
    if not isinstance(graph, EmbeddedChunkedGraph):
        return None
    days = Counter((op.timestamp.date().isoformat(), op.kind) for op in graph.list_operations())
    data = [{"day": d, "kind": k, "edits": n} for (d, k), n in sorted(days.items())]
    return _chart(
        "Proofreading edits per day",
        data,
        mark="bar",
        encoding={
            "x": {"field": "day", "type": "ordinal", "title": "day (UTC)"},
            "y": {"field": "edits", "type": "quantitative", "aggregate": "sum", "title": "edits"},
            "color": {"field": "kind", "type": "nominal"},
        },
    )


class KeptCounts:
    """The per-neuron synapse counts of the last few (datastack, version, table): a version
    never changes, so its counts are read once per process (thread-safe)."""

    def __init__(self, size: int = KEPT) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, int, str], list[int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, str], read: Callable[[], list[int]]) -> list[int]:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        counts = read()  # outside the lock: two first readers both read, and agree
        with self._lock:
            self._items[key] = counts
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return counts


def _per_neuron(
    services: HttpServices, datastack: str, table: str, version: int, sample: int | None
) -> list[int]:
    spec = QuerySpec(tables=(table,), select={table: ("pre_pt_root_id",)}, random_sample=sample)
    result = services.query_engine().version_query(datastack, version, spec)
    try:
        frame = pa.Table.from_batches(list(result.batches), schema=result.schema)
    finally:
        result.close()
    per_root = frame.group_by("pre_pt_root_id").aggregate([("pre_pt_root_id", "count")])
    return [int(c) for c in per_root.column("pre_pt_root_id_count").to_pylist()]


def synapse_distribution(
    services: HttpServices, kept: KeptCounts, datastack: str, table: str, version: int, rows: int
) -> dict[str, Any]:
    """Outgoing synapses per presynaptic neuron (a sample of rows when the table is larger
    than the query cap: the shape, not the exact counts)."""
    cap = services.settings.query_row_limit
    sample = cap if rows > cap else None
    version_id = get_version(services.store, datastack, version).id  # a rebuilt N differs
    counts = kept.get(
        (datastack, version_id, table),
        lambda: _per_neuron(services, datastack, table, version, sample),
    )
    data = [{"synapses": c} for c in counts]
    sampled = " (sampled)" if rows > cap else ""
    return _chart(
        f"Outgoing synapses per neuron in {table}, version {version}{sampled}",
        data,
        mark="bar",
        encoding={
            "x": {"field": "synapses", "bin": {"maxbins": 40}, "title": "synapses per neuron"},
            "y": {"aggregate": "count", "title": "neurons"},
        },
    )
