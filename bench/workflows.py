"""The materialization workflows on PostgreSQL at N synapses: ingest, update-roots, version build.

    python bench/workflows.py --synapses 1000000 [--edits 1000] [--rounds 2] [--keep]

Setup (untimed, its duration printed): a scratch database and the demo datastack at N synapses
(precomputed volume in a temp dir, embedded chunkedgraph with its edit history, annotation
tables). The demo builder writes the annotations without segmentation rows, so ingest starts
from nothing linked (checked). Timed:

1. ingest at T0 (``refresh_table``: plan, volume lookup, ``get_roots``, upsert), rows/s, split
   into volume lookup / chunkedgraph / the rest (database reads and writes);
2. ``--edits`` chunkedgraph edits at now (wrong merges of two neurons, min-cut splits of one
   neuron; distinct neurons), then ``update_roots`` to T1, against re-resolving every row of an
   identical copy of the segmentation table made at T0 (one read, one batched ``get_roots``, one
   binary COPY into a temp table, one ``UPDATE ... FROM``); the two results must agree;
3. ``create_version`` at T1 against the raw limit in the same run: ``CREATE TABLE AS`` of the
   same visible-at-T1 join in the live database plus the same indexes built one after another,
   over ``--rounds`` rounds alternating which goes first.

The last lines are one JSON object per figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.clock import utc_now
from fixative.demo.datastack import PCG_TABLE, DemoOptions, build
from fixative.demo.layout import Layout, seed_of
from fixative.errors import Conflict, InvalidInput
from fixative.ids import to_int64, to_uint64
from fixative.segmentation.tensorstore import TensorStoreSegmentation
from fixative.store import Store, open_store
from fixative.store.segmentation import IdRange, SegmentationTable, read_supervoxels, write_columns
from fixative.testing.databases import drop_pg_database, pg_url
from fixative.versions import VersionOptions, create_version, database_name
from fixative.versions.flat import FlatTable, plan_table
from fixative.versions.postgres import MAINTENANCE_WORK_MEM, index_statements
from fixative.versions.target import target_for
from fixative.workflows.refresh import refresh_table
from fixative.workflows.update_roots import plan_update_roots, run_update_roots

TABLE = "synapses"
COPY = "baseline_segmentation"


class Timed:
    """Delegates to ``inner``, adding the seconds spent in the named methods to ``seconds``."""

    def __init__(self, inner: Any, methods: tuple[str, ...]) -> None:
        self._inner, self._methods = inner, methods
        self.seconds = dict.fromkeys(methods, 0.0)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name not in self._methods:
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start

        return timed


def sql(store: Store, statement: str, params: dict[str, Any] | None = None) -> Any:
    with store.engine.begin() as conn:
        result = conn.exec_driver_sql(statement, params or {})
        return result.fetchall() if result.returns_rows else None


def settle(store: Store) -> None:
    """Untimed between steps: statistics as autovacuum would have them, dirty pages flushed."""
    with store.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("VACUUM ANALYZE")
        conn.exec_driver_sql("CHECKPOINT")


def cell_supervoxels(layout: Layout, cell: int) -> np.ndarray[Any, np.dtype[np.uint64]]:
    labels = np.unique(layout.labels(*layout.cell_block(cell)))
    return labels[labels != 0]


def make_edits(
    graph: EmbeddedChunkedGraph, layout: Layout, count: int, rng: np.random.Generator
) -> dict[str, int]:
    """``count`` edits on distinct neurons, alternating a wrong merge of two neurons (two roots)
    and a min-cut split of one neuron between two of its Voronoi pieces (one root)."""
    done = {"merge": 0, "split": 0, "skipped": 0}
    cells = iter(rng.permutation(layout.n_cells).tolist())
    while done["merge"] + done["split"] < count:
        try:
            if done["merge"] <= done["split"]:
                a, b = (cell_supervoxels(layout, next(cells)) for _ in range(2))
                graph.merge(int(rng.choice(a)), int(rng.choice(b)), "bench")
                done["merge"] += 1
            else:
                svs = cell_supervoxels(layout, next(cells))
                seeds = seed_of(svs)
                if np.unique(seeds).size < 2:
                    done["skipped"] += 1
                    continue
                sources, sinks = svs[seeds == seeds.min()], svs[seeds == seeds.max()]
                graph.split([int(sources[0])], [int(sinks[0])], "bench")
                done["split"] += 1
        except (Conflict, InvalidInput):
            done["skipped"] += 1
    return done


def full_reresolve(
    store: Store, cg: Any, links: SegmentationTable, at: datetime
) -> tuple[int, dict[str, float]]:
    """Every row of ``links``: read its supervoxels, one ``get_roots`` at ``at``, every root
    written back (binary COPY into a temp table, one UPDATE ... FROM). Returns (rows, seconds
    of read / get_roots / write)."""
    marks = [time.perf_counter()]
    with store.read() as conn:
        ids, svs = read_supervoxels(conn, links, IdRange(0, 2**62, 0))
    marks.append(time.perf_counter())
    roots = to_int64(cg.get_roots(to_uint64(svs.ravel()), at)).reshape(svs.shape)
    marks.append(time.perf_counter())
    columns: dict[str, pa.Array] = {"id": pa.array(ids, pa.int64())}
    for i, p in enumerate(links.points):
        columns[p.root_column] = pa.array(roots[:, i], pa.int64())
    with store.write() as conn:
        write_columns(conn, links, pa.table(columns))
    marks.append(time.perf_counter())
    parts = np.diff(marks).tolist()
    return int(ids.size), dict(zip(("read", "get_roots", "write"), parts, strict=True))


def mismatches(store: Store, links: SegmentationTable, copy: str) -> tuple[int, int]:
    """(rows whose any root differs between the live table and the copy, rows missing from
    either side)."""
    differ = " OR ".join(
        f's."{p.root_column}" IS DISTINCT FROM c."{p.root_column}"' for p in links.points
    )
    [(bad, missing)] = sql(
        store,
        f"SELECT count(*) FILTER (WHERE {differ}), "
        "count(*) FILTER (WHERE s.id IS NULL OR c.id IS NULL) "
        f'FROM "{links.name}" AS s FULL JOIN "{copy}" AS c ON c.id = s.id',
    )
    return int(bad), int(missing)


def raw_limit(store: Store, plan: FlatTable, at: datetime) -> float:
    """CREATE TABLE AS of the same join at T in the live database, plus the same indexes built
    one after another (with the same maintenance_work_mem); the table is dropped afterwards."""
    raw = dataclasses.replace(plan, name="raw_flat")
    geometry = ", ".join(
        f'ST_MakePoint(a."{p.xyz_columns[0]}", a."{p.xyz_columns[1]}", a."{p.xyz_columns[2]}") '
        f'AS "{p.position}"'
        for p in plan.schema.points
    )
    select = plan.visible_sql("%(at)s").replace(" FROM ", f", {geometry} FROM ", 1)
    start = time.perf_counter()
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE TABLE "{raw.name}" AS {select}', {"at": at})
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        for statement in index_statements(raw):
            conn.exec_driver_sql(statement)
    seconds = time.perf_counter() - start
    sql(store, f'DROP TABLE "{raw.name}"')
    return seconds


def figure(name: str, value: float, unit: str, baseline: float | None, **extra: Any) -> str:
    ratio = round(value / baseline, 3) if baseline else None
    base = None if baseline is None else round(baseline, 3)
    out = {"figure": name, "value": round(value, 3), "unit": unit, "baseline": base}
    return json.dumps({**out, "ratio": ratio, **extra})


def stopwatch(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run(store: Store, directory: Path, args: argparse.Namespace, versions: list[int]) -> None:
    n, figures = args.synapses, []
    steps: dict[str, int] = {}

    def report(step: str, done: int, total: int) -> None:
        if steps.setdefault(step, 0) == 0 or done == total:
            print(f"  setup: {step} {done:,}/{total:,}", flush=True)
        steps[step] = done

    setup_s, manifest = stopwatch(lambda: build(store, directory, DemoOptions(synapses=n), report))
    info = store.get_table(TABLE)
    assert info.segmentation_table is not None
    links = SegmentationTable.of(info)
    [(linked,)] = sql(store, f'SELECT count(*) FROM "{links.name}"')
    print(
        f"setup {setup_s:.1f} s: {manifest.cells:,} cells, {manifest.supervoxels:,} supervoxels, "
        f"{manifest.synapses:,} synapses, {manifest.operations:,} history edits "
        f"({manifest.seconds}); segmentation rows before ingest: {linked}"
    )
    assert linked == 0, "the builder linked rows; the ingest would have nothing to do"
    seg = Timed(TensorStoreSegmentation.open(manifest.segmentation_source), ("lookup",))
    cg = Timed(EmbeddedChunkedGraph.open(store, PCG_TABLE), ("get_roots", "get_delta_roots"))
    settle(store)

    t0 = utc_now()
    ingest_s, refreshed = stopwatch(lambda: refresh_table(store, seg, cg, TABLE, t0))
    rows = refreshed.ingest.rows
    lookup_s, roots_s = seg.seconds["lookup"], cg.seconds["get_roots"]
    rest_s = ingest_s - lookup_s - roots_s
    print(
        f"ingest: {rows:,} rows in {ingest_s:.2f} s ({rows / ingest_s:,.0f} rows/s): volume "
        f"lookup {lookup_s:.2f} s, chunkedgraph {roots_s:.2f} s, database and rest {rest_s:.2f} s "
        f"({refreshed.ingest.chunks} chunks, {refreshed.ingest.points_without_supervoxel} "
        "points without supervoxel)"
    )
    assert rows == n
    figures.append(figure("ingest_rows_per_s", rows / ingest_s, "rows/s", None, rows=rows))
    figures.append(
        figure(
            "ingest_s",
            ingest_s,
            "s",
            None,
            lookup_s=round(lookup_s, 3),
            chunkedgraph_s=round(roots_s, 3),
            database_and_rest_s=round(rest_s, 3),
        )
    )

    sql(store, f'CREATE TABLE "{COPY}" (LIKE "{links.name}" INCLUDING ALL)')
    sql(store, f'INSERT INTO "{COPY}" SELECT * FROM "{links.name}"')
    graph = EmbeddedChunkedGraph.open(store, PCG_TABLE)
    layout = Layout(manifest.cells)
    edits_s, kinds = stopwatch(
        lambda: make_edits(graph, layout, args.edits, np.random.default_rng(args.seed))
    )
    time.sleep(0.01)
    t1 = utc_now()
    print(f"edits: {kinds} in {edits_s:.1f} s ({edits_s / args.edits * 1000:.1f} ms each)")
    settle(store)

    cg.seconds = dict.fromkeys(cg.seconds, 0.0)
    plan_s, roots_plan = stopwatch(lambda: plan_update_roots(store, cg, TABLE, t1))
    apply_s, result = stopwatch(lambda: run_update_roots(store, cg, roots_plan))
    update_s = plan_s + apply_s
    update_cg = cg.seconds["get_roots"] + cg.seconds["get_delta_roots"]
    copy_links = dataclasses.replace(links, name=COPY)
    full_s, (full_rows, full_parts) = stopwatch(lambda: full_reresolve(store, cg, copy_links, t1))
    bad, missing = mismatches(store, links, COPY)
    speedup = full_s / update_s
    print(
        f"update-roots to T1: {update_s:.3f} s ({result.expired_root_ids:,} expired roots, "
        f"{result.rows_touched:,} root ids rewritten, {result.chunks} chunks; plan "
        f"{plan_s:.3f} s, run {apply_s:.3f} s, of which chunkedgraph {update_cg:.3f} s)"
    )
    print(
        f"full re-resolve of every row: {full_s:.2f} s ({full_rows:,} rows x "
        f"{len(links.points)} points; "
        + ", ".join(f"{k} {v:.2f} s" for k, v in full_parts.items())
        + ")"
    )
    print(
        f"speedup: {speedup:.1f}x (target >= 50x); mismatches vs full re-resolve: {bad} "
        f"differing rows, {missing} missing rows"
    )
    figures.append(
        figure(
            "update_roots_s",
            update_s,
            "s",
            full_s,
            speedup=round(speedup, 2),
            rows_touched=result.rows_touched,
            expired_roots=result.expired_root_ids,
            mismatches=bad + missing,
            plan_s=round(plan_s, 3),
            chunkedgraph_s=round(update_cg, 3),
            baseline_parts_s={k: round(v, 3) for k, v in full_parts.items()},
        )
    )
    sql(store, f'DROP TABLE "{COPY}"')
    settle(store)

    with store.engine.connect() as conn:
        plan = plan_table(store, conn, store.get_table(TABLE))
    ours: list[float] = []
    limit: list[float] = []

    def version() -> float:
        seconds, made = stopwatch(
            lambda: create_version(store, args.datastack, t1, [TABLE], VersionOptions(kind="flat"))
        )
        versions.append(made.version)
        assert made.status == "AVAILABLE", made
        return float(seconds)

    for r in range(args.rounds):
        order = [(version, ours), (lambda: raw_limit(store, plan, t1), limit)]
        for fn, times in order if r % 2 == 0 else order[::-1]:
            times.append(fn())
            settle(store)
        print(f"round {r + 1}: create_version {ours[-1]:.2f} s, raw limit {limit[-1]:.2f} s")
    v_s, l_s = statistics.median(ours), statistics.median(limit)
    print(
        f"version build (median of {args.rounds}): {v_s:.2f} s ({n / v_s:,.0f} rows/s); raw "
        f"limit (CREATE TABLE AS + same indexes): {l_s:.2f} s; ratio {v_s / l_s:.2f}x "
        "(target <= 1.5x)"
    )
    figures.append(
        figure(
            "version_build_s",
            v_s,
            "s",
            l_s,
            rounds=[round(x, 3) for x in ours],
            baseline_rounds=[round(x, 3) for x in limit],
        )
    )
    figures.append(figure("version_build_rows_per_s", n / v_s, "rows/s", n / l_s))
    for line in figures:
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synapses", type=int, default=1_000_000)
    parser.add_argument("--edits", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database and the volume")
    args = parser.parse_args()
    stamp = int(time.time())
    name = f"fixative_bench_w{stamp}"
    args.datastack = f"wfbench{stamp}"
    directory = Path(tempfile.mkdtemp(prefix="fixative_workflows_"))
    print(f"database {name}, volume under {directory}, {args.synapses:,} synapses", flush=True)
    store = open_store(pg_url(name))
    versions: list[int] = []
    try:
        run(store, directory, args, versions)
    finally:
        if not args.keep:
            for v in versions:
                target_for(store).drop(database_name(args.datastack, v))
            store.dispose()
            drop_pg_database(name)
            shutil.rmtree(directory, ignore_errors=True)
        else:
            store.dispose()
            print(f"kept: database {name}, versions {versions}, volume {directory}")


if __name__ == "__main__":
    main()
