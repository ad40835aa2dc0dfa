"""Exporting a version table as Parquet on PostgreSQL, against the limit and the original's way,
measured in the same run.

    python bench/export.py --synapses 1000000 [--kind history|flat] [--rounds 2] [--keep]

Setup (untimed, its duration printed): a scratch live database ``benche_<random>`` (also the
datastack's name), N synapses with segmentation rows (``bench/query.py``'s fill: about 100
synapses per root, scattered through the id order), version 1 by ``create_version`` of
``--kind`` (``history``, the default a user gets: its rows are read from the live database's
root-id history at the version's instant, which ``backfill`` fills from the segmentation rows
the fill wrote by COPY; ``flat``: a copied version database). Every path reads
the same SELECT, the one the unpartitioned export runs (for a history version, the history
table's rows valid at the instant), from the same database. Timed, in rounds, each led by
another path (medians):

1. ``fixative.export.export_version`` of the synapse table to a local directory, unpartitioned
   and partitioned by ``pre_pt_root_id:range:16`` (in this process, as the baselines; once
   more each, untimed, in a fresh process whose peak RSS and Arrow memory pool peak are
   reported: they must not grow with the table). The unpartitioned export reads the table as
   id ranges on two connections at once (``READ_STREAMS``), the partitioned one in one
   statement;
2. the raw limit, no Fixative code: ADBC's ``COPY`` of the same SELECT (same columns, same
   order) on one connection into Arrow batches, written by ``pyarrow.parquet.ParquetWriter``
   after each batch is read (no overlap of reading and writing), with the same
   settings (zstd, 131,072-row row groups, statistics, page index, Bloom filters on root ids,
   dictionaries on text columns only);
3. the original's way: ``pandas.read_sql`` of the same SELECT on a SQLAlchemy/psycopg
   connection, then ``DataFrame.to_parquet`` (zstd).

Outputs are checked equal (rows, id sum, root-id sum). The last lines are one JSON object per
figure.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import sqlalchemy as sa

from fixative.export import ExportRequest, export_version, parse_partition
from fixative.export.select import table_statement
from fixative.export.source import relation_sql
from fixative.export.spec import DEFAULT_ROW_GROUP_ROWS
from fixative.query.columns import flat_columns
from fixative.store import Store, open_store
from fixative.store import tables as t
from fixative.store.root_history import backfill, record_instant
from fixative.testing.databases import drop_pg_database, pg_url
from fixative.versions import VersionOptions, create_version, database_name, get_version
from fixative.versions.target import target_for
from query import SYNAPSES_PER_ROOT, TABLE, fill

PARTITION = "pre_pt_root_id:range:16"


def _export_child(url: str, name: str, to: str, spec: str | None) -> dict[str, float]:
    """One export in a fresh process: seconds, peak RSS, the Arrow pool's peak."""
    store = open_store(url)
    try:
        specs = (parse_partition(spec),) if spec else ()
        request = ExportRequest(name, 1, to, (TABLE,), partition_by=specs)
        start = time.perf_counter()
        export_version(store, request)
        seconds = time.perf_counter() - start
    finally:
        store.dispose()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "rss_mib": rss_mib,
        "arrow_peak_mib": pa.default_memory_pool().max_memory() / 2**20,
    }


def fixative_export(url: str, name: str, to: Path, spec: str | None) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_export_child, url, name, str(to), spec).result()


def select_sql(store: Store, name: str) -> str:
    """The unpartitioned export's statement (built untimed; the baselines run it as text)."""
    info = get_version(store, name, 1)
    names = [c.name for c in flat_columns(store.get_table(TABLE)).columns]
    relation = relation_sql(store, info, TABLE, store.engine.dialect)
    return table_statement(relation, names, [], "id", [])


