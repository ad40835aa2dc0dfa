"""History versions against flat copies on PostgreSQL at N synapses, in one run.

    python bench/versions.py --synapses 1000000 [--edits 1000] [--queries 60] [--keep]

Setup (untimed, its duration printed): a scratch database and the demo datastack at N synapses,
every row ingested at T0, a flat version and a history version at T0; then ``--edits``
chunkedgraph edits (wrong merges and splits on distinct neurons) and the root update to T1.
Timed, at T1:

1. ``create_version`` with ``kind="flat"`` (copies, ``CREATE TABLE AS`` plus indexes) and with
   ``kind="history"`` (a catalogue row after the same checks), alternating which goes first;
2. bytes on disk: the flat version's database against what one more history version costs
   in steady state. The T1 round's dead rows are reclaimed as a version does (``reclaim``);
   then ``--edits`` more edits, the root update to T2, a history version and ``reclaim``
   again: what the segmentation table and its history (with indexes) grew by over that
   round. The first round's growth of the history alone, before any reclaim (dead rows
   included), is printed beside it (``first_round`` in the JSON), measured after the queries;
3. the same queries through the query engine on both versions, interleaved, after one untimed
   query on each (the first in a process imports the database driver): 100 random pre roots
   (p50, p99), a spatial box (p50; ``random_box``: 1/10 of the x and y extent, as deep as
   the volume at 1M synapses), the whole table as Arrow batches (rows/s);
4. live queries at random instants between T0 and T1 (10 pre roots), against the version
   query of the same roots.

The last lines are one JSON object per figure, with the flat figure of the same run as
``baseline`` (issue 12's targets at 10M: version in under 5 s, under 1% of a flat copy's bytes,
root filter p50 at most 1.25x, full read at least 0.7x, any instant within 1.5x).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.clock import utc_now
from fixative.demo.datastack import PCG_TABLE, DemoOptions, build
from fixative.demo.layout import Layout
from fixative.query.engine import QueryEngine
from fixative.query.spec import Filter, QuerySpec
from fixative.segmentation.tensorstore import TensorStoreSegmentation
from fixative.store import Store, open_store
from fixative.store.segmentation import SegmentationTable
from fixative.testing.databases import drop_pg_database, pg_url
from fixative.versions import VersionOptions, create_version, get_version
from fixative.versions.target import target_for
from fixative.workflows.reclaim import reclaim
from fixative.workflows.refresh import refresh_table
from workflows import make_edits, settle, sql

TABLE = "synapses"
BOX_SYNAPSES = 1_000_000  # at this size the box spans the volume's whole z depth


def figure(name: str, value: float, unit: str, baseline: float | None, **extra: Any) -> str:
    ratio = None if not baseline else round(value / baseline, 3)
    out = {"figure": name, "value": round(value, 4), "unit": unit}
    out |= {"baseline": None if baseline is None else round(baseline, 4), "ratio": ratio}
    return json.dumps(out | extra)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def drain(result: Any) -> int:
    rows = 0
    for batch in result.batches:
        rows += batch.num_rows
    result.close()
    return rows


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Runs:
    """Per (kind, query) latencies in ms."""

    def __init__(self) -> None:
        self.ms: dict[tuple[str, str], list[float]] = {}

    def add(self, kind: str, query: str, seconds: float) -> None:
        self.ms.setdefault((kind, query), []).append(seconds * 1000)

    def p(self, kind: str, query: str, q: float) -> float:
        return pct(self.ms[(kind, query)], q)


def query_inputs(store: Store, links: SegmentationTable) -> tuple[list[int], tuple[int, ...]]:
    """The pre roots the queries draw from, and the pre points' extent (min x, max x, min y,
    max y, min z, max z)."""
    with store.read() as conn:
        roots = [
            int(r)
            for (r,) in conn.exec_driver_sql(
                f'SELECT DISTINCT pre_pt_root_id FROM "{links.name}" WHERE pre_pt_root_id > 0'
            )
        ]
        [extent] = conn.exec_driver_sql(
            "SELECT min(pre_pt_position_x), max(pre_pt_position_x), min(pre_pt_position_y), "
            f"max(pre_pt_position_y), min(pre_pt_position_z), max(pre_pt_position_z) FROM {TABLE}"
        ).all()
    return roots, tuple(int(v) for v in extent)


def random_box(
    rng: random.Random, extent: tuple[int, ...], synapses: int
) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """The same box in voxels at every size, at a random place: 1/10 of the pre points' x and
    y extent, and the z depth of the volume at ``BOX_SYNAPSES`` (the demo's tiles stack along
    z, so the volume grows in z alone). A box that kept the full z depth and shrank in x and y
    instead would become a needle (7 x 7 voxels by 20,940 at 10M), which crosses about twice
    the spatial index's pages per row found: a different query, not a larger table."""
    lo_x, hi_x, lo_y, hi_y, lo_z, hi_z = extent
    sx, sy = max(1, (hi_x - lo_x) // 10), max(1, (hi_y - lo_y) // 10)
    sz = max(1, int((hi_z - lo_z) * min(1.0, BOX_SYNAPSES / synapses)))
    x, y = rng.randint(lo_x, hi_x - sx), rng.randint(lo_y, hi_y - sy)
    z = rng.randint(lo_z, hi_z - sz)
    return (x, y, z), (x + sx, y + sy, z + sz)


def table_bytes(store: Store, name: str) -> int:
    [(size,)] = sql(store, "SELECT pg_total_relation_size(%(t)s)", {"t": name})
    return int(size)


def relation_bytes(store: Store, links: SegmentationTable) -> dict[str, int]:
    """Each part of the segmentation table and its history on disk, by name: heap (with TOAST and
    the free space and visibility maps) and each index; together, their total relation size."""
    found = sql(
        store,
        "SELECT c.relname, pg_table_size(c.oid) FROM pg_class c WHERE c.relname IN (%(s)s, %(h)s) "
        "UNION ALL SELECT i.relname, pg_relation_size(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid "
        "WHERE c.relname IN (%(s)s, %(h)s)",
        {"s": links.name, "h": links.history},
    )
    return {str(name): int(size) for name, size in found}


def growth_text(before: dict[str, int], after: dict[str, int]) -> str:
    """What each relation grew by, largest first, in MB."""
    grown = sorted(((after[k] - before.get(k, 0), k) for k in after), reverse=True)
    return ", ".join(f"{k} {d / 1e6:+.1f} MB" for d, k in grown)


def steady_version_bytes(
    store: Store, seg: Any, cg: EmbeddedChunkedGraph, cells: int, args: argparse.Namespace
) -> tuple[int, int]:
    """One more round once the last one's dead rows are reclaimed: ``--edits`` edits, the root
    update, a history version and ``reclaim``, as a version does. Returns what the segmentation
    table and its history (with indexes) grew by, and the root ids the update rewrote."""
    links = SegmentationTable.of(store.get_table(TABLE))
    before = relation_bytes(store, links)
    make_edits(cg, Layout(cells), args.edits, np.random.default_rng(args.seed + 1))
    time.sleep(0.01)
    at = utc_now()
    done = refresh_table(store, seg, cg, TABLE, at)
    create_version(store, args.datastack, at, [TABLE], VersionOptions(kind="history"))
    reclaim(store, {TABLE: done.roots.rows_touched})
    after = relation_bytes(store, links)
    print(f"  steady round by part: {growth_text(before, after)}")
    return sum(after.values()) - sum(before.values()), done.roots.rows_touched


def database_bytes(store: Store, name: str) -> int:
    [(size,)] = sql(store, "SELECT pg_database_size(%(d)s)", {"d": name})
    return int(size)


def run(store: Store, directory: Path, args: argparse.Namespace, out: list[str]) -> None:
    n = args.synapses
    setup_s, manifest = timed(lambda: build(store, directory, DemoOptions(synapses=n)))
    seg = TensorStoreSegmentation.open(manifest.segmentation_source)
    cg = EmbeddedChunkedGraph.open(store, PCG_TABLE)
    links = SegmentationTable.of(store.get_table(TABLE))
    t0 = utc_now()
    refresh_table(store, seg, cg, TABLE, t0)
    ds = args.datastack
    create_version(store, ds, t0, [TABLE], VersionOptions(kind="flat"))
    create_version(store, ds, t0, [TABLE], VersionOptions(kind="history"))
    history_before = table_bytes(store, links.history)
    kinds = make_edits(cg, Layout(manifest.cells), args.edits, np.random.default_rng(args.seed))
    time.sleep(0.01)
    t1 = utc_now()
    first_round = refresh_table(store, seg, cg, TABLE, t1)
    history_growth = table_bytes(store, links.history) - history_before
    settle(store)
    print(f"setup {setup_s:.0f} s: {n:,} synapses, edits {kinds}", flush=True)

    # 1. version creation at T1, alternating which goes first
    create_s: dict[str, list[float]] = {"flat": [], "history": []}
    numbers: dict[str, int] = {}
    for order in (("flat", "history"), ("history", "flat"))[: args.rounds]:
        for kind in order:
            seconds, info = timed(
                lambda k=kind: create_version(store, ds, t1, [TABLE], VersionOptions(kind=k))
            )
            create_s[kind].append(seconds)
            numbers[kind] = info.version
    flat_s, hist_s = (statistics.median(create_s[k]) for k in ("flat", "history"))
    print(f"version create: flat {flat_s:.2f} s, history {hist_s:.3f} s ({flat_s / hist_s:.0f}x)")
    out.append(figure("version_create_s", hist_s, "s", flat_s))

    flat_bytes = database_bytes(store, get_version(store, ds, numbers["flat"]).database)
    settle(store)

    # 3. the same queries on both versions, interleaved
    engine = QueryEngine(store, lambda _ds: cg, row_cap=n + 1, batch_rows=65_536)
    rng = random.Random(args.seed)
    roots, extent = query_inputs(store, links)
    runs = Runs()
    warm = QuerySpec((TABLE,), filters=(Filter(TABLE, "pre_pt_root_id", "in", roots[:1]),))
    for kind in ("flat", "history"):  # untimed: the first query imports the ADBC driver
        drain(engine.version_query(ds, numbers[kind], warm))
    for _ in range(args.queries):
        chosen = rng.sample(roots, min(100, len(roots)))
        box = random_box(rng, extent, n)
        specs = {
            "roots": QuerySpec((TABLE,), filters=(Filter(TABLE, "pre_pt_root_id", "in", chosen),)),
            "box": QuerySpec((TABLE,), filters=(Filter(TABLE, "pre_pt_position", "spatial", box),)),
        }
        for kind in rng.sample(["flat", "history"], 2):
            for name, spec in specs.items():
                seconds, _ = timed(
                    lambda s=spec, k=kind: drain(engine.version_query(ds, numbers[k], s))
                )
                runs.add(kind, name, seconds)
    full: dict[str, float] = {}
    for kind in ("flat", "history", "flat", "history")[: 2 * args.rounds]:
        seconds, rows = timed(
            lambda k=kind: drain(engine.version_query(ds, numbers[k], QuerySpec((TABLE,))))
        )
        full[kind] = max(full.get(kind, 0.0), rows / seconds)
    for name in ("roots", "box"):
        f50, h50 = runs.p("flat", name, 0.5), runs.p("history", name, 0.5)
        f99, h99 = runs.p("flat", name, 0.99), runs.p("history", name, 0.99)
        print(f"{name}: p50 flat {f50:.1f} ms, history {h50:.1f} ms; p99 {f99:.1f} / {h99:.1f}")
    for fig, name, q in (
        ("root_filter_p50_ms", "roots", 0.5),
        ("root_filter_p99_ms", "roots", 0.99),
        ("spatial_box_p50_ms", "box", 0.5),
    ):
        out.append(figure(fig, runs.p("history", name, q), "ms", runs.p("flat", name, q)))
    print(f"full read: flat {full['flat']:,.0f} rows/s, history {full['history']:,.0f} rows/s")
    out.append(figure("full_read_rows_per_s", full["history"], "rows/s", full["flat"]))

    # 4. any instant between T0 and T1 against the version query of the same roots
    span = (t1 - t0).total_seconds()
    for _ in range(args.queries):
        chosen = rng.sample(roots, min(10, len(roots)))
        spec = QuerySpec((TABLE,), filters=(Filter(TABLE, "pre_pt_root_id", "in", chosen),))
        at = t0 + timedelta(seconds=rng.random() * span)
        seconds, _ = timed(lambda s=spec, a=at: drain(engine.live_query(ds, a, s)))
        runs.add("live", "roots10", seconds)
        seconds, _ = timed(lambda s=spec: drain(engine.version_query(ds, numbers["history"], s)))
        runs.add("history", "roots10", seconds)
    any_p50, version_p50 = runs.p("live", "roots10", 0.5), runs.p("history", "roots10", 0.5)
    print(f"any instant: p50 {any_p50:.1f} ms against the version query's {version_p50:.1f} ms")
    out.append(figure("any_instant_p50_ms", any_p50, "ms", version_p50))
    engine.close()

    # 2. bytes per version in steady state: the T1 round's dead rows reclaimed as a version does
    reclaim(store, {TABLE: first_round.roots.rows_touched})
    steady, rewritten = steady_version_bytes(store, seg, cg, manifest.cells, args)
    print(
        f"bytes: flat copy {flat_bytes:,}; one more history version {steady:,} "
        f"({rewritten:,} root ids rewritten, {100 * steady / flat_bytes:.2f}%)"
        f"; the first round's history growth before any reclaim {history_growth:,}"
    )
    out.append(figure("version_bytes", steady, "bytes", flat_bytes, first_round=history_growth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synapses", type=int, default=1_000_000)
    parser.add_argument("--edits", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2, choices=(1, 2))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database and the volume")
    args = parser.parse_args()
    stamp = int(time.time())
    name = f"fixative_bench_v{stamp}"
    args.datastack = f"vbench{stamp}"
    directory = Path(tempfile.mkdtemp(prefix="fixative_versions_"))
    print(f"database {name}, {args.synapses:,} synapses", flush=True)
    store = open_store(pg_url(name))
    out: list[str] = []
    started: datetime = utc_now()
    try:
        run(store, directory, args, out)
    finally:
        target = target_for(store)
        if not args.keep:
            from fixative.versions import list_versions

            for v in list_versions(store, args.datastack, include_expired=True):
                if v.copied:
                    target.drop(v.database)
            store.dispose()
            drop_pg_database(name)
            shutil.rmtree(directory, ignore_errors=True)
        else:
            store.dispose()
            print(f"kept: database {name}, volume {directory}")
    print(f"({(utc_now() - started).total_seconds():.0f} s in all)")
    for line in out:
        print(line)


if __name__ == "__main__":
    main()
