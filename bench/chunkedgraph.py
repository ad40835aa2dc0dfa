"""Root lookups of the embedded chunkedgraph against the limit, on SQLite in a temp dir.

    python bench/chunkedgraph.py [--supervoxels 100000] [--operations 2000] [--lookups 1000000]
                                 [--sparse]

Builds a proofreading-like history: neurons of ~50 supervoxels, over-segmented at the start;
most edits merge fragments back, some merge two neurons by mistake and split them again with a
minimum cut, some undo or redo. Then ``get_roots`` for 1,000,000 random supervoxel ids, at a past
instant (mid-history) and at now, against the limit: one numpy ``take`` from a precomputed
supervoxel -> root array for the same ids (indexed by id; with ``--sparse`` PyChunkedGraph-shaped
ids are used and the baseline takes by precomputed position). The last lines are one JSON object
per figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.errors import Conflict
from fixative.store import open_store
from fixative.testing.clock import TickingClock

NEURON_SIZE = 50


def _supervoxel_ids(n: int, sparse: bool) -> np.ndarray[Any, np.dtype[np.uint64]]:
    ids = np.arange(1, n + 1, dtype=np.uint64)
    if sparse:  # layer 1, chunk coordinates in the middle bits, like PyChunkedGraph
        chunk, seg = ids // np.uint64(64), ids % np.uint64(64)
        ids = (np.uint64(1) << np.uint64(56)) | (chunk << np.uint64(20)) | seg
    return ids


def _neurons(svs: list[int], rng: np.random.Generator) -> tuple[list[tuple[int, int]], list[Any]]:
    """Random trees of NEURON_SIZE supervoxels; 2 edges per neuron held back (the
    over-segmentation the merges repair)."""
    edges, held_back = [], []
    for lo in range(0, len(svs), NEURON_SIZE):
        members = svs[lo : lo + NEURON_SIZE]
        tree = [(members[i], members[int(rng.integers(0, i))]) for i in range(1, len(members))]
        drop = set(rng.choice(len(tree), size=min(2, len(tree)), replace=False).tolist())
        edges += [e for i, e in enumerate(tree) if i not in drop]
        held_back += [tree[i] for i in sorted(drop)]
    return edges, held_back


def _edit(
    graph: EmbeddedChunkedGraph,
    svs: list[int],
    held: list[Any],
    rng: np.random.Generator,
    latencies: dict[str, list[float]],
) -> None:
    roll = rng.random()
    n_ops = len(graph.list_operations())
    start = time.perf_counter()
    try:
        if roll < 0.65 and held:
            a, b = held.pop(int(rng.integers(0, len(held))))
            kind, _ = "merge", graph.merge(a, b, "proofreader")
        elif roll < 0.8:
            a, b = (svs[int(i)] for i in rng.integers(0, len(svs), size=2))
            graph.merge(a, b, "proofreader")  # a wrong merge, split again at once
            latencies.setdefault("merge", []).append(time.perf_counter() - start)
            start = time.perf_counter()
            kind, _ = "split", graph.split([a], [b], "proofreader")
        elif n_ops:
            target = int(rng.integers(max(1, n_ops - 20), n_ops + 1))
            kind = "undo" if rng.random() < 0.7 else "redo"
            (graph.undo if kind == "undo" else graph.redo)(target, "proofreader")
        else:
            return
    except Conflict:
        return
    latencies.setdefault(kind, []).append(time.perf_counter() - start)


def _best(run: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _first_call(graph: EmbeddedChunkedGraph, ids: Any, past: Any) -> float:
    """One lookup at past instants never asked before (no snapshot yet), best of 3."""
    times = []
    ops = graph.list_operations()
    for fifth in (1, 2, 3):
        at = ops[len(ops) * fifth // 5].timestamp
        assert at != past
        start = time.perf_counter()
        graph.get_roots(ids, at)
        times.append(time.perf_counter() - start)
    return min(times)


def _figure(name: str, ours_s: float, limit_s: float, lookups: int) -> dict[str, Any]:
    return {
        "figure": name,
        "value": round(lookups / ours_s),
        "unit": "ids/s",
        "baseline": round(lookups / limit_s),
        "ratio": round(limit_s / ours_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--supervoxels", type=int, default=100_000)
    parser.add_argument("--operations", type=int, default=2_000)
    parser.add_argument("--lookups", type=int, default=1_000_000)
    parser.add_argument("--sparse", action="store_true", help="PyChunkedGraph-shaped sv ids")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    sv_array = _supervoxel_ids(args.supervoxels, args.sparse)
    svs = sv_array.tolist()
    edges, held = _neurons(svs, rng)
    with tempfile.TemporaryDirectory() as tmp:
        clock = TickingClock(step=timedelta(seconds=1))
        store = open_store(f"sqlite:///{Path(tmp) / 'live.db'}", clock)
        shape = "sparse" if args.sparse else "dense"
        print(f"graph: {args.supervoxels:,} supervoxels ({shape} ids), SQLite in {tmp}")
        seconds = {"build": time.perf_counter()}
        graph = EmbeddedChunkedGraph.create(store, "bench", sv_array, edges)
        seconds["build"] = time.perf_counter() - seconds["build"]
        latencies: dict[str, list[float]] = {}
        seconds["edits"] = time.perf_counter()
        while sum(len(v) for v in latencies.values()) < args.operations:
            _edit(graph, svs, held, rng, latencies)
        seconds["edits"] = time.perf_counter() - seconds["edits"]
        seconds["open"] = time.perf_counter()
        reopened = EmbeddedChunkedGraph.open(store, "bench")
        seconds["open"] = time.perf_counter() - seconds["open"]
        ops = reopened.list_operations()
        past = ops[len(ops) // 2].timestamp
        _report_setup(reopened, seconds, latencies)
        figures = _lookups(reopened, sv_array, past, args, rng)
        store.dispose()
    for fig in figures:
        print(json.dumps(fig))


def _report_setup(
    graph: EmbeddedChunkedGraph, seconds: dict[str, float], latencies: dict[str, list[float]]
) -> None:
    ops = graph.list_operations()
    print(
        f"{len(ops):,} operations; build {seconds['build']:.2f} s, edits {seconds['edits']:.1f} s"
    )
    print(f"open from the database (load + replay every operation): {seconds['open']:.2f} s")
    for kind, values in sorted(latencies.items()):
        ms = sorted(v * 1000 for v in values)
        p99 = ms[int(0.99 * (len(ms) - 1))]
        print(
            f"  {kind:5s} x{len(ms):5d}: median {statistics.median(ms):6.2f} ms, p99 {p99:6.2f} ms"
        )


def _lookups(
    graph: EmbeddedChunkedGraph,
    svs: Any,
    past: Any,
    args: argparse.Namespace,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    positions = rng.integers(0, svs.size, size=args.lookups)
    ids = svs[positions]
    figures = []
    for label, at in (("past", past), ("now", None)):
        table = graph.get_roots(svs, at)  # the precomputed supervoxel -> root array
        if args.sparse:
            limit_s = _best(partial(table.take, positions))
        else:
            lut = np.zeros(int(svs.max()) + 1, dtype=np.uint64)
            lut[svs] = table
            limit_s = _best(partial(lut.take, ids))
        ours_s = _best(partial(graph.get_roots, ids, at))
        assert np.array_equal(graph.get_roots(ids, at), table.take(positions))
        print(
            f"get_roots of {args.lookups:,} ids at {label}: {ours_s * 1000:.1f} ms "
            f"({args.lookups / ours_s / 1e6:.1f} M ids/s); numpy take limit "
            f"{limit_s * 1000:.1f} ms ({args.lookups / limit_s / 1e6:.1f} M ids/s)"
        )
        kind = "sparse" if args.sparse else "dense"
        figures.append(
            _figure(f"get_roots_{label}_{kind}_ids_per_s", ours_s, limit_s, args.lookups)
        )
        if label == "past":
            cold_s = _first_call(graph, ids, past)
            print(f"  first call at a new past instant (builds a snapshot): {cold_s * 1000:.1f} ms")
            figures.append(
                _figure(
                    f"get_roots_past_first_call_{kind}_ids_per_s", cold_s, limit_s, args.lookups
                )
            )
    return figures


if __name__ == "__main__":
    main()
