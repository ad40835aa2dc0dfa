"""Precomputed annotations for Neuroglancer on PostgreSQL: a spatial-index cell and a neuron's
relationship chunk over HTTP, cold and warm, against the plain version query that returns the
same annotations, in the same run.

    python bench/neuroglancer.py --synapses 1000000 [--neurons 5] [--cells 40] [--keep]

Setup (untimed, its duration printed): a scratch live database ``benchng_<random>`` (also the
datastack's name), N random synapses through the store, their segmentation rows by binary COPY
with ``--neurons`` pre roots and ``--neurons`` post roots of ``--neuron-synapses`` (10,000)
synapses each (scattered through the id order, as a real neuron's are) and the rest drawn from
N/100 roots; version 1 by ``create_version`` (a flat copy: ``--kind history`` would need the
root-id history, which this fill does not write), then ``ANALYZE`` of the version database (as
``bench/query.py`` does); a segmentation volume's ``info`` covering the points (the endpoint
reads the bounds from it; no chunk is read); the server on a loopback port. Timed, over HTTP:

1. spatial cells (``--cells`` distinct random cells at each level but the first, whose one cell
   is the whole volume; the finest levels may be nearly empty, kept for clustered data), each
   after its parent cell (untimed, as Neuroglancer loads coarse levels first): the first
   request (cold: the cell is not in Fixative's cache of the version's files; PostgreSQL's
   buffers are as the previous requests left them), the same request again (warm,
   ``--warm`` times), and the plain version query of the cell's box (``filter_spatial_dict`` as
   caveclient posts it, Arrow), whose rows hold the cell's (all of them at the finest levels,
   a subsample at coarse ones); order alternating;
2. relationship chunks of each big neuron (pre and post): cold, warm, and the plain version
   query of the root (``filter_in_dict``), checked to return the same number of rows.

The last lines are one JSON object per figure (p50 and p99, ms; the plain query is the
baseline; targets: warm under 20 ms, cold no slower than the plain query).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
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
import pyarrow as pa
import requests
import sqlalchemy as sa

from fixative.api.app import create_app
from fixative.api.services import HttpServices, make_engine
from fixative.config import DatastackSettings, Settings
from fixative.neuroglancer.grid import EDGE_HI, EDGE_LO
from fixative.store import NewTable, Store, open_store
from fixative.store import tables as t
from fixative.store.pgcopy import CopyColumn, encode
from fixative.testing.annotations import synapse_columns
from fixative.testing.databases import drop_pg_database, pg_url
from fixative.testing.server import serve
from fixative.versions import VersionOptions, create_version, database_name
from fixative.versions.target import target_for

TABLE = "synapses"
KIND = ["history"]  # the version kind measured (set from --kind)
BATCH = 250_000
EXTENT = 100_000  # voxels along each axis (synapse_columns' default)
RES = (8.0, 8.0, 40.0)
ROOT_BASE = 864_691_135_000_000_000
SEG_COLUMNS = (
    "id",
    "pre_pt_supervoxel_id",
    "pre_pt_root_id",
    "post_pt_supervoxel_id",
    "post_pt_root_id",
)


def big_roots(n: int, neurons: int, per_neuron: int, offset: int, seed: int) -> np.ndarray:
    """Per synapse its root: ``neurons`` roots of ``per_neuron`` synapses at random ids, the
    rest uniform over n/100 roots (above the big ones)."""
    rng = np.random.default_rng(seed)
    roots = rng.integers(neurons + 1, neurons + 1 + max(1, n // 100), size=n) + offset
    chosen = rng.permutation(n)[: neurons * per_neuron]
    roots[chosen] = np.repeat(np.arange(1, neurons + 1), per_neuron)[: chosen.size] + offset
    return roots.astype(np.int64)


def fill(store: Store, args: argparse.Namespace) -> datetime:
    """The synapses and their segmentation rows; returns the instant their roots hold at."""
    store.create_table(NewTable(TABLE, "synapse", "av", "bench", RES, pcg_table_name="pcg"))
    n = args.synapses
    for lo in range(0, n, BATCH):
        rows = synapse_columns(min(BATCH, n - lo), seed=args.seed + lo, extent=EXTENT)
        store.insert_annotations(TABLE, rows)
    pre = big_roots(n, args.neurons, args.neuron_synapses, ROOT_BASE, args.seed)
    post = big_roots(n, args.neurons, args.neuron_synapses, ROOT_BASE + 10**9, args.seed + 1)
    columns = [CopyColumn(c, "int8") for c in SEG_COLUMNS]
    raw = store.engine.raw_connection()
    try:
        with raw.cursor() as cur:  # type: ignore[attr-defined]
            for lo in range(0, n, BATCH):
                ids = np.arange(lo + 1, min(lo + BATCH, n) + 1, dtype=np.int64)
                part = slice(lo, lo + ids.size)
                rows = pa.table(
                    [ids, ids * 10, pre[part], ids * 10 + 1, post[part]], names=list(SEG_COLUMNS)
                )
                sql = f'COPY "{TABLE}__pcg" ({", ".join(SEG_COLUMNS)}) FROM STDIN (FORMAT BINARY)'
                with cur.copy(sql) as copy:
                    copy.write(encode(rows, columns))
        raw.commit()
    finally:
        raw.close()
    at = store.clock()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.execute(t.segmentation_table_metadata.update().values(last_updated=at))
    return at


def volume_info(directory: Path) -> str:
    """A precomputed segmentation ``info`` over the synapses' extent (no chunks)."""
    directory.mkdir(parents=True)
    scale = {
        "key": "8_8_40",
        "size": [EXTENT + 64] * 3,
        "voxel_offset": [-32] * 3,
        "resolution": list(RES),
        "chunk_sizes": [[64, 64, 64]],
        "encoding": "raw",
    }
    info = {
        "@type": "neuroglancer_multiscale_volume",
        "type": "segmentation",
        "data_type": "uint64",
        "num_channels": 1,
        "scales": [scale],
    }
    (directory / "info").write_text(json.dumps(info))
    return f"precomputed://file://{directory}"


