"""Future instants refused by the commands, and ``fixative doctor`` repairing a table whose root
ids an earlier release let an update-roots move into the future, on both backends."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.clock import utc_now
from fixative.demo import datastack
from fixative.ids import to_uint64
from fixative.runner.records import list_runs
from fixative.store import Store, open_store
from fixative.store.segmentation import SegmentationTable, set_last_updated

Cli = Callable[..., subprocess.CompletedProcess[str]]
Run = Callable[..., subprocess.CompletedProcess[str]]
FUTURE = "2999-01-01T00:00:00+00:00"


@pytest.fixture
def run(tmp_path: Path, cli: Cli, store_url: str, stack: str) -> Run:
    """``fixative --config <the stack's settings> ARGS`` on the demo datastack's tables."""
    env = {"FIXATIVE_HOME": str(tmp_path / "home"), "FIXATIVE_DATABASE_URL": store_url}
    built = cli(["demo-data", "--synapses", "300", "--max-merges", "10"], tmp_path, **env)
    assert built.returncode == 0, built.stderr
    manifest = json.loads((tmp_path / "home" / "demo" / "manifest.json").read_text())
    config = tmp_path / "stack.toml"
    config.write_text(
        f'[[datastacks]]\nname = "{stack}"\naligned_volume = "{datastack.ALIGNED_VOLUME}"\n'
        f'segmentation_source = "{manifest["segmentation_source"]}"\n'
        f'chunkedgraph_source = "embedded://{datastack.PCG_TABLE}"\n'
    )

    def fixative(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(["--config", str(config), *args], tmp_path, COLUMNS="200", **env)

    return fixative


def _roots_hold(store: Store) -> None:
    """Every stored root is get_roots(its supervoxel, the table's last_updated)."""
    info = store.get_table("synapses")
    links = SegmentationTable.of(info)
    graph = EmbeddedChunkedGraph.open(store, datastack.PCG_TABLE)
    with store.read() as conn:
        rows = conn.exec_driver_sql(f'SELECT * FROM "{links.name}"').mappings().all()
    assert len(rows) == 300
    for p in links.points:
        svs = to_uint64(np.array([r[p.supervoxel_column] for r in rows], dtype=np.int64))
        roots = graph.get_roots(svs, info.last_updated_at).astype(np.int64).tolist()
        assert roots == [r[p.root_column] for r in rows], p.name


def test_future_instants_are_refused_and_doctor_repairs_future_roots(
    run: Run, store_url: str, stack: str
) -> None:
    assert run("ingest", stack).returncode == 0
    assert run("update-roots", stack).returncode == 0
    store = open_store(store_url)
    try:
        valid_at = store.get_table("synapses").last_updated_at
        runs = list_runs(store, 1000)
        for args in (
            ("update-roots", stack, "--at", FUTURE),
            ("ingest", stack, "--at", FUTURE),
            ("materialize", stack, "--at", FUTURE),
            ("version", "create", stack, "--at", FUTURE),
            ("submit", "update_roots", stack, "--at", FUTURE),
        ):
            refused = run(*args)
            assert refused.returncode == 1, args
            assert "is in the future" in refused.stderr, args
        assert store.get_table("synapses").last_updated_at == valid_at
        assert list_runs(store, 1000) == runs  # refused before anything was recorded

        # what the old path left: roots valid a month ahead (and changed since)
        links = SegmentationTable.of(store.get_table("synapses"))
        with store.write() as conn:
            set_last_updated(conn, links, utc_now() + timedelta(days=30))
            conn.exec_driver_sql(f'UPDATE "{links.name}" SET post_pt_root_id = 1')
        blocked = run("materialize", stack)
        assert blocked.returncode == 1
        assert "holds root ids valid at" in blocked.stderr

        found = run("doctor", stack)
        assert found.returncode == 1
        assert "found: table 'synapses' holds root ids valid at" in found.stdout
        assert "--repair" in found.stderr
        before = utc_now()
        repaired = run("doctor", stack, "--repair")
        assert repaired.returncode == 0, repaired.stderr
        assert "repaired: table 'synapses'" in repaired.stdout
        after = store.get_table("synapses").last_updated_at
        assert after is not None
        assert before <= after <= utc_now()
        _roots_hold(store)  # resolved again at now
        done = run("materialize", stack)
        assert done.returncode == 0, done.stderr
        assert "AVAILABLE" in done.stdout
        assert run("doctor", stack).returncode == 0
    finally:
        store.dispose()
