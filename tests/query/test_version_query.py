"""Version queries against the oracle, on both backends: every filter kind, selection and
suffixes, joins of two and three tables, paging, resolution, split positions, sampling, counts
and streaming."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pytest
from helpers import rows_of
from query_world import QueryWorld, close_rows

from fixative.query.columns import flat_columns
from fixative.query.compile import VersionQuery
from fixative.query.engine import QueryEngine
from fixative.query.plan import make_plan
from fixative.query.spec import Filter, Join, QuerySpec
from fixative.store.tables import index_name
from fixative.versions import get_version, open_version

TAG_CELL = Join("tags", "target_id", "cells", "id")


def check(engine: QueryEngine, world: QueryWorld, version: int, spec: QuerySpec) -> list[dict]:
    at = world.times["t1" if version == 1 else "t2"]
    got = rows_of(engine.version_query(world.datastack, version, spec))
    expected = world.oracle(spec, at)
    assert close_rows(got, expected), (spec, got[:3], expected[:3])
    unpaged = QuerySpec(spec.tables, spec.joins, spec.filters)
    assert engine.version_count(world.datastack, version, spec) == len(world.oracle(unpaged, at))
    return got


def some_values(world: QueryWorld, table: str, column: str, at_key: str = "t2") -> list:
    rows = world.rows_at(table, world.times[at_key])
    return sorted({r[column] for r in rows})


def test_every_filter_kind(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    roots = some_values(shared, "synapses", "pre_pt_root_id")
    sizes = some_values(shared, "synapses", "size")
    mid = sizes[len(sizes) // 2]
    ids = some_values(shared, "synapses", "id")
    syn = "synapses"
    specs = [
        [Filter(syn, "pre_pt_root_id", "in", roots[:3])],
        [Filter(syn, "pre_pt_root_id", "not_in", roots[:3])],
        [Filter(syn, "post_pt_root_id", "not_in", [])],
        [Filter(syn, "id", "in", [])],
        [Filter(syn, "id", "equal", ids[5])],
        [Filter(syn, "size", "greater", mid)],
        [Filter(syn, "size", "less", mid)],
        [Filter(syn, "size", "greater_equal", mid)],
        [Filter(syn, "size", "less_equal", mid), Filter(syn, "id", "greater", ids[3])],
        [Filter(syn, "size", "in", sizes[:5])],
        [Filter(syn, "pre_pt_position_x", "less", 100)],
        [Filter(syn, "pre_pt_position", "spatial", ((0, 0, 0), (100, 150, 200)))],
        [Filter(syn, "ctr_pt_position", "spatial", ((50, 50, 50), (50, 200, 200)))],
        [Filter(syn, "post_pt_position", "spatial", ((-(2**40), 0, 0), (2**40, 99, 2**40)))],
        [Filter(syn, "pre_pt_supervoxel_id", "in", [1, 2, 3, 4, 5])],
    ]
    for filters in specs:
        for version in (1, 2):
            check(shared_engine, shared, version, QuerySpec(("synapses",), filters=tuple(filters)))
    cell_specs = [
        [Filter("cells", "cell_type", "regex", "^(pyr|bas)")],
        [Filter("cells", "cell_type", "regex", "tic")],
        [Filter("cells", "cell_type", "in", ["pyr", "chandelier"])],
        [Filter("cells", "cell_type", "not_in", ["pyr"])],
        [Filter("cells", "classification_system", "equal", "aibs")],
        [Filter("cells", "pt_position", "spatial", ((0, 0, 0), (50, 50, 50)))],
    ]
    for filters in cell_specs:
        check(shared_engine, shared, 2, QuerySpec(("cells",), filters=tuple(filters)))


def test_spatial_box_is_inclusive(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    row = shared.rows_at("synapses", shared.times["t2"])[4]
    xyz = tuple(row[f"pre_pt_position_{a}"] for a in "xyz")
    spec = QuerySpec(
        ("synapses",), filters=(Filter("synapses", "pre_pt_position", "spatial", (xyz, xyz)),)
    )
    got = check(shared_engine, shared, 2, spec)
    assert row["id"] in [r["id"] for r in got]


def test_select_suffixes_and_joins(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    two = QuerySpec(("tags", "cells"), joins=(TAG_CELL,))
    got = check(shared_engine, shared, 2, two)
    assert "id_cells" in got[0]
    assert "pt_position_x" in got[0]
    check(
        shared_engine,
        shared,
        2,
        QuerySpec(("tags", "cells"), joins=(TAG_CELL,), suffixes={"tags": "_t", "cells": "_c"}),
    )
    selected = QuerySpec(
        ("tags", "cells"),
        joins=(TAG_CELL,),
        select={"tags": ("tag", "id"), "cells": ("pt_position", "pt_root_id", "id")},
        suffixes={"cells": "_ref"},
    )
    got = check(shared_engine, shared, 2, selected)
    assert list(got[0]) == [
        "id",
        "tag",
        "id_ref",
        "pt_position_x",
        "pt_position_y",
        "pt_position_z",
        "pt_root_id",
    ]
    three = QuerySpec(
        ("synapses", "cells", "tags"),
        joins=(
            Join("synapses", "pre_pt_root_id", "cells", "pt_root_id"),
            Join("tags", "target_id", "cells", "id"),
        ),
        select={
            "synapses": ("id", "pre_pt_root_id"),
            "cells": ("id", "cell_type"),
            "tags": ("tag",),
        },
    )
    got = check(shared_engine, shared, 2, three)
    assert got, "the three-table join should find rows"
    check(shared_engine, shared, 1, three)


def test_paging_is_exact(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    spec = QuerySpec(("synapses",), select={"synapses": ("id", "size")})
    full = rows_of(shared_engine.version_query(shared.datastack, 2, spec))
    pages = []
    for offset in range(0, len(full) + 7, 7):
        page = QuerySpec(spec.tables, select=spec.select, offset=offset, limit=7)
        pages.extend(rows_of(shared_engine.version_query(shared.datastack, 2, page)))
    assert pages == full
    assert [r["id"] for r in full] == sorted(r["id"] for r in full)
    capped = shared_engine.version_query(shared.datastack, 2, QuerySpec(("synapses",), limit=5000))
    assert "Limited query to 1000 rows" in capped.warnings
    capped.close()
    small = QueryEngine(shared.store, lambda _: shared.cg, row_cap=10)
    try:
        got = rows_of(small.version_query(shared.datastack, 2, QuerySpec(("synapses",))))
        assert [r["id"] for r in got] == [r["id"] for r in full[:10]]
    finally:
        small.close()


def test_resolution_and_split_positions(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    spec = QuerySpec(("synapses",), desired_resolution=(1.0, 2.0, 10.0))
    result = shared_engine.version_query(shared.datastack, 2, spec)
    assert result.resolution == (1.0, 2.0, 10.0)
    assert result.schema.field("pre_pt_position_x").type == pa.float64()
    result.close()
    check(shared_engine, shared, 2, spec)
    plain = shared_engine.version_query(shared.datastack, 2, QuerySpec(("synapses",)))
    assert plain.resolution == (4.0, 4.0, 40.0)
    assert plain.schema.field("pre_pt_position_x").type == pa.int64()
    assert plain.schema.field("pre_pt_root_id").type == pa.int64()
    plain.close()
    packed = QuerySpec(("synapses",), split_positions=False)
    result = shared_engine.version_query(shared.datastack, 2, packed)
    assert result.schema.field("pre_pt_position").type == pa.list_(pa.int64(), 3)
    result.close()
    check(shared_engine, shared, 2, packed)
    check(
        shared_engine,
        shared,
        2,
        QuerySpec(
            ("tags", "cells"),
            joins=(TAG_CELL,),
            split_positions=False,
            desired_resolution=(2.0, 2.0, 2.0),
        ),
    )


def test_random_sample(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    total = shared_engine.version_count(shared.datastack, 2, QuerySpec(("synapses",)))
    assert total == len(shared.rows_at("synapses", shared.times["t2"]))
    everything = rows_of(shared_engine.version_query(shared.datastack, 2, QuerySpec(("synapses",))))
    valid = {r["id"]: r for r in everything}
    sizes = []
    for _ in range(5):
        got = rows_of(
            shared_engine.version_query(
                shared.datastack, 2, QuerySpec(("synapses",), random_sample=30)
            )
        )
        ids = [r["id"] for r in got]
        assert ids == sorted(ids)
        assert all(valid[r["id"]] == r for r in got)
        sizes.append(len(got))
    assert 5 <= sum(sizes) / len(sizes) <= 60
    got = rows_of(
        shared_engine.version_query(
            shared.datastack, 2, QuerySpec(("synapses",), random_sample=total + 5)
        )
    )
    assert len(got) == total


def test_batches_are_bounded_and_released(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    result = shared_engine.version_query(shared.datastack, 2, QuerySpec(("synapses",)))
    sizes = [b.num_rows for b in result.batches]
    assert max(sizes) <= 16
    assert sum(sizes) == len(shared.rows_at("synapses", shared.times["t2"]))
    early = shared_engine.version_query(shared.datastack, 2, QuerySpec(("synapses",)))
    next(iter(early.batches))
    early.close()
    unstarted = shared_engine.version_query(shared.datastack, 2, QuerySpec(("synapses",)))
    unstarted.close()
    db = shared_engine._open[(shared.datastack, 2)].database
    pool = db._pool if hasattr(db, "_pool") else db.engine.pool  # type: ignore[attr-defined]
    assert pool.checkedout() == 0


@pytest.mark.parametrize("version", [1, 2])
def test_counts(shared: QueryWorld, shared_engine: QueryEngine, version: int) -> None:
    at = shared.times["t1" if version == 1 else "t2"]
    for table in ("synapses", "cells", "tags"):
        assert shared_engine.version_count(shared.datastack, version, QuerySpec((table,))) == len(
            shared.rows_at(table, at)
        )
    spec = QuerySpec(
        ("tags", "cells"),
        joins=(TAG_CELL,),
        filters=(Filter("cells", "cell_type", "equal", "pyr"),),
    )
    assert shared_engine.version_count(shared.datastack, version, spec) == len(
        shared.oracle(spec, at)
    )


def test_history_columns_are_skipped_with_a_warning(
    shared: QueryWorld, shared_engine: QueryEngine
) -> None:
    spec = QuerySpec(("cells",), select={"cells": ("id", "valid", "created")})
    result = shared_engine.version_query(shared.datastack, 2, spec)
    assert result.schema.names == ["id"]
    assert any("cells.valid" in w and "cells.created" in w for w in result.warnings)
    assert "cells: cells are provisional" in result.warnings
    assert result.column_names == {"cells": {"id": "id"}}
    result.close()


def test_concurrent_queries(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    specs = [
        QuerySpec(("synapses",)),
        QuerySpec(("tags", "cells"), joins=(TAG_CELL,)),
        QuerySpec(("cells",), filters=(Filter("cells", "cell_type", "regex", "^p"),)),
    ]
    expected = [shared.oracle(s, shared.times["t2"]) for s in specs]

    def run(k: int) -> bool:
        spec = specs[k % len(specs)]
        got = rows_of(shared_engine.version_query(shared.datastack, 2, spec))
        return close_rows(got, expected[k % len(specs)])

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(run, range(24)))


def test_long_value_lists(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    """Lists longer than any driver's parameter limit are one parameter."""
    ids = list(range(3, 140_000, 2))
    types = ["pyr", "basket"] + [f"type {i}" for i in range(70_000)]
    sizes = [float(i) / 10 for i in range(70_000)]
    for spec in (
        QuerySpec(("synapses",), filters=(Filter("synapses", "id", "in", ids),)),
        QuerySpec(("synapses",), filters=(Filter("synapses", "id", "not_in", ids),)),
        QuerySpec(("synapses",), filters=(Filter("synapses", "size", "in", sizes),)),
        QuerySpec(("cells",), filters=(Filter("cells", "cell_type", "in", types),)),
        QuerySpec(("cells",), filters=(Filter("cells", "cell_type", "not_in", types),)),
    ):
        check(shared_engine, shared, 2, spec)
        got = rows_of(shared_engine.live_query(shared.datastack, shared.times["mid"], spec))
        assert close_rows(got, shared.oracle(spec, shared.times["mid"]))


