"""The same workload at growing sizes on PostgreSQL: does a row cost the same at 10M as at 1M?

    python bench/scale.py [--sizes 1000000,3000000,10000000] [--edits 1000] [--queries 30]

For each size, in a fresh scratch database (dropped afterwards): the demo datastack at N
synapses (its build timed and printed, as setup), then timed:

1. the full ingest at T0 (``refresh_table``: every row new), rows/s and microseconds per row;
2. ``--edits`` chunkedgraph edits and the root update to T1 (cost follows the change, not N);
3. a version at T1 the default way (history: a catalogue row), then a flat copy
   (``kind="flat"``) against the raw limit in the same run: ``CREATE TABLE AS`` of the same
   rows plus the same indexes, with no Fixative code (microseconds per row, and the ratio);
4. on the history version, through the query engine: 100 random pre roots (p50, p99), a
   spatial box (p50), and a 1M-row Arrow read (rows/s). The demo's cells grow with N (the
   connectome tiled), so 100 roots hold about the same rows at every size. The box is the same
   box in voxels at every size, so it holds about the same rows too: 1/10 of the x and y
   extent, and the z depth of the volume at 1M synapses, at a random place
   (``versions.random_box``, which says why); then the same queries again, warm (p50): what
   is left of their growth once their pages are in memory;
5. bytes per version in steady state: the space the T1 update left dead is reclaimed as the
   workflow does after a version (``reclaim``, timed), then another ``--edits`` edits, a root
   update and a history version at T2, and ``reclaim`` again: what the live database's
   segmentation table and history (with their indexes) grew by over that round, against the
   flat copy's database.

Then the growth factor of each figure between the smallest and the largest size (cost per row
for ingest and version build; latency for queries). Targets (issue 16): ingest at least 150k
rows/s at every size; cost per row at the largest size within 1.3x of the smallest for ingest
and version build; version build within 1.2x of ``CREATE TABLE AS``; query latencies within
1.5x across sizes. The last lines are JSON, one per figure and size, then one per growth.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.clock import utc_now
from fixative.demo.datastack import PCG_TABLE, DemoOptions, build
from fixative.demo.layout import Layout
from fixative.query.engine import QueryEngine
from fixative.query.spec import Filter, QuerySpec
from fixative.segmentation.tensorstore import TensorStoreSegmentation
from fixative.store import Store, open_store
from fixative.store.postgres_tuning import RECOMMENDATIONS
from fixative.store.segmentation import SegmentationTable
from fixative.testing.databases import drop_pg_database, pg_url
from fixative.versions import VersionOptions, create_version, list_versions
from fixative.versions.flat import plan_table
from fixative.versions.target import target_for
from fixative.workflows.reclaim import reclaim
from fixative.workflows.refresh import refresh_table
from versions import (
    database_bytes,
    drain,
    pct,
    query_inputs,
    random_box,
    steady_version_bytes,
    timed,
)
from workflows import make_edits, raw_limit, settle

TABLE = "synapses"
READ_ROWS = 1_000_000

# figure -> (unit, whether growth is judged per row (True) or as is (False))
FIGURES: dict[str, tuple[str, bool]] = {
    "setup_us_per_row": ("us/row", True),
    "ingest_rows_per_s": ("rows/s", False),
    "ingest_us_per_row": ("us/row", True),
    "update_roots_s": ("s", False),
    "history_version_s": ("s", False),
    "flat_version_us_per_row": ("us/row", True),
    "flat_version_vs_create_table_as": ("ratio", False),
    "root_filter_p50_ms": ("ms", False),
    "root_filter_p99_ms": ("ms", False),
    "spatial_box_p50_ms": ("ms", False),
    "root_filter_warm_p50_ms": ("ms", False),
    "spatial_box_warm_p50_ms": ("ms", False),
    "arrow_read_rows_per_s": ("rows/s", False),
    "reclaim_s": ("s", False),
    "version_bytes": ("bytes", False),
    "version_bytes_vs_flat_copy": ("ratio", False),
}


def one_size(store: Store, directory: Path, n: int, args: argparse.Namespace) -> dict[str, float]:
    """Every figure at ``n`` synapses."""
    got: dict[str, float] = {}
    setup_s, manifest = timed(lambda: build(store, directory, DemoOptions(synapses=n)))
    got["setup_us_per_row"] = setup_s / n * 1e6
    print(f"  demo datastack: {setup_s:.0f} s", flush=True)
    seg = TensorStoreSegmentation.open(manifest.segmentation_source)
    cg = EmbeddedChunkedGraph.open(store, PCG_TABLE)
    links = SegmentationTable.of(store.get_table(TABLE))
    settle(store)

    t0 = utc_now()
    ingest_s, done = timed(lambda: refresh_table(store, seg, cg, TABLE, t0))
    assert done.ingest.rows == n, done
    got["ingest_rows_per_s"] = n / ingest_s
    got["ingest_us_per_row"] = ingest_s / n * 1e6
    print(f"  ingest: {ingest_s:.1f} s, {n / ingest_s:,.0f} rows/s", flush=True)

    kinds = make_edits(cg, Layout(manifest.cells), args.edits, np.random.default_rng(args.seed))
    time.sleep(0.01)
    t1 = utc_now()
    settle(store)
    update_s, updated = timed(lambda: refresh_table(store, seg, cg, TABLE, t1))
    got["update_roots_s"] = update_s
    print(
        f"  {kinds['merge']} merges, {kinds['split']} splits; root update: {update_s:.2f} s "
        f"({updated.roots.rows_touched:,} root ids rewritten)",
        flush=True,
    )
    settle(store)

    ds = args.datastack
    history_s, history = timed(
        lambda: create_version(store, ds, t1, [TABLE], VersionOptions(kind="history"))
    )
    got["history_version_s"] = history_s
    flat_s, flat = timed(
        lambda: create_version(store, ds, t1, [TABLE], VersionOptions(kind="flat"))
    )
    assert flat.status == "AVAILABLE", flat
    flat_bytes = database_bytes(store, flat.database)
    settle(store)
    with store.engine.connect() as conn:
        plan = plan_table(store, conn, store.get_table(TABLE))
    raw_s = raw_limit(store, plan, t1)
    got["flat_version_us_per_row"] = flat_s / n * 1e6
    got["flat_version_vs_create_table_as"] = flat_s / raw_s
    print(
        f"  versions: history {history_s:.2f} s; flat {flat_s:.1f} s against CREATE TABLE AS "
        f"and indexes {raw_s:.1f} s ({flat_s / raw_s:.2f}x)",
        flush=True,
    )
    target_for(store).drop(flat.database)  # its disk, before the queries
    settle(store)

    engine = QueryEngine(store, lambda _ds: cg, row_cap=n + 1, batch_rows=65_536)
    rng = random.Random(args.seed)
    roots, extent = query_inputs(store, links)
    v = history.version
    warm = QuerySpec((TABLE,), filters=(Filter(TABLE, "pre_pt_root_id", "in", roots[:1]),))
    drain(engine.version_query(ds, v, warm))  # untimed: the first query imports the driver
    root_ms: list[float] = []
    box_ms: list[float] = []
    rows: dict[str, list[int]] = {"roots": [], "box": []}
    specs: list[tuple[QuerySpec, QuerySpec]] = []
    for _ in range(args.queries):
        chosen = rng.sample(roots, min(100, len(roots)))
        by_roots = QuerySpec((TABLE,), filters=(Filter(TABLE, "pre_pt_root_id", "in", chosen),))
        seconds, found = timed(lambda s=by_roots: drain(engine.version_query(ds, v, s)))
        root_ms.append(seconds * 1000)
        rows["roots"].append(found)
        box = random_box(rng, extent, n)
        in_box = QuerySpec((TABLE,), filters=(Filter(TABLE, "pre_pt_position", "spatial", box),))
        seconds, found = timed(lambda s=in_box: drain(engine.version_query(ds, v, s)))
        box_ms.append(seconds * 1000)
        rows["box"].append(found)
        specs.append((by_roots, in_box))
    # the same queries again: their pages are now in memory, so what is left of the growth
    # is the work per query, not the pages that did not fit in the cache at this size
    warm_ms: dict[str, list[float]] = {"roots": [], "box": []}
    for by_roots, in_box in specs:
        for name, spec in (("roots", by_roots), ("box", in_box)):
            seconds, _ = timed(lambda s=spec: drain(engine.version_query(ds, v, s)))
            warm_ms[name].append(seconds * 1000)
    read = QuerySpec((TABLE,), limit=min(READ_ROWS, n))
    reads = [timed(lambda: drain(engine.version_query(ds, v, read))) for _ in range(2)]
    engine.close()

    # bytes per version, in steady state: the T1 round's dead rows reclaimed as a version does
    rewritten = {TABLE: updated.roots.rows_touched}
    got["reclaim_s"], _ = timed(lambda: reclaim(store, rewritten))
    got["version_bytes"], again = steady_version_bytes(store, seg, cg, manifest.cells, args)
    got["version_bytes_vs_flat_copy"] = got["version_bytes"] / flat_bytes
    print(
        f"  bytes per version: {got['version_bytes'] / 1e6:.1f} MB for "
        f"{again:,} root ids rewritten, against a flat copy's "
        f"{flat_bytes / 1e6:,.0f} MB ({100 * got['version_bytes_vs_flat_copy']:.2f}%); "
        f"reclaim after T1 {got['reclaim_s']:.1f} s",
        flush=True,
    )
    got["root_filter_p50_ms"] = pct(root_ms, 0.5)
    got["root_filter_p99_ms"] = pct(root_ms, 0.99)
    got["spatial_box_p50_ms"] = pct(box_ms, 0.5)
    got["root_filter_warm_p50_ms"] = pct(warm_ms["roots"], 0.5)
    got["spatial_box_warm_p50_ms"] = pct(warm_ms["box"], 0.5)
    got["arrow_read_rows_per_s"] = max(rows / s for s, rows in reads)
    print(
        f"  queries: 100 roots (about {np.mean(rows['roots']):,.0f} rows) p50 "
        f"{got['root_filter_p50_ms']:.1f} ms, p99 {got['root_filter_p99_ms']:.1f} ms; box (about "
        f"{np.mean(rows['box']):,.0f} rows) p50 {got['spatial_box_p50_ms']:.1f} ms; "
        f"{min(READ_ROWS, n):,}-row read {got['arrow_read_rows_per_s']:,.0f} rows/s; the same "
        f"queries again, warm: roots p50 {got['root_filter_warm_p50_ms']:.1f} ms, box p50 "
        f"{got['spatial_box_warm_p50_ms']:.1f} ms",
        flush=True,
    )
    return got


def server_settings(store: Store) -> str:
    """The server settings that move these figures, those ``fixative doctor`` checks (see the
    README's "PostgreSQL in production"), as one line."""
    names = [r.name for r in RECOMMENDATIONS if r.deployed] + ["autovacuum"]
    with store.read() as conn:
        shown = {name: conn.exec_driver_sql(f"SHOW {name}").scalar_one() for name in names}
    return ", ".join(f"{name} {value}" for name, value in shown.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000000,3000000,10000000")
    parser.add_argument("--edits", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    results: dict[int, dict[str, float]] = {}
    for n in sizes:
        stamp = int(time.time())
        name, args.datastack = f"fixative_bench_s{stamp}", f"sbench{stamp}"
        directory = Path(tempfile.mkdtemp(prefix="fixative_scale_"))
        print(f"{n:,} synapses (database {name})", flush=True)
        store = open_store(pg_url(name))
        print(f"  server: {server_settings(store)}", flush=True)
        try:
            results[n] = one_size(store, directory, n, args)
        finally:
            for version in list_versions(store, args.datastack, include_expired=True):
                if version.copied:
                    target_for(store).drop(version.database)
            store.dispose()
            drop_pg_database(name)
            shutil.rmtree(directory, ignore_errors=True)
    small, large = min(sizes), max(sizes)
    print(f"growth from {small:,} to {large:,} synapses ({time.perf_counter() - started:.0f} s):")
    lines = []
    for fig, (unit, _per_row) in FIGURES.items():
        for n in sizes:
            lines.append(
                json.dumps(
                    {"figure": fig, "size": n, "value": round(results[n][fig], 4), "unit": unit}
                )
            )
    for fig, (unit, per_row) in FIGURES.items():
        growth = results[large][fig] / results[small][fig]
        print(
            f"  {fig}: {results[small][fig]:,.2f} -> {results[large][fig]:,.2f} {unit} "
            f"({growth:.2f}x)"
        )
        lines.append(
            json.dumps(
                {
                    "figure": f"{fig}_growth",
                    "value": round(growth, 3),
                    "unit": "ratio",
                    "baseline": round(results[small][fig], 4),
                    "sizes": [small, large],
                    "per_row": per_row,
                }
            )
        )
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