def analyze(version_url: str) -> float:
    engine = sa.create_engine(version_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            start = time.perf_counter()
            conn.exec_driver_sql("ANALYZE")
            return time.perf_counter() - start
    finally:
        engine.dispose()


class Client:
    def __init__(self, url: str, name: str) -> None:
        self.http = requests.Session()
        self.version = f"{url}/materialize/api/v3/datastack/{name}/version/1"
        self.files = f"{self.version}/table/{TABLE}/precomputed"

    def file(self, path: str) -> bytes:
        got = self.http.get(self.files + path)
        got.raise_for_status()
        return got.content

    def plain(self, body: dict[str, Any]) -> int:
        url = f"{self.version}/table/{TABLE}/query?return_pyarrow=True&arrow_format=True"
        got = self.http.post(url + "&split_positions=True", json=body)
        got.raise_for_status()
        return int(pa.ipc.open_stream(got.content).read_all().num_rows)


def count(chunk: bytes) -> int:
    return int(np.frombuffer(chunk[:8], dtype="<u8")[0])


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def measure(
    client: Client,
    cases: list[tuple[str, dict[str, Any]]],
    warm: int,
    same: bool,
    before: Callable[[str], None] | None = None,
) -> dict[str, list[float]]:
    """Seconds per request: cold file, warm file, plain query (alternating which is first);
    ``before`` runs untimed before each case."""
    out: dict[str, list[float]] = {"cold": [], "warm": [], "plain": [], "rows": []}
    for k, (path, body) in enumerate(cases):
        if before is not None:
            before(path)
        plain_first = k % 2 == 1
        if plain_first:
            seconds, plain_rows = timed(lambda body=body: client.plain(body))
            out["plain"].append(seconds)
        seconds, chunk = timed(lambda path=path: client.file(path))
        out["cold"].append(seconds)
        for _ in range(warm):
            out["warm"].append(timed(lambda path=path: client.file(path))[0])
        if not plain_first:
            seconds, plain_rows = timed(lambda body=body: client.plain(body))
            out["plain"].append(seconds)
        listed = count(chunk)
        out["rows"].append(listed)
        if (same and listed != plain_rows) or listed > plain_rows:
            raise AssertionError(f"{path}: {listed} annotations, the plain query {plain_rows}")
    return out


def cell_cases(info: dict[str, Any], level: int, n: int, rng: random.Random) -> list[Any]:
    """Up to ``n`` distinct random cells of ``level``: (path, the plain query's body)."""
    spec = info["spatial"][level]
    grid = spec["grid_shape"]
    picked = rng.sample(range(grid[0] * grid[1] * grid[2]), min(n, grid[0] * grid[1] * grid[2]))
    out = []
    for flat in picked:
        cell = [flat % grid[0], flat // grid[0] % grid[1], flat // (grid[0] * grid[1])]
        lo, hi = [], []
        for a in range(3):
            start = info["lower_bound"][a] + cell[a] * spec["chunk_size"][a]
            lo.append(EDGE_LO if cell[a] == 0 else start)
            last = cell[a] == spec["grid_shape"][a] - 1
            hi.append(EDGE_HI if last else start + spec["chunk_size"][a] - 1)
        body = {"filter_spatial_dict": {TABLE: {"pre_pt_position": [lo, hi]}}}
        out.append((f"/{spec['key']}/{'_'.join(map(str, cell))}", body))
    return out


def parents_first(client: Client, info: dict[str, Any], level: int, path: str) -> None:
    """Ask for a cell's parent (untimed), as Neuroglancer, which loads coarse levels first."""
    cell = [int(v) for v in path.rsplit("/", 1)[1].split("_")]
    up = info["spatial"][level - 1]
    size = info["spatial"][level]["chunk_size"]
    parent = [c * s // u for c, s, u in zip(cell, size, up["chunk_size"], strict=True)]
    client.file(f"/{up['key']}/{'_'.join(map(str, parent))}")


def ms(values: list[float], q: float) -> float:
    return 1000 * float(np.percentile(np.asarray(values), q))


def figures(name: str, got: dict[str, list[float]], **kw: Any) -> list[dict[str, Any]]:
    plain50, plain99 = ms(got["plain"], 50), ms(got["plain"], 99)
    out = []
    for kind in ("cold", "warm"):
        for q, plain in ((50, plain50), (99, plain99)):
            value = ms(got[kind], q)
            out.append(
                {
                    "figure": f"{name}_{kind}_p{q}_ms",
                    "value": round(value, 2),
                    "unit": "ms",
                    "baseline": f"plain version query p{q} {plain:.2f} ms",
                    "ratio": round(value / plain, 3),
                    "target": "under 20 ms" if kind == "warm" else "ratio <= 1",
                    "runs": len(got[kind]),
                    "annotations_mean": round(statistics.mean(got["rows"]), 1),
                    "version_kind": KIND[0],
                    **kw,
                }
            )
    return out


def report(name: str, got: dict[str, list[float]]) -> None:
    times = {k: v for k, v in got.items() if k != "rows"}
    parts = [f"{k} p50 {ms(v, 50):7.2f} ms  p99 {ms(v, 99):7.2f} ms" for k, v in times.items()]
    rows = statistics.mean(got["rows"])
    print(f"  {name:<22} " + " | ".join(parts) + f" | {rows:,.0f} annotations per file")


def setup(stack: ExitStack, args: argparse.Namespace) -> tuple[Client, str]:
    name = f"benchng_{uuid.uuid4().hex[:10]}"
    store = open_store(pg_url(name))
    if not args.keep:
        stack.callback(drop_pg_database, name)
        if args.kind == "flat":
            stack.callback(lambda: target_for(store).drop(database_name(name, 1)))
    stack.callback(store.dispose)
    start = time.perf_counter()
    at = fill(store, args)
    fill_s = time.perf_counter() - start
    start = time.perf_counter()
    create_version(store, name, at, [TABLE], VersionOptions(kind=args.kind))
    version_s = time.perf_counter() - start
    analyze_s = 0.0  # a history version is read from the live database, analyzed by fill
    if args.kind == "flat":
        analyze_s = analyze(target_for(store).url(database_name(name, 1)))
    print(
        f"setup: {args.synapses:,} synapses filled in {fill_s:.1f} s, version 1 "
        f"({args.kind}) built in {version_s:.1f} s, ANALYZE {analyze_s:.1f} s"
    )
    home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    ds = DatastackSettings(
        name=name,
        aligned_volume="av",
        chunkedgraph_source="static://pcg",
        segmentation_source=volume_info(home / "volume"),
        synapse_table=TABLE,
    )
    url = store.engine.url.render_as_string(hide_password=False)
    settings = Settings(home=home, database_url=url, datastacks=(ds,))
    services = HttpServices(settings, store, lambda ds: None)  # type: ignore[arg-type,return-value]
    services.engine = make_engine(services)
    stack.callback(services.close)
    return Client(stack.enter_context(serve(create_app(services=services))), name), name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synapses", type=int, default=1_000_000)
    parser.add_argument("--neurons", type=int, default=5)
    parser.add_argument("--neuron-synapses", type=int, default=10_000)
    parser.add_argument("--cells", type=int, default=40)
    parser.add_argument("--warm", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--kind",
        choices=("flat", "history"),
        default="flat",
        help="history needs the root-id history, which this fill does not write",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    if args.synapses < 2 * args.neurons * args.neuron_synapses:
        parser.error("--synapses must be at least twice --neurons x --neuron-synapses")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    rng = random.Random(args.seed)
    KIND[0] = args.kind
    with ExitStack() as stack:
        client, _ = setup(stack, args)
        info = json.loads(client.file("/info"))
        levels = len(info["spatial"])
        client.file(f"/{info['spatial'][0]['key']}/0_0_0")  # warm-up: the version opened
        client.plain({"limit": 10})
        print(f"spatial index: {levels} levels, limit {info['spatial'][0]['limit']} per cell")
        results: list[dict[str, Any]] = []
        print("over HTTP (cold: first request; warm: again; plain: the version query):")
        for level in range(1, levels):
            cases = cell_cases(info, level, args.cells, rng)
            got = measure(
                client,
                cases,
                args.warm,
                False,
                lambda path, level=level: parents_first(client, info, level, path),
            )
            report(f"spatial level {level}", got)
            grid = info["spatial"][level]["grid_shape"]
            results += figures(f"spatial_level{level}", got, grid=grid)
        cases = []
        for column, base in (("pre_pt_root_id", ROOT_BASE), ("post_pt_root_id", ROOT_BASE + 10**9)):
            for k in range(1, args.neurons + 1):
                body = {"filter_in_dict": {TABLE: {column: [base + k]}}}
                cases.append((f"/{column}/{base + k}", body))
        got = measure(client, cases, args.warm, True)
        if min(got["rows"]) != args.neuron_synapses:
            raise AssertionError(f"a big neuron's chunk holds {min(got['rows'])} annotations")
        report(f"{args.neuron_synapses:,}-synapse neuron", got)
        results += figures("relationship", got, synapses=args.neuron_synapses)
        median_plain = statistics.median(got["plain"]) * 1000
        print(f"  (relationship chunk vs plain root query, median {median_plain:.1f} ms)\n")
        for f in results:
            print(json.dumps(f))


if __name__ == "__main__":
    main()
