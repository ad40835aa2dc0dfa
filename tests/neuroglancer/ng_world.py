"""A served world for the precomputed-annotation tests: the demo datastack (small), one version
after its edits, a few synapses written after the version (so live differs), and the oracle:
the rows the plain query returns, at the version or live."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa

from fixative.api.app import create_app
from fixative.api.services import HttpServices, make_engine
from fixative.bootstrap import chunkedgraph
from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.clock import as_utc
from fixative.config import DatastackSettings, Settings
from fixative.demo import datastack
from fixative.query.spec import QuerySpec
from fixative.segmentation.tensorstore import TensorStoreSegmentation
from fixative.store import Store
from fixative.testing.clock import TickingClock
from fixative.testing.databases import fresh_store
from fixative.testing.server import serve
from fixative.versions import VersionOptions, create_version
from fixative.workflows.refresh import refresh_table

OPTIONS = datastack.DemoOptions(synapses=1_500, max_merges=60, mistakes=4, days=4)
RES = (8.0, 8.0, 40.0)


@dataclass
class NgWorld:
    store: Store
    manifest: datastack.DemoManifest
    home: Path
    datastack: str
    services: HttpServices
    url: str = ""

    def settings(self, **update: object) -> Settings:
        return settings_of(self.store, self.manifest, self.home, self.datastack, **update)

    def base(self, version: int | None) -> str:
        at = f"/version/{version}" if version is not None else ""
        return f"{self.url}/materialize/api/v3/datastack/{self.datastack}{at}"

    def precomputed(self, table: str, version: int | None) -> str:
        return f"{self.base(version)}/table/{table}/precomputed"

    def oracle(self, table: str, version: int | None) -> pa.Table:
        """Every row of the plain query (no filter), split positions, in id order."""
        engine = self.services.query_engine()
        spec = QuerySpec(tables=(table,))
        if version is None:
            result = engine.live_query(self.datastack, self.store.clock(), spec)
        else:
            result = engine.version_query(self.datastack, version, spec)
        try:
            return pa.Table.from_batches(list(result.batches), schema=result.schema)
        finally:
            result.close()


def settings_of(
    store: Store, manifest: datastack.DemoManifest, home: Path, name: str, **update: object
) -> Settings:
    ds = DatastackSettings(
        name=name,
        aligned_volume=datastack.ALIGNED_VOLUME,
        segmentation_source=manifest.segmentation_source,
        chunkedgraph_source=f"embedded://{datastack.PCG_TABLE}",
        viewer_resolution=RES,
        synapse_table="synapses",
        soma_table="nuclei",
        description="C. elegans demo",
    )
    settings = Settings(
        home=home,
        database_url=store.engine.url.render_as_string(hide_password=False),
        datastacks=(ds,),
    )
    return settings.model_copy(update=update) if update else settings


def _refresh(store: Store, manifest: datastack.DemoManifest, at: datetime) -> None:
    seg = TensorStoreSegmentation.open(manifest.segmentation_source)
    graph = EmbeddedChunkedGraph.open(store, datastack.PCG_TABLE)
    for table in datastack.TABLES:
        refresh_table(store, seg, graph, table, at)


def _build(store: Store, home: Path) -> tuple[datastack.DemoManifest, str]:
    manifest = datastack.build(store, home / "demo", OPTIONS)
    name = store.engine.url.database if store.dialect_name == "postgresql" else "demo"
    name = name or "demo"
    last = as_utc(manifest.edits_until)
    at = last + timedelta(minutes=1)
    _refresh(store, manifest, at)
    create_version(store, name, at, options=VersionOptions(aligned_volume=datastack.ALIGNED_VOLUME))
    live_clock = store.clock
    store.clock = TickingClock(last + timedelta(hours=1), timedelta(milliseconds=1))
    old = store.annotations_at("synapses", store.clock()).slice(0, 7).to_pylist()
    copies = []
    for row in old:
        copy: dict[str, object] = {"size": 7}
        for point in ("pre_pt", "ctr_pt", "post_pt"):
            copy[point] = {"position": [row[f"{point}_position_{a}"] for a in "xyz"]}
        copies.append(copy)
    store.insert_annotations("synapses", copies)
    store.delete_annotations("synapses", [int(old[0]["id"])])
    store.clock = live_clock
    _refresh(store, manifest, last + timedelta(hours=2))
    return manifest, name


@contextmanager
def served_ng_world(backend: str, home: Path, template: str | None) -> Iterator[NgWorld]:
    with ExitStack() as stack:
        store = stack.enter_context(fresh_store(backend, home, template))
        manifest, name = _build(store, home)
        settings = settings_of(store, manifest, home, name)
        services = HttpServices(settings, store, lambda ds: chunkedgraph(ds, store))
        services.engine = make_engine(services)
        stack.callback(services.close)
        world = NgWorld(store, manifest, home, name, services)
        world.url = stack.enter_context(serve(create_app(services=services)))
        yield world
