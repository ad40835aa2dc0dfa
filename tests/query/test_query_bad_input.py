"""Refusals: unknown tables and columns, wrong value types, bad boxes, bad paging, and SQL
injection through names and values (refused, or harmless: every table keeps its rows)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from helpers import rows_of
from query_world import QueryWorld

from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.query.engine import QueryEngine
from fixative.query.spec import Filter, Join, QuerySpec

SYN = "synapses"


def refused(
    engine: QueryEngine, world: QueryWorld, spec: QuerySpec, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        engine.version_query(world.datastack, 2, spec)
    with pytest.raises(error, match=match):
        engine.live_query(world.datastack, world.times["mid"], spec)


def test_unknown_names(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    e, w = shared_engine, shared
    with pytest.raises(NotFound, match="nope"):
        e.version_query(w.datastack, 2, QuerySpec(("nope",)))
    with pytest.raises(NotFound, match="nope"):
        e.live_query(w.datastack, w.times["mid"], QuerySpec(("nope",)))
    with pytest.raises(NotFound):
        e.version_query(w.datastack, 99, QuerySpec((SYN,)))
    refused(
        e,
        w,
        QuerySpec((SYN,), filters=(Filter(SYN, "volume", "equal", 1),)),
        InvalidInput,
        "synapses.*volume",
    )
    refused(
        e, w, QuerySpec((SYN,), select={SYN: ("id", "colour")}), InvalidInput, "synapses.*colour"
    )
    refused(e, w, QuerySpec((SYN,), select={"cells": ("id",)}), InvalidInput, "cells")
    refused(
        e, w, QuerySpec((SYN,), filters=(Filter("cells", "id", "equal", 1),)), InvalidInput, "cells"
    )
    refused(e, w, QuerySpec(("tags", "cells")), InvalidInput, "not joined")
    refused(e, w, QuerySpec((SYN, SYN)), InvalidInput, "more than once")
    refused(
        e,
        w,
        QuerySpec(("tags", "cells"), joins=(Join("tags", "tag", "cells", "id"),)),
        InvalidInput,
        "cannot join",
    )
    refused(
        e,
        w,
        QuerySpec(("tags", "cells"), joins=(Join("tags", "target_id", "cells", "nope"),)),
        InvalidInput,
        "nope",
    )


@pytest.mark.parametrize(
    ("column", "op", "value", "match"),
    [
        ("id", "equal", "3", "integer"),
        ("id", "equal", True, "integer"),
        ("id", "equal", 1.5, "integer"),
        ("id", "in", 3, "list"),
        ("id", "in", "123", "list"),
        ("id", "in", [1, "2"], "integer"),
        ("id", "not_in", [2**63], "64-bit"),
        ("pre_pt_root_id", "greater", None, "integer"),
        ("size", "less", "big", "numbers"),
        ("size", "less", float("nan"), "finite"),
        ("size", "regex", "1", "string columns"),
        ("pre_pt_position", "equal", 3, "spatial"),
        ("pre_pt_position", "spatial", [[0, 0, 0]], "x0"),
        ("pre_pt_position", "spatial", [[0, 0, 0], [1, 1]], "three"),
        ("pre_pt_position", "spatial", [[0, 0, 0], [1, 1, 1.5]], "integers"),
        ("pre_pt_position", "spatial", [[5, 0, 0], [1, 1, 1]], "low x"),
        ("pre_pt_position", "spatial", "[[0,0,0],[1,1,1]]", "x0"),
        ("size", "spatial", [[0, 0, 0], [1, 1, 1]], "not a position"),
        ("id", "like", 3, "unknown filter"),
    ],
)
def test_bad_filter_values(
    shared: QueryWorld, shared_engine: QueryEngine, column: str, op: Any, value: Any, match: str
) -> None:
    refused(
        shared_engine,
        shared,
        QuerySpec((SYN,), filters=(Filter(SYN, column, op, value),)),
        InvalidInput,
        match,
    )


def test_bad_strings_and_paging(shared: QueryWorld, shared_engine: QueryEngine) -> None:
    e, w = shared_engine, shared
    refused(
        e,
        w,
        QuerySpec(("cells",), filters=(Filter("cells", "cell_type", "regex", "(unclosed"),)),
        InvalidInput,
        "bad pattern",
    )
    refused(
        e,
        w,
        QuerySpec(("cells",), filters=(Filter("cells", "cell_type", "equal", 3),)),
        InvalidInput,
        "strings",
    )
    refused(e, w, QuerySpec((SYN,), limit=-1), InvalidInput, "limit")
    refused(e, w, QuerySpec((SYN,), offset=-3), InvalidInput, "offset")
    refused(e, w, QuerySpec((SYN,), random_sample=0), InvalidInput, "random_sample")
    refused(
        e,
        w,
        QuerySpec((SYN,), desired_resolution=(1.0, 0.0, 1.0)),
        InvalidInput,
        "desired_resolution",
    )
    refused(
        e,
        w,
        QuerySpec(
            ("tags", "cells"),
            joins=(Join("tags", "target_id", "cells", "id"),),
            suffixes={"tags": "", "cells": ""},
        ),
        InvalidInput,
        "twice",
    )


def _valid_regex(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def test_injection_is_refused_or_harmless(world: QueryWorld, engine: QueryEngine) -> None:
    before = {t: len(world.rows_at(t, world.store.clock())) for t in ("synapses", "cells", "tags")}
    evil = 'x"; DROP TABLE synapses; --'
    refused(
        engine,
        world,
        QuerySpec((SYN,), filters=(Filter(SYN, evil, "equal", 1),)),
        InvalidInput,
        "DROP",
    )
    refused(engine, world, QuerySpec((SYN,), select={SYN: (evil,)}), InvalidInput, "DROP")
    with pytest.raises(NotFound):
        engine.version_query(world.datastack, 2, QuerySpec((evil,)))
    for value in ("x'; DROP TABLE cells; --", "'); DELETE FROM cells; --", "\\'; SELECT 1; --"):
        for op in ("equal", "regex"):
            spec = QuerySpec(("cells",), filters=(Filter("cells", "cell_type", op, value),))
            if op == "regex" and not _valid_regex(value):
                with pytest.raises(InvalidInput, match="bad pattern"):
                    engine.version_query(world.datastack, 2, spec)
                continue
            assert rows_of(engine.version_query(world.datastack, 2, spec)) == []
            assert rows_of(engine.live_query(world.datastack, world.times["t3"], spec)) == []
        spec = QuerySpec(("cells",), filters=(Filter("cells", "cell_type", "in", [value, "pyr"]),))
        assert all(
            r["cell_type"] == "pyr" for r in rows_of(engine.version_query(world.datastack, 2, spec))
        )
    after = {t: len(world.rows_at(t, world.store.clock())) for t in ("synapses", "cells", "tags")}
    assert after == before
    assert engine.version_count(world.datastack, 2, QuerySpec(("cells",))) == len(
        world.rows_at("cells", world.times["t2"])
    )


def test_expired_version_is_refused(world: QueryWorld, engine: QueryEngine) -> None:
    from fixative.versions.tables import versions

    rows_of(engine.version_query(world.datastack, 1, QuerySpec((SYN,))))
    with world.store.write() as conn:
        conn.execute(
            versions.update().where(versions.c.version == 1).values(status="EXPIRED", valid=False)
        )
    with pytest.raises(Conflict, match="EXPIRED"):
        engine.version_query(world.datastack, 1, QuerySpec((SYN,)))
    assert (world.datastack, 1) not in engine._open
