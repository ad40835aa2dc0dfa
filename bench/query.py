"""The query service on PostgreSQL: root-id filter latency and bulk Arrow throughput over HTTP,
against the original's way of building the same result, in the same run.

    python bench/query.py --synapses 10000000 [--roots-per-query 100] [--runs 50] [--keep]

Setup (untimed, its duration printed): a scratch live database named ``benchq_<random>`` (also
the datastack's name, so the version database ``benchq_<random>__mat1`` collides with nobody's),
N synapses (random points) inserted through the store, their segmentation rows written by binary
COPY with root ids drawn uniformly from N/100 roots for ``pre`` and, independently, for ``post``
(about 100 synapses per root, scattered through the id order as a real neuron's are), then
version 1 by ``create_version`` as a flat copy (its own database), and version 2 at the same
instant as a history version (what users get by default: a catalogue row, its rows read from the
live database's root-id history, which ``backfill`` fills from the segmentation rows); the
server (``create_app`` + ``build_services``' engine) on a loopback port. Timed, in this order:

1. ``filter_in_dict`` on ``--roots-per-query`` random ``pre_pt_root_id`` values over HTTP on the
   version exactly as ``create_version`` leaves it (``--as-built-runs``, seconds each: the
   version database has no statistics and the engine's ``DECLARE CURSOR`` is planned for its
   first 10% of rows, so PostgreSQL walks the primary key in id order and tests every row
   against the array, whose text-to-``bigint[]`` cast is not folded and is re-parsed per row);
2. the first 1,000,000 rows in id order (``limit``) over HTTP as Arrow (zstd buffers, and
   uncompressed as caveclient's default headers get them) and in-process, against CAVE's way on
   the same SELECT: ``pandas.read_sql`` on a SQLAlchemy/psycopg connection to the version
   database, ``pa.RecordBatch.from_pandas``, written to an IPC stream (no compression and no
   HTTP: the baseline is given every advantage); the same over HTTP (zstd) and with pandas on
   version 2, the history version (pandas on the live database); rounds alternate; medians;
   the results are checked equal (row count, id sum, root-id sum);
3. then ``ANALYZE`` and ``cursor_tuple_fraction = 1`` on the version database (what
   ``create_version`` / the engine should do; new pooled sessions), and the root filter again,
   a new root set per run, after 5 warm-up runs: over HTTP as caveclient sends it (POST with
   ``Accept-Encoding: zstd``, decoded with ``pyarrow.ipc``), over HTTP uncompressed,
   in-process through ``QueryEngine.version_query`` (the HTTP cost is the difference), and
   through the real caveclient (every other set); p50/p99. Every root query's row count is
   checked against the counts the fill drew.

The last lines are one JSON object per figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import requests
import sqlalchemy as sa
from caveclient import CAVEclient

from fixative.api.app import create_app
from fixative.api.services import HttpServices, make_engine
from fixative.config import DatastackSettings, Settings
from fixative.query.columns import flat_columns
from fixative.query.compile import VersionQuery
from fixative.query.engine import QueryEngine
from fixative.query.plan import make_plan
from fixative.query.spec import Filter, QuerySpec
from fixative.store import NewTable, Store, open_store
from fixative.store import tables as t
from fixative.store.pgcopy import CopyColumn, encode
from fixative.store.root_history import backfill, record_instant
from fixative.testing.annotations import synapse_columns
from fixative.testing.databases import drop_pg_database, pg_url
from fixative.testing.server import serve
from fixative.versions import VersionOptions, create_version, database_name
from fixative.versions.target import target_for

TABLE = "synapses"
BATCH = 250_000
ROOT_BASE = 864_691_135_000_000_000  # root ids look like real ones
SYNAPSES_PER_ROOT = 100
BULK_ROWS = 1_000_000
SEG_COLUMNS = (
    "id",
    "pre_pt_supervoxel_id",
    "pre_pt_root_id",
    "post_pt_supervoxel_id",
    "post_pt_root_id",
)


def fill(store: Store, n: int, n_roots: int, seed: int) -> npt.NDArray[np.int64]:
    """``n`` synapses and their segmentation rows; returns the synapse count per pre root."""
    store.create_table(NewTable(TABLE, "synapse", "av", "bench", (8, 8, 40), pcg_table_name="pcg"))
    for lo in range(0, n, BATCH):
        store.insert_annotations(TABLE, synapse_columns(min(BATCH, n - lo), seed=seed + lo))
    rng = np.random.default_rng(seed)
    counts = np.zeros(n_roots, dtype=np.int64)
    columns = [CopyColumn(c, "int8") for c in SEG_COLUMNS]
    raw = store.engine.raw_connection()
    try:
        with raw.cursor() as cur:  # type: ignore[attr-defined]
            for lo in range(0, n, BATCH):
                ids = np.arange(lo + 1, min(lo + BATCH, n) + 1, dtype=np.int64)
                pre = rng.integers(0, n_roots, size=len(ids))
                post = rng.integers(0, n_roots, size=len(ids))
                counts += np.bincount(pre, minlength=n_roots)
                rows = pa.table(
                    [ids, ids * 10, pre + ROOT_BASE, ids * 10 + 1, post + ROOT_BASE],
                    names=list(SEG_COLUMNS),
                )
                sql = f'COPY "{TABLE}__pcg" ({", ".join(SEG_COLUMNS)}) FROM STDIN (FORMAT BINARY)'
                with cur.copy(sql) as copy:
                    copy.write(encode(rows, columns))
        raw.commit()
    finally:
        raw.close()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return counts


def settings(store: Store, name: str, home: Path) -> Settings:
    ds = DatastackSettings(
        name=name, aligned_volume="av", chunkedgraph_source="static://pcg", synapse_table=TABLE
    )
    url = store.engine.url.render_as_string(hide_password=False)
    return Settings(home=home, database_url=url, datastacks=(ds,))


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    rows = fn()
    return time.perf_counter() - start, rows


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


FLAT, HISTORY = 1, 2  # the versions


class Bench:
    """The three paths to the same version: HTTP, the engine in-process, pandas."""

    def __init__(self, store: Store, name: str, url: str, engine: QueryEngine) -> None:
        self.store, self.name, self.url, self.engine = store, name, url, engine
        self.http = requests.Session()

    def endpoint(self, version: int) -> str:
        return (
            f"{self.url}/materialize/api/v3/datastack/{self.name}/version/{version}/table/"
            f"{TABLE}/query?return_pyarrow=True&arrow_format=True&split_positions=True"
        )

    def over_http(self, body: dict[str, Any], zstd: bool = True, version: int = FLAT) -> pa.Table:
        """POST as caveclient does. ``zstd``: ``Accept-Encoding: zstd``, as caveclient sends
        it, so IPC buffers come zstd-compressed; without it requests' default header gets
        uncompressed buffers."""
        headers = {"Accept-Encoding": "zstd"} if zstd else {}
        resp = self.http.post(self.endpoint(version), json=body, headers=headers)
        resp.raise_for_status()
        return pa.ipc.open_stream(resp.content).read_all()

    def in_process(self, spec: QuerySpec) -> pa.Table:
        result = self.engine.version_query(self.name, FLAT, spec)
        try:
            return pa.Table.from_batches(list(result.batches), schema=result.schema)
        finally:
            result.close()

    def pandas_path(
        self, spec: QuerySpec, conn: sa.Connection, history_at: datetime | None = None
    ) -> tuple[pa.RecordBatch, float]:
        """CAVE's way: read_sql of the engine's SELECT, then from_pandas and an IPC stream
        (``history_at``: the history version's instant; ``conn`` is then the live database's).
        Returns the batch and the seconds spent in read_sql."""
        plan = make_plan(spec, [flat_columns(self.store.get_table(TABLE))], BULK_ROWS)
        select = VersionQuery(plan, "postgresql", history_at).rows()
        start = time.perf_counter()
        frame = pd.read_sql(select, conn)
        read_s = time.perf_counter() - start
        frame.columns = plan.schema.names
        batch = pa.RecordBatch.from_pandas(frame, preserve_index=False)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        sink.getvalue()
        return batch, read_s


def roots_spec(roots: list[int]) -> QuerySpec:
    return QuerySpec(tables=(TABLE,), filters=(Filter(TABLE, "pre_pt_root_id", "in", roots),))


def root_sets(
    counts: npt.NDArray[np.int64], n: int, per_query: int, seed: int
) -> list[tuple[list[int], int]]:
    """``n`` random sets of distinct pre root ids, each with its expected row count."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        chosen = rng.choice(len(counts), per_query, replace=False)
        out.append(([int(r) + ROOT_BASE for r in chosen], int(counts[chosen].sum())))
    return out