def test_spatial_filters_use_the_spatial_index(shared: QueryWorld) -> None:
    """The compiled spatial filter is answered through the GiST index (PostgreSQL, sequential
    scans disabled) or the R*Tree (SQLite)."""
    store = shared.store
    info = get_version(store, shared.datastack, 2)
    plan = make_plan(
        QuerySpec(
            ("synapses",),
            filters=(Filter("synapses", "post_pt_position", "spatial", ((0, 0, 0), (9, 9, 9))),),
        ),
        [flat_columns(store.get_table("synapses"))],
        1000,
    )
    query = VersionQuery(plan, store.dialect_name, info.history_at).rows()
    # a history version is read from the live database, whose tables carry the same indexes
    version = open_version(store, shared.datastack, info.version) if info.copied else None
    try:
        with (version or store.engine).connect() as conn:
            compiled = query.compile(
                dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
            )
            if store.dialect_name == "postgresql":
                conn.exec_driver_sql("SET enable_seqscan = off")
                lines = conn.exec_driver_sql(
                    "EXPLAIN " + compiled.string, compiled.params
                ).scalars()
                # a history version's box goes through the live annotation table's index
                assert index_name("idx", "synapses", "post_pt_position") in "\n".join(lines)
            else:
                params = tuple(compiled.params[n] for n in compiled.positiontup or [])
                found = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.string, params)
                plan_text = "\n".join(str(r[-1]) for r in found)
                assert "synapses__rtree_post_pt" in plan_text
                assert "VIRTUAL TABLE INDEX" in plan_text
    finally:
        if version is not None:
            version.dispose()


