"""Property: random filter combinations give the oracle's rows, on a version and live."""

from __future__ import annotations

from typing import Any

from helpers import rows_of
from hypothesis import given, settings
from hypothesis import strategies as st
from query_world import QueryWorld, close_rows

from fixative.query.engine import QueryEngine
from fixative.query.spec import Filter, QuerySpec

SYN = "synapses"
COMPARE = ("equal", "greater", "less", "greater_equal", "less_equal")


@st.composite
def synapse_filter(draw: st.DrawFn, values: dict[str, list[Any]]) -> Filter:
    kind = draw(st.sampled_from(["compare", "list", "spatial"]))
    if kind == "spatial":
        point = draw(st.sampled_from(["pre_pt_position", "ctr_pt_position", "post_pt_position"]))
        lo = [draw(st.integers(-10, 200)) for _ in range(3)]
        hi = [a + draw(st.integers(0, 150)) for a in lo]
        return Filter(SYN, point, "spatial", (tuple(lo), tuple(hi)))
    column = draw(st.sampled_from(sorted(values)))
    pool = values[column]
    if kind == "list":
        chosen = draw(st.lists(st.sampled_from(pool), max_size=6))
        return Filter(SYN, column, draw(st.sampled_from(["in", "not_in"])), chosen)
    return Filter(SYN, column, draw(st.sampled_from(COMPARE)), draw(st.sampled_from(pool)))


def test_random_filters_match_oracle(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    at = {2: shared.times["t2"], "mid": shared.times["mid"]}
    values: dict[str, list[Any]] = {}
    for when in at.values():
        for row in shared.rows_at(SYN, when):
            for column in ("id", "size", "pre_pt_root_id", "post_pt_root_id", "pre_pt_position_y"):
                values.setdefault(column, []).append(row[column])
    values = {k: sorted(set(v)) for k, v in values.items()}

    @settings(max_examples=25, deadline=None)
    @given(
        filters=st.lists(synapse_filter(values), max_size=3),
        where=st.sampled_from(sorted(at, key=str)),
        offset=st.integers(0, 5),
        limit=st.none() | st.integers(0, 20),
    )
    def run(filters: list[Filter], where: Any, offset: int, limit: int | None) -> None:
        spec = QuerySpec((SYN,), filters=tuple(filters), offset=offset, limit=limit)
        if where == 2:
            got = rows_of(shared_engine.version_query(shared.datastack, 2, spec))
        else:
            got = rows_of(shared_engine.live_query(shared.datastack, at[where], spec))
        assert close_rows(got, shared.oracle(spec, at[where]))

    run()
