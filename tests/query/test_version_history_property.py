"""Property: versions kept as rows of the root-id history answer as the brute-force oracle, after
any random history of annotation edits, merges and splits, root updates at random instants,
versions (some at past recorded instants), pins, expiries and compactions; and a compaction never
changes an answer at a retained version or at an instant inside the any-instant window.

Each example builds its own world on a fresh database of the backend (a few seconds on
PostgreSQL), so the example count is small; the steps are what hypothesis varies."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from helpers import rows_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from query_world import PositionVolume, QueryWorld, close_rows

from fixative.errors import Conflict
from fixative.query.engine import QueryEngine
from fixative.query.spec import Filter, QuerySpec
from fixative.testing.clock import TickingClock
from fixative.testing.databases import fresh_store
from fixative.versions import VersionOptions, create_version, list_versions
from fixative.versions.compaction import compact_histories
from fixative.versions.expiry import expire_versions
from fixative.versions.pins import pin_version

SYN = "synapses"

STEP = st.one_of(
    st.tuples(st.just("insert"), st.integers(1, 6)),
    st.tuples(st.just("change"), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("graph"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.just("update")),
    st.tuples(st.just("version")),
    st.tuples(st.just("past_version"), st.integers(0, 50)),
    st.tuples(st.just("pin"), st.integers(0, 50)),
    st.tuples(st.just("expire")),
    st.tuples(st.just("compact"), st.floats(0.0, 1.0)),
)


@contextmanager
def fresh_world(
    backend: str, request: pytest.FixtureRequest, folder: Any, seed: int
) -> Iterator[QueryWorld]:
    template = request.getfixturevalue("pg_template") if backend == "postgres" else None
    with fresh_store(backend, folder, template) as store:
        clock = TickingClock()
        store.clock = clock
        world = QueryWorld(store, clock, "prop_ds", kind="history")
        world.rng = np.random.default_rng(seed)
        yield world.build()


class History:
    """What the steps made: recorded instants, versions and the any-instant window's start."""

    def __init__(self, world: QueryWorld) -> None:
        self.world = world
        self.recorded: list[datetime] = [world.times["t1"], world.times["t2"], world.times["t3"]]
        self.cutoff: datetime | None = None  # instants before it may be compacted away

    def available(self) -> dict[int, datetime]:
        found = list_versions(self.world.store, self.world.datastack)
        return {v.version: v.time_stamp for v in found if v.status == "AVAILABLE"}

    def instants(self, rng: random.Random, count: int) -> list[datetime]:
        """Random instants the any-instant window still covers, up to now."""
        lo = self.cutoff or self.world.times["t1"]
        hi = self.world.store.clock()
        return [lo + (hi - lo) * rng.random() for _ in range(count)]


def apply(step: tuple[Any, ...], history: History, engine: QueryEngine, rng: random.Random) -> None:
    world = history.world
    store, ds = world.store, world.datastack
    kind = step[0]
    if kind == "insert":
        world.insert(SYN, step[1])
    elif kind == "change":
        world.change(SYN, step[1], step[2])
    elif kind == "graph":
        world.edit_graph(step[1], step[2])
    elif kind == "update":
        at = world.clock()
        world.bring_to(at)
        history.recorded.append(at)
    elif kind == "version":
        at = world.clock()
        world.bring_to(at)
        history.recorded.append(at)
        create_version(store, ds, at, None, VersionOptions(kind="history", days_to_expire=1))
    elif kind == "past_version":
        at = history.recorded[step[1] % len(history.recorded)]
        if history.cutoff is not None and at < history.cutoff:
            return  # compacted away unless a version holds it: not asked for
        create_version(store, ds, at, None, VersionOptions(kind="history", days_to_expire=1))
    elif kind == "pin":
        numbers = sorted(history.available())
        if numbers:
            pin_version(store, ds, numbers[step[1] % len(numbers)], f"paper-{step[1]}")
    elif kind == "expire":
        expire_versions(store, ds, world.store.clock() + timedelta(days=2), min_kept=1)
    elif kind == "compact":
        now = world.store.clock()
        start = history.cutoff or world.times["t1"]
        window = (now - start) * (1 - step[1])
        specs = _specs(world, rng)
        checked = list(history.available().items())
        checked += [(None, at) for at in history.instants(rng, 3)] if window else []
        checked = [(v, at) for v, at in checked if v is not None or at >= now - window]
        before = [_answers(engine, world, v, at, specs) for v, at in checked]
        compact_histories(store, None, now, window)
        history.cutoff = max(history.cutoff or now - window, now - window)
        after = [_answers(engine, world, v, at, specs) for v, at in checked]
        assert after == before  # a compaction never changes an answer it must keep


def _specs(world: QueryWorld, rng: random.Random) -> list[QuerySpec]:
    rows = world.rows_at(SYN, world.store.clock())
    roots = sorted({r["pre_pt_root_id"] for r in rows} | {r["post_pt_root_id"] for r in rows})
    chosen = rng.sample(roots, min(3, len(roots)))
    return [
        QuerySpec((SYN,)),
        QuerySpec((SYN,), filters=(Filter(SYN, "post_pt_root_id", "in", chosen),)),
        QuerySpec(
            (SYN,), filters=(Filter(SYN, "pre_pt_position", "spatial", ((0, 0, 0), (99, 99, 99))),)
        ),
    ]


def _answers(
    engine: QueryEngine,
    world: QueryWorld,
    version: int | None,
    at: datetime,
    specs: list[QuerySpec],
) -> list[Any]:
    out = []
    for spec in specs:
        if version is None:
            got = rows_of(engine.live_query(world.datastack, at, spec))
        else:
            got = rows_of(engine.version_query(world.datastack, version, spec))
        assert close_rows(got, world.oracle(spec, at)), (version, at, spec)
        out.append(got)
    return out


def test_history_versions_match_the_oracle_through_any_history(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    @settings(
        max_examples=6,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(steps=st.lists(STEP, min_size=2, max_size=9), seed=st.integers(0, 2**16))
    def run(steps: list[tuple[Any, ...]], seed: int) -> None:
        folder = tmp_path_factory.mktemp("history_property")
        with fresh_world(backend, request, folder, seed) as world:
            engine = QueryEngine(
                world.store,
                lambda _ds: world.cg,
                row_cap=10_000,
                batch_rows=64,
                volumes=lambda _ds: PositionVolume(),
            )
            try:
                history = History(world)
                rng = random.Random(seed)
                for step in steps:
                    refusable = step[0] == "past_version"  # an instant not every table was at
                    try:
                        apply(step, history, engine, rng)
                    except Conflict:
                        if not refusable:
                            raise
                specs = _specs(world, rng)
                for version, at in history.available().items():
                    _answers(engine, world, version, at, specs)
                for at in history.instants(rng, 4):
                    _answers(engine, world, None, at, specs)
            finally:
                engine.close()

    run()