def test_optional_points_and_mixed_resolutions(
    shared: QueryWorld, shared_engine: QueryEngine
) -> None:
    nuc = "nuclei"
    specs = [
        QuerySpec((nuc,)),
        QuerySpec((nuc,), split_positions=False),
        QuerySpec(
            (nuc,),
            filters=(Filter(nuc, "bb_start_position", "spatial", ((0, 0, 0), (40, 60, 60))),),
        ),
        QuerySpec((nuc,), filters=(Filter(nuc, "bb_end_position_x", "greater", 10),)),
        QuerySpec((nuc,), filters=(Filter(nuc, "bb_end_position_x", "not_in", [1, 2, 3]),)),
        QuerySpec((nuc,), filters=(Filter(nuc, "volume", "not_in", [1.0, 50.0]),)),
        QuerySpec(
            (nuc,),
            select={nuc: ("bb_start_position", "volume")},
            desired_resolution=(1.0, 1.0, 1.0),
        ),
        QuerySpec((nuc, "cells"), joins=(Join(nuc, "pt_root_id", "cells", "pt_root_id"),)),
        QuerySpec(
            ("cells", nuc),
            joins=(Join(nuc, "pt_root_id", "cells", "pt_root_id"),),
            split_positions=False,
        ),
    ]
    for spec in specs:
        got = check(shared_engine, shared, 2, spec)
        check(shared_engine, shared, 1, spec)
        for when in ("mid", "t3"):
            live = rows_of(shared_engine.live_query(shared.datastack, shared.times[when], spec))
            assert close_rows(live, shared.oracle(spec, shared.times[when])), (when, spec)
    assert any(
        r["bb_start_position_x"] is None
        for r in rows_of(shared_engine.version_query(shared.datastack, 2, QuerySpec((nuc,))))
    )
    mixed = shared_engine.version_query(shared.datastack, 2, specs[-2])
    assert mixed.resolution == (16.0, 16.0, 40.0)
    assert mixed.schema.field("pt_position_x").type == pa.int64()
    assert mixed.schema.field("pt_position_cells_x").type == pa.float64()
    mixed.close()
    assert got
    one_axis = QuerySpec(
        (nuc,), select={nuc: ("id", "pt_position_y")}, desired_resolution=(1.0, 1.0, 1.0)
    )
    axis_rows = rows_of(shared_engine.version_query(shared.datastack, 2, one_axis))
    full = shared.oracle(QuerySpec((nuc,)), shared.times["t2"])
    assert axis_rows == [{"id": r["id"], "pt_position_y": r["pt_position_y"] * 16.0} for r in full]
