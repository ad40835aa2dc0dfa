"""Every dashboard page's latency on the demo datastack, over HTTP as a signed-in browser asks
for it, against the plain JSON API call for the same data in the same process and run.

    python bench/dashboard.py [--synapses N] [--runs 30] [--database-url URL]

Setup (untimed, its duration printed): the demo datastack (the whole C. elegans connectome
unless ``--synapses``) in a scratch SQLite database (or ``--database-url``, an empty database),
served with ``auth = "tokens"`` and the in-process runner; three versions made by the complete
workflow and one failed run, as an operator would find them; an admin token in the cookie.

Timed: each page ``--runs`` times after 3 warm-up requests, interleaved with its baseline (the
API endpoint a client would call for the same data: the catalogue's metadata, the runs list,
the same one-page table query, the neuron's two partner queries and change log, the whole
root-id column the synapse plot counts). Target: every page's p99 within 300 ms.

The last lines are one JSON object per figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from fixative.api.app import create_app
from fixative.api.services import HttpServices, build_services
from fixative.auth.tokens import create_token
from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.clock import as_utc
from fixative.config import DatastackSettings, Schedule, Settings
from fixative.demo import datastack
from fixative.store import Store, open_store
from fixative.testing.server import serve

TARGET_MS = 300
WARMUP = 3
DS = "demo"


def build(store: Store, home: Path, synapses: int | None) -> tuple[HttpServices, dict[str, Any]]:
    options = datastack.DemoOptions(synapses=synapses)
    manifest = datastack.build(store, home / "demo", options)
    ds = DatastackSettings(
        name=DS,
        aligned_volume=datastack.ALIGNED_VOLUME,
        segmentation_source=manifest.segmentation_source,
        chunkedgraph_source=f"embedded://{datastack.PCG_TABLE}",
        synapse_table="synapses",
        soma_table="nuclei",
        schedules=(Schedule(cron="0 3 * * *"),),
    )
    url = store.engine.url.render_as_string(hide_password=False)
    settings = Settings(home=home, database_url=url, datastacks=(ds,), auth="tokens")
    services = build_services(settings, store)
    runner = services.runner
    assert runner is not None
    first, last = as_utc(manifest.edits_from), as_utc(manifest.edits_until)
    for at in (first + timedelta(minutes=1), first + (last - first) / 2, None):
        params = {} if at is None else {"at": at.isoformat()}
        runner.wait(runner.submit("materialize", params, DS), 600)
    failed = runner.submit("ingest", {"table": "no_such_table"}, DS)
    runner.wait(failed, 600)
    graph = services.chunkedgraph(DS)
    assert isinstance(graph, EmbeddedChunkedGraph)
    made = [r for op in reversed(graph.list_operations()) for r in op.new_root_ids]
    root = next(r for r, ok in zip(made, graph.is_latest_roots(made), strict=True) if ok)
    token = create_token(store, "bench", DS, "admin")[1]
    return services, {"failed": failed, "root": root, "token": token}


def pages(base: str, facts: dict[str, Any]) -> dict[str, tuple[str, Callable[[], Any]]]:
    """Page path -> (baseline description, the baseline's call)."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {facts['token']}"
    mat = f"{base}/materialize/api/v3/datastack/{DS}"
    v = facts["version"]
    query = f"{mat}/version/{v}/table/synapses/query?return_pyarrow=false&split_positions=true"
    seg = f"{base}/segmentation/api/v1/table/{datastack.PCG_TABLE}"
    root = facts["root"]

    def neuron() -> None:
        for side in ("pre_pt_root_id", "post_pt_root_id"):
            body = {"filter_equal_dict": {"synapses": {side: root}}}
            http.post(query, json=body, timeout=60).raise_for_status()
        http.get(f"{seg}/root/{root}/tabular_change_log", timeout=60).raise_for_status()

    def get(url: str) -> Callable[[], Any]:
        return lambda: http.get(url, timeout=60).raise_for_status()

    def post(url: str, body: dict[str, Any]) -> Callable[[], Any]:
        return lambda: http.post(url, json=body, timeout=60).raise_for_status()

    return {
        "/dashboard/": ("GET /info/api/v2/datastacks", get(f"{base}/info/api/v2/datastacks")),
        f"/dashboard/datastack/{DS}/": (
            "GET .../version/{v}/tables/metadata",
            get(f"{mat}/version/{v}/tables/metadata"),
        ),
        f"/dashboard/datastack/{DS}/runs": (
            "GET /fixative/api/v1/runs",
            get(f"{base}/fixative/api/v1/runs?limit=200"),
        ),
        f"/dashboard/datastack/{DS}/runs/{facts['failed']}": (
            "GET /fixative/api/v1/runs/{id}",
            get(f"{base}/fixative/api/v1/runs/{facts['failed']}"),
        ),
        f"/dashboard/datastack/{DS}/table/synapses": (
            "POST .../table/synapses/query (26 rows, JSON)",
            post(query, {"limit": 26}),
        ),
        f"/dashboard/datastack/{DS}/neuron/{root}": (
            "2 partner queries + GET tabular_change_log",
            neuron,
        ),
        f"/dashboard/datastack/{DS}/plots": (
            "POST .../table/synapses/query (pre_pt_root_id, every row)",
            post(query, {"select_columns": ["pre_pt_root_id"]}),
        ),
    }


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def measure(base: str, facts: dict[str, Any], runs: int) -> list[dict[str, Any]]:
    browser = requests.Session()
    browser.cookies.set("middle_auth_token", facts["token"])
    figures = []
    for path, (described, baseline) in pages(base, facts).items():

        def page(path: str = path) -> None:
            response = browser.get(base + path, timeout=60)
            response.raise_for_status()
            assert response.headers["Content-Type"].startswith("text/html")

        for _ in range(WARMUP):
            page()
            baseline()
        page_ms, base_ms = [], []
        for _ in range(runs):
            page_ms.append(timed(page))
            base_ms.append(timed(baseline))
        p50, p99, b50 = pct(page_ms, 50), pct(page_ms, 99), pct(base_ms, 50)
        figures.append(
            {
                "figure": "dashboard_page_ms",
                "page": path,
                "value": round(p50, 1),
                "p99": round(p99, 1),
                "unit": "ms",
                "baseline": f"{described}: p50 {b50:.1f} ms",
                "ratio": round(p50 / b50, 2),
                "target_ms": TARGET_MS,
                "met": p99 <= TARGET_MS,
            }
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synapses", type=int, default=None, help="default: all 28,113")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database-url", default=None, help="an empty database")
    args = parser.parse_args()
    logging.getLogger("fixative").setLevel(logging.CRITICAL)  # the failed run's traceback
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request
    with ExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="benchdash_")))
        store = open_store(args.database_url or f"sqlite:///{home / 'live.sqlite'}")
        stack.callback(store.dispose)
        start = time.perf_counter()
        services, facts = build(store, home, args.synapses)
        stack.callback(services.close)
        from fixative.versions import list_versions

        facts["version"] = list_versions(store, DS)[-1].version
        print(f"setup: demo datastack and 3 versions in {time.perf_counter() - start:.1f} s")
        base = stack.enter_context(serve(create_app(services=services)))
        figures = measure(base, facts, args.runs)
    print(f"\n{'page':<48} {'p50':>8} {'p99':>8}   baseline p50")
    for f in figures:
        print(f"{f['page']:<48} {f['value']:>6.1f}ms {f['p99']:>6.1f}ms   {f['baseline']}")
    print(f"every page's p99 within {TARGET_MS} ms: {all(f['met'] for f in figures)}\n")
    for f in figures:
        print(json.dumps(f))


if __name__ == "__main__":
    main()
