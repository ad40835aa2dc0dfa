"""A small demo datastack with one version, for the export tests: the C. elegans demo's tables
(synapses, cell_types, nuclei) plus a reference table of tags, linked and versioned at one
instant after the edit history, and a query engine to read the version as the API serves it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pyarrow as pa

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.clock import as_utc
from fixative.config import DatastackSettings, Settings
from fixative.demo import datastack
from fixative.query.engine import QueryEngine
from fixative.query.spec import QuerySpec
from fixative.segmentation.tensorstore import TensorStoreSegmentation
from fixative.store import NewTable, Store
from fixative.testing.clock import TickingClock
from fixative.testing.databases import fresh_store
from fixative.versions import VersionOptions, create_version
from fixative.workflows.refresh import refresh_table

OPTIONS = datastack.DemoOptions(synapses=2_000, max_merges=40, mistakes=2, days=2)
TABLES = (*datastack.TABLES, "nucleus_tags")
RES = (8.0, 8.0, 40.0)


@dataclass
class ExportWorld:
    store: Store
    home: Path
    datastack: str
    segmentation_source: str = ""
    version: int = 1
    engine: QueryEngine = field(init=False)

    def settings(self) -> Settings:
        ds = DatastackSettings(
            name=self.datastack,
            aligned_volume=datastack.ALIGNED_VOLUME,
            segmentation_source=self.segmentation_source,
            chunkedgraph_source=f"embedded://{datastack.PCG_TABLE}",
            viewer_resolution=RES,
            description="C. elegans demo (Cook et al. 2019)",
        )
        url = self.store.engine.url.render_as_string(hide_password=False)
        return Settings(home=self.home, database_url=url, datastacks=(ds,))

    def write_config(self, path: Path) -> Path:
        """The settings as a TOML file, for the command line."""
        settings = self.settings()
        ds = settings.datastacks[0]
        path.write_text(
            f'home = "{settings.home}"\ndatabase_url = "{settings.database_url}"\n\n'
            f'[[datastacks]]\nname = "{ds.name}"\naligned_volume = "{ds.aligned_volume}"\n'
            f'segmentation_source = "{ds.segmentation_source}"\n'
            f'chunkedgraph_source = "{ds.chunkedgraph_source}"\n'
            f'description = "{ds.description}"\n'
        )
        return path

    def version_table(self, table: str) -> pa.Table:
        """The version's table as the query engine serves it (positions split, in voxels)."""
        result = self.engine.version_query(self.datastack, self.version, QuerySpec((table,)))
        try:
            return pa.Table.from_batches(list(result.batches), result.schema)
        finally:
            result.close()


def _build(store: Store, home: Path) -> ExportWorld:
    manifest = datastack.build(store, home / "demo", OPTIONS)
    name = store.engine.url.database if store.dialect_name == "postgresql" else "demo"
    world = ExportWorld(store, home, name or "demo", manifest.segmentation_source)
    live_clock = store.clock  # the tags are written before the version's instant
    store.clock = TickingClock(as_utc(manifest.started_at) + timedelta(minutes=20))
    store.create_table(
        NewTable(
            "nucleus_tags",
            "reference_tag",
            datastack.ALIGNED_VOLUME,
            "demo",
            RES,
            reference_table="nuclei",
        )
    )
    store.insert_annotations(
        "nucleus_tags", [{"target_id": i, "tag": f"tag {i % 3}"} for i in range(1, 41)]
    )
    store.clock = live_clock
    at = as_utc(manifest.edits_until) + timedelta(minutes=1)
    seg = TensorStoreSegmentation.open(manifest.segmentation_source)
    graph = EmbeddedChunkedGraph.open(store, datastack.PCG_TABLE)
    for table in datastack.TABLES:
        refresh_table(store, seg, graph, table, at)
    create_version(
        store, world.datastack, at, options=VersionOptions(aligned_volume=datastack.ALIGNED_VOLUME)
    )
    world.engine = QueryEngine(store, lambda _ds: graph, row_cap=10_000_000)
    return world


@contextmanager
def export_world(backend: str, home: Path, template: str | None) -> Iterator[ExportWorld]:
    with ExitStack() as stack:
        store = stack.enter_context(fresh_store(backend, home, template))
        world = _build(store, home)
        stack.callback(world.engine.close)
        yield world