def as_built(bench: Bench, sets: list[tuple[list[int], int]]) -> list[float]:
    """Seconds per root-filter query over HTTP on the version exactly as ``create_version``
    leaves it (a 503 when the server's statement timeout cancels it is reported, its time kept
    as a lower bound)."""
    out = []
    for roots, want in sets:
        body = {"filter_in_dict": {TABLE: {"pre_pt_root_id": roots}}}
        start = time.perf_counter()
        try:
            rows = bench.over_http(body).num_rows
        except requests.HTTPError as exc:
            text = exc.response.text[:200] if exc.response is not None else ""
            print(f"  as built: failed after {time.perf_counter() - start:.1f} s: {exc} {text}")
            rows = want
        seconds = time.perf_counter() - start
        if rows != want:
            raise AssertionError(f"http: {rows} rows for the root set, expected {want}")
        print(f"  as built: {want:,} rows in {seconds * 1000:,.0f} ms")
        out.append(seconds)
    return out


def tune(bench: Bench, version_url: str) -> float:
    """What the version database lacks (module docstring, step 1): statistics, and cursors
    planned for the whole result. Returns the seconds ANALYZE took."""
    database = sa.make_url(version_url).database
    engine = sa.create_engine(version_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            start = time.perf_counter()
            conn.exec_driver_sql("ANALYZE")
            analyze_s = time.perf_counter() - start
            conn.exec_driver_sql(f'ALTER DATABASE "{database}" SET cursor_tuple_fraction = 1.0')
    finally:
        engine.dispose()
    bench.engine.close()  # the pooled sessions go; new ones read the database setting
    return analyze_s


def latency(bench: Bench, sets: list[tuple[list[int], int]], warmup: int) -> dict[str, list[float]]:
    """Seconds per root-filter query on each path (caveclient every other set)."""
    cave = CAVEclient(
        bench.name, server_address=bench.url, auth_token="x", write_server_cache=False
    )
    out: dict[str, list[float]] = {"http": [], "http_plain": [], "engine": [], "caveclient": []}
    for k, (roots, want) in enumerate(sets):
        body = {"filter_in_dict": {TABLE: {"pre_pt_root_id": roots}}}
        paths: list[tuple[str, Callable[[], int]]] = [
            ("http", lambda body=body: bench.over_http(body).num_rows),
            ("http_plain", lambda body=body: bench.over_http(body, zstd=False).num_rows),
            ("engine", lambda roots=roots: bench.in_process(roots_spec(roots)).num_rows),
        ]
        if k % 2 == 0:
            paths.append(
                (
                    "caveclient",
                    lambda roots=roots: len(
                        cave.materialize.query_table(
                            TABLE,
                            materialization_version=1,
                            filter_in_dict={"pre_pt_root_id": roots},
                            split_positions=True,
                        )
                    ),
                )
            )
        for path, fn in paths:
            seconds, rows = timed(fn)
            if rows != want:
                raise AssertionError(f"{path}: {rows} rows for the root set, expected {want}")
            if k >= warmup:
                out[path].append(seconds)
    return out


def checksum(table: pa.Table | pa.RecordBatch) -> tuple[int, int, int]:
    ids, roots = table.column("id"), table.column("pre_pt_root_id")
    return table.num_rows, int(pc.sum(ids).as_py()), int(pc.sum(roots).as_py())


BULK_PATHS = ("http", "http_plain", "engine", "pandas", "http_history", "pandas_history")


def bulk(bench: Bench, urls: dict[int, str], rounds: int) -> dict[str, list[float]]:
    """Seconds for the first BULK_ROWS rows on each path, rounds alternating the order
    (``urls``: each version's database, the live one for the history version)."""
    spec = QuerySpec(tables=(TABLE,), limit=BULK_ROWS)
    body = {"limit": BULK_ROWS}
    out: dict[str, list[float]] = {k: [] for k in (*BULK_PATHS, "pandas_read_sql")}
    engines = {v: sa.create_engine(url) for v, url in urls.items()}
    history_at = bench.store.get_table(TABLE).last_updated_at
    sums: dict[str, tuple[int, int, int]] = {}
    try:
        with engines[FLAT].connect() as flat, engines[HISTORY].connect() as live:

            def pandas_rows(path: str, conn: sa.Connection, at: datetime | None) -> int:
                batch, read_s = bench.pandas_path(spec, conn, at)
                if path == "pandas":
                    out["pandas_read_sql"].append(read_s)
                sums[path] = checksum(batch)
                return int(batch.num_rows)

            def table_rows(path: str, fn: Callable[[], pa.Table]) -> Callable[[], int]:
                def run() -> int:
                    table = fn()
                    sums[path] = checksum(table)
                    return int(table.num_rows)

                return run

            paths: list[tuple[str, Callable[[], int]]] = [
                ("http", table_rows("http", lambda: bench.over_http(body))),
                (
                    "http_plain",
                    table_rows("http_plain", lambda: bench.over_http(body, zstd=False)),
                ),
                ("engine", table_rows("engine", lambda: bench.in_process(spec))),
                ("pandas", lambda: pandas_rows("pandas", flat, None)),
                (
                    "http_history",
                    table_rows("http_history", lambda: bench.over_http(body, version=HISTORY)),
                ),
                ("pandas_history", lambda: pandas_rows("pandas_history", live, history_at)),
            ]
            table_rows("warm", lambda: bench.over_http(body))()
            table_rows("warm", lambda: bench.over_http(body, version=HISTORY))()
            for r in range(rounds):
                for path, fn in paths if r % 2 == 0 else paths[::-1]:
                    seconds, _ = timed(fn)
                    out[path].append(seconds)
                if len(set(sums.values())) != 1:
                    raise AssertionError(f"the paths disagree (rows, id sum, root sum): {sums}")
    finally:
        for engine in engines.values():
            engine.dispose()
    print(f"  checked equal on every path: rows, id sum, root sum = {sums['http']}")
    return out


def figure(
    name: str, value: float, unit: str, baseline: Any = None, ratio: float | None = None, **kw: Any
) -> dict[str, Any]:
    return {
        "figure": name,
        "value": round(value, 3),
        "unit": unit,
        "baseline": baseline,
        "ratio": None if ratio is None else round(ratio, 3),
        **kw,
    }


def report(
    built: list[float],
    lat: dict[str, list[float]],
    bulk_s: dict[str, list[float]],
    per_query: int,
) -> None:
    built_ms = 1000 * statistics.median(built)
    ms = {k: (1000 * pct(v, 50), 1000 * pct(v, 99)) for k, v in lat.items()}
    print(f"\n{per_query} root ids per query over HTTP, as built: median {built_ms:,.0f} ms")
    print(f"after ANALYZE + cursor_tuple_fraction=1 ({len(lat['http'])} runs; caveclient half):")
    for path, (p50, p99) in ms.items():
        print(f"  {path:<11} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
    med = {k: statistics.median(v) for k, v in bulk_s.items()}
    rate = {k: BULK_ROWS / v for k, v in med.items()}
    print(f"\n{BULK_ROWS:,} rows in id order (median of {len(bulk_s['http'])} rounds):")
    for path in BULK_PATHS:
        print(f"  {path:<14} {med[path]:7.2f} s  {rate[path]:12,.0f} rows/s")
    print(f"  (pandas: read_sql {med['pandas_read_sql']:.2f} s of it)")
    print(f"  HTTP Arrow / pandas: {rate['http'] / rate['pandas']:.2f}x (target >= 5x)")
    history_ratio = rate["http_history"] / rate["pandas_history"]
    print(f"  on the history version: {history_ratio:.2f}x")
    print(f"  root filter p50 over HTTP: {ms['http'][0]:.1f} ms (target <= 50 ms)\n")
    figures = [
        figure(
            "root_filter_http_as_built_median_ms",
            built_ms,
            "ms",
            "target 50 ms",
            built_ms / 50,
            runs=len(built),
        ),
        figure("root_filter_http_p50_ms", ms["http"][0], "ms", "target 50 ms", ms["http"][0] / 50),
        figure("root_filter_http_p99_ms", ms["http"][1], "ms"),
        figure("root_filter_http_uncompressed_p50_ms", ms["http_plain"][0], "ms"),
        figure("root_filter_engine_p50_ms", ms["engine"][0], "ms"),
        figure("root_filter_engine_p99_ms", ms["engine"][1], "ms"),
        figure("root_filter_caveclient_p50_ms", ms["caveclient"][0], "ms"),
        figure(
            "bulk_http_arrow_rows_per_s",
            rate["http"],
            "rows/s",
            f"pandas.read_sql + RecordBatch.from_pandas {round(rate['pandas'])} rows/s",
            rate["http"] / rate["pandas"],
            target_ratio=5,
        ),
        figure(
            "bulk_http_arrow_uncompressed_rows_per_s",
            rate["http_plain"],
            "rows/s",
            f"pandas.read_sql + RecordBatch.from_pandas {round(rate['pandas'])} rows/s",
            rate["http_plain"] / rate["pandas"],
        ),
        figure(
            "bulk_engine_rows_per_s",
            rate["engine"],
            "rows/s",
            f"pandas.read_sql + RecordBatch.from_pandas {round(rate['pandas'])} rows/s",
            rate["engine"] / rate["pandas"],
        ),
        figure(
            "bulk_http_arrow_history_rows_per_s",
            rate["http_history"],
            "rows/s",
            "pandas.read_sql + RecordBatch.from_pandas on the history version "
            f"{round(rate['pandas_history'])} rows/s",
            history_ratio,
            target_ratio=5,
        ),
    ]
    for f in figures:
        print(json.dumps(f))


def history_version(store: Store, name: str, at: datetime) -> float:
    """Version 2 at ``at`` as a history version: an interval opened at ``at`` for every
    segmentation row (the fill wrote them by COPY, around the history), the instant recorded,
    then the catalogue row. Returns the seconds the history took to fill."""
    seg = store.get_table(TABLE).segmentation_table
    assert seg is not None
    start = time.perf_counter()
    with store.engine.begin() as conn:
        backfill(conn, seg, at)
        record_instant(conn, TABLE, at)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    filled_s = time.perf_counter() - start
    create_version(store, name, at, [TABLE], VersionOptions(kind="history"))
    return filled_s


def setup(
    stack: ExitStack, args: argparse.Namespace
) -> tuple[Bench, npt.NDArray[np.int64], dict[int, str]]:
    """The filled live database, versions 1 (flat) and 2 (history) and the server; torn down
    by ``stack``. Returns the bench, the rows per pre root and each version's database URL."""
    name = f"benchq_{uuid.uuid4().hex[:10]}"
    store = open_store(pg_url(name))
    if not args.keep:
        stack.callback(drop_pg_database, name)
        stack.callback(lambda: target_for(store).drop(database_name(name, 1)))
    stack.callback(store.dispose)
    n_roots = max(1, args.synapses // SYNAPSES_PER_ROOT)
    start = time.perf_counter()
    counts = fill(store, args.synapses, n_roots, args.seed)
    fill_s = time.perf_counter() - start
    at = store.clock()
    with store.engine.begin() as conn:
        conn.execute(t.segmentation_table_metadata.update().values(last_updated=at))
    start = time.perf_counter()
    create_version(store, name, at, [TABLE], VersionOptions(kind="flat"))
    version_s = time.perf_counter() - start
    history_s = history_version(store, name, at)
    print(
        f"setup: {args.synapses:,} synapses over {n_roots:,} pre roots filled in {fill_s:.1f} s, "
        f"version 1 built in {version_s:.1f} s (database {database_name(name, 1)}"
        f"{', kept' if args.keep else ''}), the history for version 2 in {history_s:.1f} s"
    )
    home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    services = HttpServices(settings(store, name, home), store, lambda ds: None)  # type: ignore[arg-type,return-value]
    services.engine = make_engine(services)
    stack.callback(services.close)
    url = stack.enter_context(serve(create_app(services=services)))
    assert isinstance(services.engine, QueryEngine)
    urls = {
        FLAT: target_for(store).url(database_name(name, FLAT)),
        HISTORY: store.engine.url.render_as_string(hide_password=False),
    }
    return Bench(store, name, url, services.engine), counts, urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synapses", type=int, default=10_000_000)
    parser.add_argument("--roots-per-query", type=int, default=100)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="bulk rounds; medians")
    parser.add_argument("--as-built-runs", type=int, default=3, help="slow: seconds each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    if args.synapses < BULK_ROWS:
        parser.error(f"--synapses must be at least {BULK_ROWS:,} (the bulk result)")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with ExitStack() as stack:
        bench, counts, urls = setup(stack, args)
        n_sets = args.as_built_runs + args.runs + 5
        sets = root_sets(counts, n_sets, args.roots_per_query, args.seed)
        print(f"root filter over HTTP on the version as built ({args.as_built_runs} runs):")
        built = as_built(bench, sets[: args.as_built_runs])
        bulk_s = bulk(bench, urls, args.rounds)
        analyze_s = tune(bench, urls[FLAT])
        print(f"ANALYZE of the version database: {analyze_s:.1f} s")
        lat = latency(bench, sets[args.as_built_runs :], warmup=5)
        report(built, lat, bulk_s, args.roots_per_query)


if __name__ == "__main__":
    main()
