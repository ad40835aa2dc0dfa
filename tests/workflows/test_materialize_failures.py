"""The complete workflow against a chunkedgraph that fails: the run is recorded FAILED with the
error, no version becomes AVAILABLE, and the same workflow succeeds when run again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.chunkedgraph.http import HttpChunkedGraph
from fixative.clock import utc_now
from fixative.demo import datastack
from fixative.errors import Transient
from fixative.runner.records import FAILED, SUCCEEDED, list_runs, recorded
from fixative.segmentation.tensorstore import TensorStoreSegmentation
from fixative.store import Store
from fixative.testing.databases import drop_pg_database
from fixative.testing.failing_graph import failing_chunkedgraph
from fixative.versions import list_versions
from fixative.workflows.materialize import VersionRequest, complete

OPTIONS = datastack.DemoOptions(synapses=500, max_merges=20, mistakes=1, days=3)


@pytest.fixture
def broken_chunkedgraph() -> Iterator[HttpChunkedGraph]:
    with failing_chunkedgraph(datastack.PCG_TABLE) as graph:
        yield graph


@pytest.fixture
def stack(store: Store) -> Iterator[str]:
    """A datastack name of this test's own: PostgreSQL version databases are server-wide."""
    name = f"demo_{uuid.uuid4().hex[:8]}"
    yield name
    if store.dialect_name == "postgresql":
        for number in (1, 2):
            drop_pg_database(f"{name}__mat{number}")


def test_failed_chunkedgraph_fails_the_run_and_publishes_nothing(
    store: Store, tmp_path: Path, broken_chunkedgraph: HttpChunkedGraph, stack: str
) -> None:
    store.clock = utc_now  # the demo's history lies in the real past; the fixture's clock does not
    manifest = datastack.build(store, tmp_path / "demo", OPTIONS)
    seg = TensorStoreSegmentation.open(manifest.segmentation_source)
    request = VersionRequest(stack, datastack.ALIGNED_VOLUME, store.clock())
    with (
        pytest.raises(Transient, match="500"),
        recorded(store, "materialize", {}, stack, exclusive=True),
    ):
        complete(store, seg, broken_chunkedgraph, request, min_kept=1)
    run = list_runs(store)[0]
    assert run.status == FAILED
    assert run.error is not None
    assert "bigtable unavailable" in run.error
    assert list_versions(store, stack, include_expired=True) == []

    graph = EmbeddedChunkedGraph.open(store, datastack.PCG_TABLE)
    again = VersionRequest(stack, datastack.ALIGNED_VOLUME, store.clock())
    with recorded(store, "materialize", {}, stack, exclusive=True):
        made, _ = complete(store, seg, graph, again, min_kept=1)
    assert list_runs(store)[0].status == SUCCEEDED
    assert made.version.status == "AVAILABLE"
    counts = {t: store.count_at(t, again.at) for t in datastack.TABLES}
    assert counts["synapses"] == 500
