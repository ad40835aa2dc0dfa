"""Writes' coalesced ingest runs on real Celery workers (a worker subprocess on the local Redis,
PostgreSQL): 30 writes from 4 threads make a few ingest runs, handed over with a countdown,
none left QUEUED, and every row linked to the supervoxel and root the volume and chunkedgraph
give."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import redis
from runner_world import RunnerWorld, build_world

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.clock import utc_now
from fixative.demo import datastack
from fixative.runner.celery_app import CeleryRunner
from fixative.runner.coalesce import WriteIngest
from fixative.runner.records import QUEUED, RUNNING, SUCCEEDED, RunInfo, list_runs
from fixative.segmentation.tensorstore import TensorStoreSegmentation
from fixative.store import NewTable, Store
from fixative.store.segmentation import SegmentationTable
from fixative.testing.processes import stop_group

REDIS_DB = 9
BROKER = f"redis://127.0.0.1:6379/{REDIS_DB}"
FIXATIVE = str(Path(sys.executable).with_name("fixative"))
WRITES, THREADS, INTERVAL_S = 30, 4, 1.0


@pytest.fixture
def cworld(backend: str, store: Store, tmp_path: Path, stack: str) -> Iterator[RunnerWorld]:
    if backend != "postgres":
        pytest.skip("the Celery runner is tested on PostgreSQL (workers share its database)")
    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    store.clock = utc_now
    yield build_world(store, tmp_path, stack, broker_url=BROKER)
    client.flushdb()
    client.close()


@pytest.fixture
def worker(cworld: RunnerWorld, tmp_path: Path) -> Iterator[None]:
    ds = cworld.settings.datastacks[0]
    config = tmp_path / "fixative.toml"
    config.write_text(
        f'home = "{cworld.settings.home}"\n'
        f'database_url = "{cworld.settings.database_url}"\n'
        f'broker_url = "{BROKER}"\n'
        "[[datastacks]]\n"
        f'name = "{ds.name}"\n'
        f'aligned_volume = "{ds.aligned_volume}"\n'
        f'segmentation_source = "{ds.segmentation_source}"\n'
        f'chunkedgraph_source = "{ds.chunkedgraph_source}"\n'
    )
    with (tmp_path / "worker.log").open("wb") as log:
        process = subprocess.Popen(
            [FIXATIVE, "--config", str(config), "worker", "--concurrency=1", "--loglevel=INFO"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield
        finally:
            stop_group(process)


def _settled(store: Store, table: str, timeout_s: float = 180) -> list[RunInfo]:
    deadline = time.monotonic() + timeout_s
    while True:
        runs = [r for r in list_runs(store, 500) if r.params.get("table") == table]
        if not any(r.status in (QUEUED, RUNNING) for r in runs) or time.monotonic() > deadline:
            return runs
        time.sleep(0.3)


def test_writes_coalesce_on_celery_workers(cworld: RunnerWorld, worker: None) -> None:
    store = cworld.store
    av, pcg = datastack.ALIGNED_VOLUME, datastack.PCG_TABLE
    store.create_table(NewTable("cel_tags", "bound_tag", av, "u", (8, 8, 40), pcg_table_name=pcg))
    synapses = store.annotations_at("synapses", utc_now()).slice(0, WRITES).to_pylist()
    celery = CeleryRunner(cworld.settings, store)
    ingest = WriteIngest(store, celery, INTERVAL_S)

    def write(i: int) -> int:
        s = synapses[i]
        xyz = [s[f"pre_pt_position_{a}"] for a in "xyz"]
        (new_id,) = store.insert_annotations("cel_tags", [{"pt": {"position": xyz}, "tag": "c"}])
        ingest(cworld.stack, "cel_tags")
        return int(new_id)

    try:
        began = time.monotonic()
        with ThreadPoolExecutor(THREADS) as pool:
            ids = sorted(pool.map(write, range(WRITES)))
        writing_s = time.monotonic() - began
        runs = _settled(store, "cel_tags")
    finally:
        celery.close()
    assert all(r.status == SUCCEEDED for r in runs), [(r.status, r.error) for r in runs]
    assert 1 <= len(runs) <= 2 + writing_s / INTERVAL_S, (len(runs), writing_s)

    seg = SegmentationTable.of(store.get_table("cel_tags"))
    query = f'SELECT id, pt_supervoxel_id, pt_root_id FROM "{seg.name}" ORDER BY id'
    with store.read() as conn:
        linked = conn.exec_driver_sql(query).all()
    assert [int(r[0]) for r in linked] == ids
    rows = store.annotations_at("cel_tags", utc_now()).sort_by("id")
    xyz = np.stack([rows.column(f"pt_position_{a}").to_numpy() for a in "xyz"], axis=1)
    volume = TensorStoreSegmentation.open(cworld.manifest.segmentation_source)
    svs = volume.lookup(xyz.astype(np.int64), (8, 8, 40), outside="zero")
    roots = EmbeddedChunkedGraph.open(store, pcg).get_roots(svs, utc_now())
    assert [int(r[1]) for r in linked] == svs.astype(np.int64).tolist()
    assert [int(r[2]) for r in linked] == roots.astype(np.int64).tolist()
    assert (svs > 0).all()
