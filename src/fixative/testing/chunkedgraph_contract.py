"""The contract every ChunkedGraph adapter must meet, as a pytest class to subclass.

A fixed edit history (merges, a minimum-cut split, a partial split, a three-way split, undo,
redo) is played on an ``EmbeddedChunkedGraph`` built in the ``store`` fixture's database, with
the brute-force oracle alongside. ``adapter`` turns that graph into the adapter under test (the
graph itself, a graph reopened from the database, an HTTP client of a server publishing it...);
every read is then compared with the oracle at every interesting instant: before the build, at
each operation instant, 1 ms either side, and between.

    class TestMyAdapter(ChunkedGraphContract):
        def adapter(self, graph, store):
            return MyAdapter(...)

Needs the ``store`` and ``clock`` fixtures (``tests/conftest.py``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.chunkedgraph.port import ChunkedGraph, Operation
from fixative.errors import NotFound
from fixative.store import Store
from fixative.testing.chunkedgraph_oracle import ChunkedGraphOracle
from fixative.testing.clock import TickingClock

MS = timedelta(milliseconds=1)


def sv(i: int) -> int:
    """Supervoxel number ``i``, shaped like a PyChunkedGraph layer-1 id (large, sparse)."""
    return (1 << 56) | (i * 65_537)


SUPERVOXELS = [sv(i) for i in range(1, 16)]
INITIAL_EDGES = [
    (sv(1), sv(2)),
    (sv(2), sv(3)),
    (sv(1), sv(3)),  # triangle A
    (sv(5), sv(6)),
    (sv(6), sv(7)),
    (sv(5), sv(7)),  # triangle B
    (sv(8), sv(9)),
    (sv(9), sv(10)),
    (sv(8), sv(10)),  # triangle C
    (sv(13), sv(14)),
    (sv(13), sv(15)),  # star around 13
]


@dataclass
class History:
    """The adapter under test, the oracle, and the instants worth asking about."""

    graph: ChunkedGraph
    oracle: ChunkedGraphOracle
    operations: list[Operation] = field(default_factory=list)
    instants: list[datetime] = field(default_factory=list)

    def roots(self) -> list[int]:
        return sorted(self.oracle.roots)


SCRIPT: list[tuple[str, tuple[Any, ...]]] = [
    ("merge", (sv(3), sv(5), "ann")),
    ("split", ([sv(1)], [sv(7)], "bob")),  # minimum cut: the bridge 3-5
    ("remove_edges", ([(sv(8), sv(9))], "ann")),  # partial split: C stays connected
    ("merge", (sv(11), sv(12), "cat")),
    ("undo", (4, "cat")),
    ("redo", (4, "cat")),
    ("merge", (sv(2), sv(9), "ann")),
    ("remove_edges", ([(sv(13), sv(14)), (sv(13), sv(15))], "bob")),  # one root into three
    ("undo", (2, "ann")),  # puts the bridge back: two roots into one
]


def _model(
    oracle: ChunkedGraphOracle, kind: str, args: tuple[Any, ...], done: Operation
) -> Operation:
    """The oracle's version of one scripted step, at the instant the graph stamped."""
    at = done.timestamp
    if kind == "merge":
        sv_a, sv_b, user_id = args
        return oracle.merge(sv_a, sv_b, user_id, at)
    if kind == "split":
        sources, sinks, user_id = args
        return oracle.split(sources, sinks, user_id, at, done.removed_edges)
    if kind == "remove_edges":
        edges, user_id = args
        return oracle.remove_edges(edges, user_id, at)
    operation_id, user_id = args
    return oracle.replay(operation_id, user_id, at, undo=kind == "undo")


def play(
    graph: EmbeddedChunkedGraph, oracle: ChunkedGraphOracle, clock: TickingClock
) -> list[Operation]:
    """The fixed history, checked step by step against the oracle."""
    done = []
    for n, (kind, args) in enumerate(SCRIPT):
        clock.advance(timedelta(microseconds=1_700 * (n % 3) + 300))
        op: Operation = getattr(graph, kind)(*args)
        assert op == _model(oracle, kind, args, op)
        done.append(op)
    return done


def instants(created_at: datetime, operations: list[Operation]) -> list[datetime]:
    stamps = [created_at] + [op.timestamp for op in operations]
    around = [created_at - MS, stamps[-1] + 1000 * MS]
    for stamp in stamps:
        around += [stamp - MS, stamp - MS / 2, stamp, stamp + MS / 2, stamp + MS]
    return sorted(set(around))


