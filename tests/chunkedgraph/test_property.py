"""Random merge/split/undo/redo histories at advancing times, against the brute-force oracle.

Every answer is compared at many instants (before the build, exactly at each operation instant,
a microsecond before, half a millisecond after, ...). Root ids are compared exactly: the oracle
mints by the same rules, so equality means the partitions agree, a component keeps its id while
it is untouched, and touched components get fresh ids.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.chunkedgraph.port import Operation
from fixative.errors import FixativeError
from fixative.store import Store
from fixative.testing.chunkedgraph_oracle import ChunkedGraphOracle
from fixative.testing.clock import TickingClock

_tables = itertools.count()
MICRO = timedelta(microseconds=1)
MS = timedelta(milliseconds=1)


def _supervoxel_id(layout: str, i: int) -> int:
    """The i-th id in each layout ``SupervoxelPositions`` handles (offset, table, hash)."""
    if layout == "contiguous":
        return i
    if layout == "gaps":
        return 3 * i
    return (1 << 56) | (i * 7_919)


class GraphMachine(RuleBasedStateMachine):
    store: Store
    clock: TickingClock

    def __init__(self) -> None:
        super().__init__()
        self.svs: list[int] = []
        self.graph: EmbeddedChunkedGraph
        self.follower: EmbeddedChunkedGraph  # opened before any edit; must catch up
        self.oracle: ChunkedGraphOracle

    @initialize(
        n=st.integers(3, 9),
        layout=st.sampled_from(["contiguous", "gaps", "sparse"]),
        pairs=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), max_size=14),
    )
    def build(self, n: int, layout: str, pairs: list[tuple[int, int]]) -> None:
        self.svs = [_supervoxel_id(layout, i) for i in range(1, n + 1)]
        edges = [(self.svs[a % n], self.svs[b % n]) for a, b in pairs if a % n != b % n]
        table_id = f"prop_{next(_tables)}"
        self.graph = EmbeddedChunkedGraph.create(self.store, table_id, self.svs, edges)
        self.follower = EmbeddedChunkedGraph.open(self.store, table_id)
        self.oracle = ChunkedGraphOracle(self.svs, edges, self.graph.get_oldest_timestamp())

    # -- edits -----------------------------------------------------------------------------------

    def _both(self, edit: Callable[[], Operation], model: Callable[[datetime], Operation]) -> None:
        try:
            op = edit()
        except FixativeError as exc:
            failure: FixativeError = exc
        else:
            assert op.timestamp.microsecond % 1000 == 0
            assert op == model(op.timestamp)
            return
        with pytest.raises(FixativeError) as modelled:
            model(self.oracle.versions[-1].at + MS)
        assert type(modelled.value) is type(failure), (failure, modelled.value)

    def _sv(self, i: int) -> int:
        return self.svs[i % len(self.svs)]

    @rule(a=st.integers(0, 8), b=st.integers(0, 8))
    def merge(self, a: int, b: int) -> None:
        sv_a, sv_b = self._sv(a), self._sv(b)
        self._both(
            lambda: self.graph.merge(sv_a, sv_b, "ann"),
            lambda at: self.oracle.merge(sv_a, sv_b, "ann", at),
        )

    @rule(
        which=st.integers(0, 30),
        sources=st.sets(st.integers(0, 8), max_size=3),
        sinks=st.sets(st.integers(0, 8), max_size=3),
    )
    def split(self, which: int, sources: set[int], sinks: set[int]) -> None:
        """Sources and sinks drawn from one root's leaves (so most splits succeed)."""
        roots = sorted(r for r, info in self.oracle.roots.items() if info.expired_at is None)
        leaves = self.oracle.leaves(roots[which % len(roots)])
        src = sorted({leaves[i % len(leaves)] for i in sources})
        snk = sorted({leaves[i % len(leaves)] for i in sinks})
        holder: list[Operation] = []

        def edit() -> Operation:
            holder.append(self.graph.split(src, snk, "bob"))
            return holder[-1]

        self._both(
            edit,
            lambda at: self.oracle.split(
                src, snk, "bob", at, holder[-1].removed_edges if holder else []
            ),
        )

    @rule(picks=st.lists(st.integers(0, 40), min_size=1, max_size=3))
    def remove_edges(self, picks: list[int]) -> None:
        edges = sorted(self.oracle.versions[-1].edges)
        if not edges:
            return
        chosen = sorted({edges[p % len(edges)] for p in picks})
        self._both(
            lambda: self.graph.remove_edges(chosen, "bob"),
            lambda at: self.oracle.remove_edges(chosen, "bob", at),
        )

    @rule(pick=st.integers(-1, 12), undo=st.booleans())
    def replay(self, pick: int, undo: bool) -> None:
        """Undo or redo an operation; mostly an existing one, sometimes 0 or one to come."""
        count = len(self.oracle.operations)
        op_id = count + 1 if pick < 0 else count - pick % (count + 1)
        edit = self.graph.undo if undo else self.graph.redo
        self._both(
            lambda: edit(op_id, "cat"),
            lambda at: self.oracle.replay(op_id, "cat", at, undo),
        )

    @rule(bad=st.sampled_from([0, 10**9, 2**63 + 1]))
    def merge_bad_supervoxel(self, bad: int) -> None:
        self._both(
            lambda: self.graph.merge(bad, self.svs[0], "ann"),
            lambda at: self.oracle.merge(bad, self.svs[0], "ann", at),
        )

    @rule(us=st.integers(0, 3_000))
    def wait(self, us: int) -> None:
        self.clock.advance(timedelta(microseconds=us))

    # -- checks ----------------------------------------------------------------------------------

    def _instants(self) -> list[datetime]:
        stamps = [v.at for v in self.oracle.versions]
        near = [stamps[0] - MS, stamps[-1] + 10 * MS]
        for s in stamps:
            near += [s - MICRO, s, s + MS / 2]
        return near

    @invariant()
    def latest_roots_agree(self) -> None:
        if self.svs:
            assert self.graph.get_roots(self.svs).tolist() == self.oracle.roots_at(self.svs)

    @rule(data=st.data())
    def reads_at_an_instant_agree(self, data: st.DataObject) -> None:
        at = data.draw(st.sampled_from(self._instants()))
        reader = data.draw(st.sampled_from([self.graph, self.follower]))
        asked = [0, *self.svs]
        assert reader.get_roots(asked, at).tolist() == self.oracle.roots_at(asked, at)
        roots = [*sorted(self.oracle.roots), self.svs[0], 7]
        assert reader.is_latest_roots(roots, at).tolist() == self.oracle.is_latest(roots, at)
        known = sorted(self.oracle.roots)
        for latest in (False, True):
            got = reader.get_root_timestamps(known, latest=latest, at=at)
            assert got == self.oracle.root_timestamps(known, latest, at)

    @rule(data=st.data())
    def windows_agree(self, data: st.DataObject) -> None:
        since, until = sorted(
            data.draw(st.lists(st.sampled_from(self._instants()), min_size=2, max_size=2))
        )
        old, new = self.graph.get_delta_roots(since, until)
        assert (sorted(old.tolist()), sorted(new.tolist())) == self.oracle.delta_roots(since, until)
        roots = sorted(self.oracle.roots)
        got = self.graph.get_past_id_mapping(roots, since, until)
        assert got == self.oracle.past_id_mapping(roots, since, until)
        root = data.draw(st.sampled_from(roots))
        body = self.graph.get_lineage_graph([root], since, until)
        nodes, links = self.oracle.lineage([root], since, until)
        assert {n["id"] for n in body["nodes"]} == nodes
        assert {(e["source"], e["target"]) for e in body["links"]} == links

    @precondition(lambda self: bool(self.oracle.operations))
    @rule(data=st.data())
    def an_operation_touches_only_its_roots(self, data: st.DataObject) -> None:
        op = data.draw(st.sampled_from(self.oracle.operations))
        before = self.graph.get_roots(self.svs, op.timestamp - MICRO)
        after = self.graph.get_roots(self.svs, op.timestamp)
        changed = before != after
        assert set(before[changed].tolist()) == set(op.old_root_ids)
        assert set(after[changed].tolist()) == set(op.new_root_ids)
        for root in op.new_root_ids:
            assert np.array_equal(
                self.graph.get_leaves(root),
                np.sort(np.array(self.svs, dtype=np.uint64)[after == root]),
            )

    @rule()
    def reopened_graph_agrees(self) -> None:
        reopened = EmbeddedChunkedGraph.open(self.store, self.graph.table_id)
        assert reopened.list_operations() == self.graph.list_operations()
        for at in self._instants():
            assert np.array_equal(
                reopened.get_roots(self.svs, at), self.graph.get_roots(self.svs, at)
            )
        assert reopened.get_delta_roots(self._instants()[0])[1].tolist() == (
            self.graph.get_delta_roots(self._instants()[0])[1].tolist()
        )


def test_random_histories_match_the_oracle(store: Store, clock: TickingClock) -> None:
    machine = type("BoundGraphMachine", (GraphMachine,), {"store": store, "clock": clock})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=150,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
