"""Building a version on PostgreSQL versus the raw limit, in the same run.

    python bench/version_build.py --rows 1000000

A synapse table with a segmentation row per annotation. Timed: ``create_version`` (create the
version database with PostGIS, binary COPY piped from the live database, primary key, root-id
btrees, N-D GiST indexes, count check, catalogue rows) against the raw limit: ``CREATE TABLE AS``
of the same join at T inside the live database plus the same indexes, built one after another (the
limit as first defined) and built concurrently as ``create_version`` builds them (the stricter
limit). The last lines are one JSON object per figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import pyarrow as pa

from fixative.store import NewTable, Store, open_store
from fixative.store import tables as t
from fixative.store.pgcopy import CopyColumn, encode
from fixative.testing.annotations import synapse_columns
from fixative.testing.databases import drop_pg_database, pg_url
from fixative.versions import VersionOptions, create_version, database_name
from fixative.versions.flat import FlatTable, plan_table
from fixative.versions.postgres import MAINTENANCE_WORK_MEM, build_indexes, index_statements
from fixative.versions.target import target_for

BATCH = 200_000


def fill(store: Store, n_rows: int) -> None:
    """``n_rows`` synapses and their segmentation rows (binary COPY)."""
    store.create_table(
        NewTable("synapses", "synapse", "av", "bench", (8, 8, 40), pcg_table_name="pcg")
    )
    for lo in range(0, n_rows, BATCH):
        store.insert_annotations("synapses", synapse_columns(min(BATCH, n_rows - lo), seed=lo))
    names = [
        "id",
        "pre_pt_supervoxel_id",
        "pre_pt_root_id",
        "post_pt_supervoxel_id",
        "post_pt_root_id",
    ]
    columns = [CopyColumn(n, "int8") for n in names]
    raw = store.engine.raw_connection()
    try:
        with raw.cursor() as cur:  # type: ignore[attr-defined]
            for lo in range(0, n_rows, BATCH):
                ids = np.arange(lo + 1, min(lo + BATCH, n_rows) + 1, dtype=np.int64)
                rows = pa.table(
                    {
                        "id": ids,
                        names[1]: ids * 10,
                        names[2]: ids % 5000 + 1,
                        names[3]: ids * 10 + 1,
                        names[4]: (ids * 7) % 5000 + 1,
                    }
                )
                with cur.copy(
                    f'COPY "synapses__pcg" ({", ".join(names)}) FROM STDIN (FORMAT BINARY)'
                ) as copy:
                    copy.write(encode(rows, columns))
        raw.commit()
    finally:
        raw.close()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def raw_limit(store: Store, plan: FlatTable, at: object, *, parallel: bool) -> float:
    """CREATE TABLE AS of the same join at T, plus the same indexes, in the live database: built
    one after another, or (``parallel``) concurrently as ``create_version`` builds them."""
    raw = dataclasses.replace(plan, name="raw_flat_parallel" if parallel else "raw_flat")
    geometry = ", ".join(
        f'ST_MakePoint(a."{p.xyz_columns[0]}", a."{p.xyz_columns[1]}", a."{p.xyz_columns[2]}") '
        f'AS "{p.position}"'
        for p in plan.schema.points
    )
    select = plan.visible_sql("%(at)s").replace(" FROM ", f", {geometry} FROM ", 1)
    start = time.perf_counter()
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE TABLE "{raw.name}" AS {select}', {"at": at})
    if parallel:
        build_indexes(store.engine, raw)
        return time.perf_counter() - start
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        for statement in index_statements(raw):
            conn.exec_driver_sql(statement)
    return time.perf_counter() - start


def figure(name: str, value: float, unit: str, baseline: float | None) -> dict[str, object]:
    ratio = round(value / baseline, 3) if baseline else None
    return {
        "figure": name,
        "value": round(value, 3),
        "unit": unit,
        "baseline": baseline and round(baseline, 3),
        "ratio": ratio,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    name = f"fixative_bench_v{int(time.time())}"
    store = open_store(pg_url(name))
    try:
        start = time.perf_counter()
        fill(store, args.rows)
        fill_s = time.perf_counter() - start
        print(f"filled {args.rows:,} synapses + segmentation rows in {fill_s:.1f} s")
        at = store.clock()
        with store.engine.begin() as conn:
            conn.execute(t.segmentation_table_metadata.update().values(last_updated=at))
            conn.exec_driver_sql(
                'SELECT count(*) FROM "synapses"; SELECT count(*) FROM "synapses__pcg"'
            )
            plan = plan_table(store, conn, store.get_table("synapses"))
        start = time.perf_counter()
        info = create_version(store, name, at, ["synapses"], VersionOptions(kind="flat"))
        version_s = time.perf_counter() - start
        raw_s = raw_limit(store, plan, at, parallel=False)
        parallel_s = raw_limit(store, plan, at, parallel=True)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM raw_flat").scalar_one() == args.rows
        rate = args.rows / version_s
        print(f"create_version: {version_s:.2f} s ({rate:,.0f} rows/s), version {info.version}")
        print(f"raw limit (CREATE TABLE AS + same indexes in the live db): {raw_s:.2f} s")
        print(f"raw limit, the same indexes built concurrently: {parallel_s:.2f} s")
        print(f"ratio: {version_s / raw_s:.2f}x (target <= 1.5x); {version_s / parallel_s:.2f}x")
        for f in (
            figure("version_build_s", version_s, "s", raw_s),
            figure("version_build_vs_parallel_indexes_s", version_s, "s", parallel_s),
            figure("version_build_rows_per_s", args.rows / version_s, "rows/s", args.rows / raw_s),
        ):
            print(json.dumps(f))
    finally:
        target_for(store).drop(database_name(name, 1))
        store.dispose()
        drop_pg_database(name)


if __name__ == "__main__":
    main()