def raw_limit(version_url: str, sql: str, to: Path) -> float:
    """ADBC COPY into Arrow, ParquetWriter with the export's settings: no Fixative code."""
    import adbc_driver_postgresql.dbapi

    start = time.perf_counter()
    uri = (
        sa.make_url(version_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    with adbc_driver_postgresql.dbapi.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(sql)
        reader = cur.fetch_record_batch()
        schema = pa.schema(
            [f.with_type(pa.int64()) if pa.types.is_integer(f.type) else f for f in reader.schema]
        )
        bloom = {
            c: {"ndv": DEFAULT_ROW_GROUP_ROWS, "fpp": 0.01}
            for c in ("pre_pt_root_id", "post_pt_root_id")
        }
        text = [f.name for f in schema if pa.types.is_string(f.type)]  # dictionaries
        with pq.ParquetWriter(
            to,
            schema,
            use_dictionary=text or False,
            compression="zstd",
            write_page_index=True,
            bloom_filter_options=bloom,
        ) as writer:
            pending: list[pa.RecordBatch] = []
            held = 0
            for batch in reader:
                pending.append(batch.cast(schema))
                held += batch.num_rows
                if held >= DEFAULT_ROW_GROUP_ROWS:
                    writer.write_table(
                        pa.Table.from_batches(pending), row_group_size=DEFAULT_ROW_GROUP_ROWS
                    )
                    pending, held = [], 0
            if pending:
                writer.write_table(
                    pa.Table.from_batches(pending), row_group_size=DEFAULT_ROW_GROUP_ROWS
                )
    return time.perf_counter() - start


def pandas_way(version_url: str, sql: str, to: Path) -> float:
    engine = sa.create_engine(sa.make_url(version_url).set(drivername="postgresql+psycopg"))
    try:
        start = time.perf_counter()
        with engine.connect() as conn:
            frame = pd.read_sql(sa.text(sql), conn)
        frame.to_parquet(to, compression="zstd", index=False)
        return time.perf_counter() - start
    finally:
        engine.dispose()


def sums(path: Path) -> tuple[int, int, int]:
    table = pads.dataset(path, format="parquet").to_table(columns=["id", "pre_pt_root_id"])
    ids, roots = table.column("id"), table.column("pre_pt_root_id")
    return table.num_rows, int(pa.compute.sum(ids).as_py()), int(pa.compute.sum(roots).as_py())


def setup(stack: ExitStack, args: argparse.Namespace) -> tuple[Store, str, str]:
    name = f"benche_{uuid.uuid4().hex[:10]}"
    store = open_store(pg_url(name))
    if not args.keep:
        stack.callback(drop_pg_database, name)
        stack.callback(lambda: target_for(store).drop(database_name(name, 1)))
    stack.callback(store.dispose)
    start = time.perf_counter()
    fill(store, args.synapses, max(1, args.synapses // SYNAPSES_PER_ROOT), args.seed)
    at = store.clock()
    with store.engine.begin() as conn:
        conn.execute(t.segmentation_table_metadata.update().values(last_updated=at))
        if args.kind == "history":
            seg = store.get_table(TABLE).segmentation_table
            assert seg is not None
            backfill(conn, seg, at)
            record_instant(conn, TABLE, at)
    if args.kind == "history":
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    create_version(store, name, at, [TABLE], VersionOptions(kind=args.kind))
    took = time.perf_counter() - start
    print(f"setup: {args.synapses:,} synapses and {args.kind} version 1 in {took:.1f} s")
    if args.kind == "history":
        return store, name, store.engine.url.render_as_string(hide_password=False)
    return store, name, target_for(store).url(database_name(name, 1))


def timed_export(store: Store, name: str, to: Path, spec: str | None) -> float:
    specs = (parse_partition(spec),) if spec else ()
    start = time.perf_counter()
    export_version(store, ExportRequest(name, 1, str(to), (TABLE,), partition_by=specs))
    return time.perf_counter() - start


def run_rounds(
    args: argparse.Namespace, store: Store, name: str, version_url: str, out: Path
) -> dict[str, list[Any]]:
    sql = select_sql(store, name)
    url = store.engine.url.render_as_string(hide_password=False)
    got: dict[str, list[Any]] = {"fixative": [], "partitioned": [], "raw": [], "pandas": []}
    got["memory"] = [
        fixative_export(url, name, out / f"mem{i}", s) for i, s in enumerate((None, PARTITION))
    ]
    paths: dict[str, Callable[[int], float]] = {
        "fixative": lambda r: timed_export(store, name, out / f"fx{r}", None),
        "partitioned": lambda r: timed_export(store, name, out / f"fp{r}", PARTITION),
        "raw": lambda r: raw_limit(version_url, sql, out / f"raw{r}.parquet"),
        "pandas": lambda r: pandas_way(version_url, sql, out / f"pd{r}.parquet"),
    }
    order = list(paths)
    for r in range(args.rounds):
        for key in order[r % 4 :] + order[: r % 4]:  # each path leads a round in turn
            got[key].append(paths[key](r))
        print(
            f"round {r + 1}: fixative {got['fixative'][-1]:.2f} s, partitioned "
            f"{got['partitioned'][-1]:.2f} s, raw {got['raw'][-1]:.2f} s, "
            f"pandas {got['pandas'][-1]:.2f} s"
        )
    want = sums(out / "raw0.parquet")
    for path in (
        out / "fx0" / TABLE,
        out / "fp0" / TABLE,
        out / "pd0.parquet",
        out / "mem1" / TABLE,
    ):
        if sums(path) != want:
            raise AssertionError(f"{path}: {sums(path)} != {want}")
    print(f"checked equal on every path: rows, id sum, root sum = {want}")
    return got


def report(args: argparse.Namespace, got: dict[str, list[Any]]) -> None:
    n = args.synapses
    med = {
        "fixative": statistics.median(got["fixative"]),
        "partitioned": statistics.median(got["partitioned"]),
        "raw": statistics.median(got["raw"]),
        "pandas": statistics.median(got["pandas"]),
    }
    rate = {k: n / v for k, v in med.items()}
    peak = max(g["arrow_peak_mib"] for g in got["memory"])
    rss = max(g["rss_mib"] for g in got["memory"])
    print(f"\n{n:,} synapses of a {args.kind} version to Parquet (median of {args.rounds}):")
    for k in med:
        print(f"  {k:<12} {med[k]:7.2f} s  {rate[k]:12,.0f} rows/s")
    print(f"  fixative / raw limit: {rate['fixative'] / rate['raw']:.2f} (target >= 0.8)")
    print(f"  fixative / pandas: {rate['fixative'] / rate['pandas']:.1f}x (target >= 5x)")
    print(f"  export process peaks: Arrow pool {peak:.0f} MiB, RSS {rss:.0f} MiB\n")
    figures = [
        {
            "figure": "export_parquet_rows_per_s",
            "synapses": n,
            "kind": args.kind,
            "value": rate["fixative"],
            "baseline": "adbc_copy_pyarrow_parquet",
            "baseline_value": rate["raw"],
            "ratio": rate["fixative"] / rate["raw"],
        },
        {
            "figure": "export_parquet_partitioned_rows_per_s",
            "synapses": n,
            "kind": args.kind,
            "partition_by": PARTITION,
            "value": rate["partitioned"],
            "baseline": "adbc_copy_pyarrow_parquet",
            "baseline_value": rate["raw"],
            "ratio": rate["partitioned"] / rate["raw"],
        },
        {
            "figure": "export_parquet_vs_pandas",
            "synapses": n,
            "kind": args.kind,
            "value": rate["fixative"],
            "baseline": "pandas_read_sql_to_parquet",
            "baseline_value": rate["pandas"],
            "ratio": rate["fixative"] / rate["pandas"],
        },
        {
            "figure": "export_peak_memory_mib",
            "synapses": n,
            "kind": args.kind,
            "arrow_pool_peak": peak,
            "rss_peak": rss,
        },
    ]
    for f in figures:
        print(json.dumps(f))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synapses", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kind", choices=("history", "flat"), default="history")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    with ExitStack() as stack:
        store, name, version_url = setup(stack, args)
        out = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        report(args, run_rounds(args, store, name, version_url, out))


if __name__ == "__main__":
    main()
