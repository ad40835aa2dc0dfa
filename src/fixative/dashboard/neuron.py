"""The neuron page: a root id's synapse partners grouped by cell type (two filtered queries of
the datastack's synapse table and one of a cell-type table, through the query engine), its
change log through proofreading (the chunkedgraph's edit history), and the root ids its
supervoxels had at each version."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from fixative.api.services import HttpServices
from fixative.chunkedgraph.port import EditHistory
from fixative.errors import InvalidInput, NotFound
from fixative.query.spec import Filter, QuerySpec
from fixative.versions import list_versions

CELL_TYPE_SCHEMAS = ("cell_type_local",)
GROUP_COLUMNS = ("cell_type", "classification_system")  # what partners may be grouped by
MAX_LEAVES = 20_000  # supervoxels looked up per version (a sample of a larger neuron)
UNTYPED = "(no cell type)"


@dataclass(frozen=True)
class PartnerGroup:
    cell_type: str
    partners: int
    synapses: int
    top: list[tuple[int, int]]  # (root id, synapses), most first


@dataclass
class Neuron:
    root_id: int
    version: int | None
    synapse_table: str | None
    cell_type_table: str | None
    group_by: str = GROUP_COLUMNS[0]
    cell_type: str | None = None
    outputs: list[PartnerGroup] = field(default_factory=list)  # this neuron is presynaptic
    inputs: list[PartnerGroup] = field(default_factory=list)
    changes: list[dict[str, Any]] | None = None  # None: the graph has no edit history
    roots_by_version: list[tuple[str, datetime, list[tuple[int, int]]]] = field(
        default_factory=list
    )
    notes: list[str] = field(default_factory=list)


def _rows(services: HttpServices, datastack: str, version: int, spec: QuerySpec) -> pa.Table:
    result = services.query_engine().version_query(datastack, version, spec)
    try:
        return pa.Table.from_batches(list(result.batches), schema=result.schema)
    finally:
        result.close()


def _partners(
    services: HttpServices, datastack: str, n: Neuron, mine: str, theirs: str
) -> Counter[int]:
    assert n.synapse_table is not None
    assert n.version is not None
    spec = QuerySpec(
        tables=(n.synapse_table,),
        filters=(Filter(n.synapse_table, mine, "equal", n.root_id),),
        select={n.synapse_table: (theirs,)},
    )
    values = _rows(services, datastack, n.version, spec).column(theirs).to_pylist()
    return Counter(int(v) for v in values if v)


def _cell_types(
    services: HttpServices, datastack: str, n: Neuron, roots: list[int]
) -> dict[int, str]:
    if n.cell_type_table is None or n.version is None or not roots:
        return {}
    t = n.cell_type_table
    spec = QuerySpec(
        tables=(t,),
        filters=(Filter(t, "pt_root_id", "in", roots),),
        select={t: ("pt_root_id", n.group_by)},
    )
    found = _rows(services, datastack, n.version, spec).to_pylist()
    return {int(r["pt_root_id"]): str(r[n.group_by]) for r in found}


def _grouped(partners: Counter[int], types: dict[int, str]) -> list[PartnerGroup]:
    by_type: dict[str, list[tuple[int, int]]] = {}
    for root, count in partners.most_common():
        by_type.setdefault(types.get(root, UNTYPED), []).append((root, count))
    groups = [
        PartnerGroup(name, len(members), sum(c for _, c in members), members[:5])
        for name, members in by_type.items()
    ]
    return sorted(groups, key=lambda g: (-g.synapses, g.cell_type))


def _readable_table(services: HttpServices, datastack: str, name: str | None) -> str | None:
    if name is None or services.store.find_table(name) is None:
        return None
    return name if services.readable(datastack, [name]) else None


def _cell_type_table(services: HttpServices, datastack: str) -> str | None:
    volume = services.datastack(datastack).aligned_volume
    names = [
        t.table_name
        for t in services.store.list_tables(aligned_volume=volume)
        if t.schema.name in CELL_TYPE_SCHEMAS and t.segmentation_table is not None
    ]
    readable = services.readable(datastack, sorted(names))
    return readable[0] if readable else None


def describe(
    services: HttpServices,
    datastack: str,
    root_id: int,
    version: int | None,
    group_by: str = GROUP_COLUMNS[0],
) -> Neuron:
    """``group_by``: one of ``GROUP_COLUMNS`` (InvalidInput otherwise)."""
    if group_by not in GROUP_COLUMNS:
        raise InvalidInput(f"partners are grouped by one of {', '.join(GROUP_COLUMNS)}")
    ds = services.datastack(datastack)
    available = list_versions(services.store, datastack)
    if version is None and available:
        version = available[-1].version
    n = Neuron(
        root_id,
        version,
        _readable_table(services, datastack, ds.synapse_table),
        _cell_type_table(services, datastack),
        group_by,
    )
    _synapses(services, datastack, n)
    _history(services, datastack, n)
    return n


def _synapses(services: HttpServices, datastack: str, n: Neuron) -> None:
    if n.version is None:
        n.notes.append("no version is available yet: partners are read from a version")
        return
    if n.synapse_table is None:
        n.notes.append("no synapse table you may read is configured for this datastack")
        return
    outputs = _partners(services, datastack, n, "pre_pt_root_id", "post_pt_root_id")
    inputs = _partners(services, datastack, n, "post_pt_root_id", "pre_pt_root_id")
    types = _cell_types(services, datastack, n, sorted({n.root_id, *outputs, *inputs}))
    n.cell_type = types.get(n.root_id)
    n.outputs, n.inputs = _grouped(outputs, types), _grouped(inputs, types)
    if not outputs and not inputs:
        n.notes.append(f"no synapses of {n.root_id} in version {n.version}")


def _history(services: HttpServices, datastack: str, n: Neuron) -> None:
    graph = services.chunkedgraph(datastack)
    try:
        leaves = graph.get_leaves(n.root_id)
    except NotFound:
        n.notes.append(f"{n.root_id} is not a root id of this datastack's chunkedgraph")
        return
    if isinstance(graph, EditHistory):
        n.changes = graph.get_tabular_change_logs([n.root_id], False).get(n.root_id, [])
    if len(leaves) > MAX_LEAVES:
        leaves = np.random.default_rng(0).choice(leaves, MAX_LEAVES, replace=False)
    instants = [
        (f"version {v.version}", v.time_stamp) for v in list_versions(services.store, datastack)
    ]
    instants.append(("now", services.store.clock()))
    for label, at in instants:
        roots, counts = np.unique(graph.get_roots(leaves, at), return_counts=True)
        pairs = sorted(zip(roots.tolist(), counts.tolist(), strict=True), key=lambda p: -p[1])
        n.roots_by_version.append((label, at, [(int(r), int(c)) for r, c in pairs if r]))