class ChunkedGraphContract:
    """Subclass per adapter; override ``adapter``."""

    table_id = "contract_pcg"

    def adapter(self, graph: EmbeddedChunkedGraph, store: Store) -> ChunkedGraph:
        return graph

    @pytest.fixture
    def history(self, store: Store, clock: TickingClock) -> History:
        graph = EmbeddedChunkedGraph.create(store, self.table_id, SUPERVOXELS, INITIAL_EDGES)
        created_at = graph.get_oldest_timestamp()
        oracle = ChunkedGraphOracle(SUPERVOXELS, INITIAL_EDGES, created_at)
        operations = play(graph, oracle, clock)
        return History(
            self.adapter(graph, store), oracle, operations, instants(created_at, operations)
        )

    def test_roots_at_every_instant(self, history: History) -> None:
        asked = [0, *SUPERVOXELS]
        for at in [*history.instants, None]:
            got = history.graph.get_roots(np.array(asked, dtype=np.uint64), at)
            assert got.dtype == np.uint64
            assert got.tolist() == history.oracle.roots_at(asked, at), at

    def test_roots_keep_order_and_repeats(self, history: History) -> None:
        asked = [sv(7), 0, sv(1), sv(7), sv(1), sv(15)]
        at = history.operations[3].timestamp
        assert history.graph.get_roots(asked, at).tolist() == history.oracle.roots_at(asked, at)
        assert history.graph.get_roots([]).size == 0

    def test_roots_before_the_build_are_zero(self, history: History) -> None:
        before = history.graph.get_oldest_timestamp() - MS
        assert not history.graph.get_roots(SUPERVOXELS, before).any()

    def test_unknown_supervoxel_is_not_found(self, history: History) -> None:
        with pytest.raises(NotFound):
            history.graph.get_roots([sv(1), sv(99)])

    def test_delta_roots(self, history: History) -> None:
        for since, until in itertools.combinations(history.instants[::3], 2):
            old, new = history.graph.get_delta_roots(since, until)
            want_old, want_new = history.oracle.delta_roots(since, until)
            assert sorted(old.tolist()) == want_old, (since, until)
            assert sorted(new.tolist()) == want_new, (since, until)
        old, new = history.graph.get_delta_roots(history.instants[0])
        assert sorted(new.tolist()) == history.oracle.delta_roots(history.instants[0], None)[1]

    def test_is_latest(self, history: History) -> None:
        asked = [*history.roots(), sv(1), 12345]
        for at in [*history.instants, None]:
            got = history.graph.is_latest_roots(asked, at)
            assert got.tolist() == history.oracle.is_latest(asked, at), at

    def test_root_timestamps(self, history: History) -> None:
        roots = history.roots()
        for at in history.instants[::2]:
            for latest in (False, True):
                got = history.graph.get_root_timestamps(roots, latest=latest, at=at)
                assert got == history.oracle.root_timestamps(roots, latest, at), (at, latest)

    def test_past_id_mapping(self, history: History) -> None:
        roots = history.roots()
        for past, future in itertools.combinations(history.instants[::2], 2):
            got = history.graph.get_past_id_mapping(roots, past, future)
            assert got == history.oracle.past_id_mapping(roots, past, future), (past, future)

    def test_lineage_graph(self, history: History) -> None:
        for root in history.roots():
            for past, future in [(None, None), (history.instants[8], history.instants[-12])]:
                body = history.graph.get_lineage_graph([root], past, future)
                nodes, links = history.oracle.lineage([root], past, future)
                assert {n["id"] for n in body["nodes"]} == nodes
                assert {(e["source"], e["target"]) for e in body["links"]} == links
                for node in body["nodes"]:
                    info = history.oracle.roots[node["id"]]
                    assert node["timestamp"] == info.created_at.timestamp()
                    assert node["operation_id"] == (info.operation_id or None)

    def test_leaves(self, history: History) -> None:
        for root in history.roots():
            got = history.graph.get_leaves(root)
            assert got.dtype == np.uint64
            assert sorted(got.tolist()) == history.oracle.leaves(root)

    def test_oldest_timestamp(self, history: History) -> None:
        assert history.graph.get_oldest_timestamp() == history.oracle.versions[0].at
