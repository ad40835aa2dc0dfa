"""Random insert/update/delete sequences against a plain-Python model of annotation history."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixative.errors import Conflict, NotFound
from fixative.store import NewTable, Store
from fixative.testing.annotations import synapse_record

_names = itertools.count()


@dataclass
class Row:
    size: float
    created: datetime
    deleted: datetime | None = None


@dataclass
class Model:
    rows: dict[int, Row] = field(default_factory=dict)

    def current(self) -> list[int]:
        return sorted(i for i, r in self.rows.items() if r.deleted is None)

    def at(self, t: datetime) -> list[tuple[int, float]]:
        return sorted(
            (i, r.size)
            for i, r in self.rows.items()
            if r.created <= t and (r.deleted is None or r.deleted > t)
        )


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("insert"), st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=4)
        ),
        st.tuples(st.just("update"), st.integers(0, 50), st.floats(0, 1000, allow_nan=False)),
        st.tuples(st.just("delete"), st.integers(0, 50)),
        st.tuples(st.just("delete_unknown"), st.integers(10_000, 20_000)),
        st.tuples(st.just("delete_twice"), st.integers(0, 50)),
    ),
    min_size=1,
    max_size=12,
)


def _apply(store: Store, name: str, model: Model, op: tuple) -> None:  # type: ignore[type-arg]
    kind = op[0]
    current = model.current()
    if kind == "insert":
        ids = store.insert_annotations(
            name, [synapse_record((1, 1, 1), (2, 2, 2), s) for s in op[1]]
        )
        now = store.get_table(name).last_modified_at
        for aid, size in zip(ids.tolist(), op[1], strict=True):
            model.rows[aid] = Row(size, now)
    elif kind == "update" and current:
        old = current[op[1] % len(current)]
        new = store.update_annotations(
            name, [{"id": old, **synapse_record((1, 1, 1), (2, 2, 2), op[2])}]
        )[old]
        now = store.get_table(name).last_modified_at
        model.rows[old].deleted = now
        model.rows[new] = Row(op[2], now)
    elif kind == "delete" and current:
        victim = current[op[1] % len(current)]
        store.delete_annotations(name, [victim])
        model.rows[victim].deleted = store.get_table(name).last_modified_at
    elif kind == "delete_unknown":
        try:
            store.delete_annotations(name, [op[1]])
        except NotFound:
            return
        raise AssertionError("deleting an unknown id must fail")
    elif kind == "delete_twice":
        gone = sorted(i for i, r in model.rows.items() if r.deleted is not None)
        if gone:
            try:
                store.delete_annotations(name, [gone[op[1] % len(gone)]])
            except Conflict:
                return
            raise AssertionError("deleting a deleted row must fail")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=ops)
def test_history_matches_model(store: Store, sequence: list[tuple]) -> None:  # type: ignore[type-arg]
    name = f"prop_{next(_names)}"
    store.create_table(NewTable(name, "synapse", "av", "u", (8, 8, 40)))
    model = Model()
    instants = [store.get_table(name).last_modified_at]
    for op in sequence:
        _apply(store, name, model, op)
        instants.append(store.get_table(name).last_modified_at)
    probes = sorted(
        {
            t + d
            for t in instants
            for d in (-timedelta(microseconds=1), timedelta(0), timedelta(microseconds=1))
        }
    )
    for t in probes:
        got = store.annotations_at(name, t)
        pairs = list(zip(got.column("id").to_pylist(), got.column("size").to_pylist(), strict=True))
        assert pairs == model.at(t), t
        assert store.count_at(name, t) == len(pairs)
