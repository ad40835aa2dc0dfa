"""Views at versions of both kinds (flat copies, and rows of the root-id history) on both
backends, against plain Python over the oracle's rows at each version's instant. Here because
the shared query world builds both kinds of version (the API tests cover the rest of views)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
from query_world import QueryWorld

from fixative.query.engine import QueryEngine
from fixative.query.spec import Filter, QuerySpec
from fixative.views.check import check_view_sql
from fixative.views.definitions import create_view, find_view, known_tables
from fixative.views.model import NewView, view_table_columns
from fixative.views.query import CheckedTarget, version_view_count, version_view_query

PAIRS = "typed_pairs"
PAIRS_SQL = (
    "SELECT s.pre_pt_root_id, c.cell_type, count(*) AS n, max(s.size) AS biggest "
    "FROM synapses AS s JOIN cells AS c ON c.pt_root_id = s.pre_pt_root_id "
    "GROUP BY s.pre_pt_root_id, c.cell_type"
)


def _target(world: QueryWorld) -> CheckedTarget:
    info = find_view(world.store, world.datastack, PAIRS)
    if info is None:
        new = NewView(world.datastack, PAIRS, PAIRS_SQL, "u", (4.0, 4.0, 40.0))
        info = create_view(world.store, "av", new)
    checked = check_view_sql(info.sql, known_tables(world.store, "av"))
    return CheckedTarget(info, checked, view_table_columns(info, checked.columns))


def _rows(engine: QueryEngine, target: CheckedTarget, world: QueryWorld, v: int) -> list[Any]:
    spec = QuerySpec(tables=(PAIRS,))
    result = version_view_query(engine, target, world.datastack, v, spec)
    try:
        table = pa.Table.from_batches(list(result.batches), schema=result.schema)
    finally:
        result.close()
    return sorted(tuple(r.values()) for r in table.to_pylist())


def _oracle(world: QueryWorld, at_key: str) -> list[Any]:
    at = world.times[at_key]
    types: dict[int, list[str]] = {}
    for cell in world.rows_at("cells", at):
        types.setdefault(cell["pt_root_id"], []).append(cell["cell_type"])
    counts: Counter[tuple[int, str]] = Counter()
    biggest: dict[tuple[int, str], float] = {}
    for syn in world.rows_at("synapses", at):
        for cell_type in types.get(syn["pre_pt_root_id"], []):
            key = (syn["pre_pt_root_id"], cell_type)
            counts[key] += 1
            biggest[key] = max(biggest.get(key, syn["size"]), syn["size"])
    return sorted((root, ct, n, biggest[(root, ct)]) for (root, ct), n in counts.items())


def test_a_view_at_each_version_of_either_kind(
    shared: QueryWorld, shared_engine: QueryEngine
) -> None:
    target = _target(shared)
    for version, at_key in ((1, "t1"), (2, "t2")):
        want = _oracle(shared, at_key)
        assert want
        assert _rows(shared_engine, target, shared, version) == want
    some = want[0][1]
    spec = QuerySpec(tables=(PAIRS,), filters=(Filter(PAIRS, "cell_type", "equal", some),))
    counted = version_view_count(shared_engine, target, shared.datastack, 2, spec)
    assert counted == sum(1 for row in want if row[1] == some)
