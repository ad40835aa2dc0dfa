"""A served world for the read-side API tests: the demo datastack (small), a reference table,
three versions (the first expired), annotation edits after the last version, and an oracle
computed from the annotation log, the volume and the chunkedgraph at any instant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from fixative.api.app import create_app
from fixative.api.services import HttpServices, make_engine
from fixative.bootstrap import chunkedgraph
from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.clock import as_utc
from fixative.config import DatastackSettings, Settings
from fixative.demo import datastack
from fixative.segmentation.tensorstore import TensorStoreSegmentation
from fixative.store import NewTable, Store, open_store
from fixative.testing.clock import TickingClock
from fixative.testing.databases import drop_pg_database, pg_database, sqlite_url
from fixative.testing.server import serve
from fixative.versions import VersionOptions, create_version, expire_versions
from fixative.versions.model import Kind
from fixative.workflows.refresh import refresh_table

OPTIONS = datastack.DemoOptions(synapses=1_500, max_merges=60, mistakes=4, days=4)
TABLES = (*datastack.TABLES, "nucleus_tags")
RES = (8.0, 8.0, 40.0)
MAX_BODY = 1_000_000


@dataclass
class ReadWorld:
    store: Store
    manifest: datastack.DemoManifest
    home: Path
    datastack: str = "demo"
    instants: dict[str, datetime] = field(default_factory=dict)
    url: str = ""
    services: HttpServices | None = None

    @property
    def graph(self) -> EmbeddedChunkedGraph:
        return EmbeddedChunkedGraph.open(self.store, datastack.PCG_TABLE)

    def settings(self) -> Settings:
        ds = DatastackSettings(
            name=self.datastack,
            aligned_volume=datastack.ALIGNED_VOLUME,
            segmentation_source=self.manifest.segmentation_source,
            chunkedgraph_source=f"embedded://{datastack.PCG_TABLE}",
            viewer_resolution=RES,
            synapse_table="synapses",
            soma_table="nuclei",
            description="C. elegans demo",
        )
        return Settings(
            home=self.home,
            database_url=self.store.engine.url.render_as_string(hide_password=False),
            datastacks=(ds,),
            max_request_bytes=MAX_BODY,
        )

    def rows_at(self, table: str, at: datetime, roots_at: datetime | None = None) -> pd.DataFrame:
        """The oracle: rows visible at ``at``, supervoxels looked up in the volume, roots from
        the chunkedgraph at ``roots_at`` (default ``at``); ordered by id."""
        roots_at = roots_at or at
        frame = self.store.annotations_at(table, at).to_pandas()
        schema = self.store.get_table(table).schema
        if schema.bound_points and len(frame):
            seg = TensorStoreSegmentation.open(self.manifest.segmentation_source)
            graph = self.graph
            for point in schema.bound_points:
                xyz = frame[list(point.xyz_columns)].to_numpy()
                svids = seg.lookup(xyz, RES)
                frame[point.supervoxel_column] = svids.astype(np.int64)
                frame[point.root_column] = graph.get_roots(svids, roots_at).astype(np.int64)
        return frame.sort_values("id").reset_index(drop=True)


def _store_url(backend: str, directory: Path, stack: ExitStack, template: str | None) -> str:
    if backend == "sqlite":
        return sqlite_url(directory)
    assert template is not None
    return stack.enter_context(pg_database(template))


def _refresh(world: ReadWorld, at: datetime) -> None:
    seg = TensorStoreSegmentation.open(world.manifest.segmentation_source)
    graph = world.graph
    for table in datastack.TABLES:  # the reference table has no segmentation
        refresh_table(world.store, seg, graph, table, at)


def _version(world: ReadWorld, at: datetime, days: int | None, kind: Kind) -> None:
    _refresh(world, at)
    options = VersionOptions(
        days_to_expire=days, aligned_volume=datastack.ALIGNED_VOLUME, kind=kind
    )
    create_version(world.store, world.datastack, at, options=options)


def _at(world: ReadWorld, at: datetime) -> None:
    world.store.clock = TickingClock(at, timedelta(milliseconds=1))


def _edit_after_versions(world: ReadWorld, at: datetime) -> None:
    """New synapses (copies of old ones), deleted synapses, a corrected cell type."""
    store = world.store
    _at(world, at)
    old = store.annotations_at("synapses", at).slice(0, 12).to_pylist()
    new_rows = [
        {
            "pre_pt": {"position": [r[f"pre_pt_position_{a}"] for a in "xyz"]},
            "post_pt": {"position": [r[f"post_pt_position_{a}"] for a in "xyz"]},
            "ctr_pt": {"position": [r[f"ctr_pt_position_{a}"] for a in "xyz"]},
            "size": 999,
        }
        for r in old
    ]
    store.insert_annotations("synapses", new_rows)
    store.delete_annotations("synapses", [int(r["id"]) for r in old[:5]])
    cell = store.annotations_at("cell_types", at).slice(0, 1).to_pylist()[0]
    store.update_annotations(
        "cell_types",
        [
            {
                "id": int(cell["id"]),
                "pt": {"position": [cell[f"pt_position_{a}"] for a in "xyz"]},
                "cell_type": "relabelled",
                "classification_system": cell["classification_system"],
            }
        ],
    )


def build_world(store: Store, home: Path) -> ReadWorld:
    """On PostgreSQL the datastack is named after the live database, so its version databases
    (``{datastack}__mat{N}``, server-wide names) cannot collide with other tests'."""
    manifest = datastack.build(store, home / "demo", OPTIONS)
    name = store.engine.url.database if store.dialect_name == "postgresql" else "demo"
    world = ReadWorld(store, manifest, home, datastack=name or "demo")
    start = as_utc(manifest.started_at)
    first, last = as_utc(manifest.edits_from), as_utc(manifest.edits_until)
    live_clock = store.clock
    _at(world, start + timedelta(minutes=20))
    store.create_table(
        NewTable(
            "nucleus_tags",
            "reference_tag",
            datastack.ALIGNED_VOLUME,
            "demo",
            RES,
            reference_table="nuclei",
            notice_text="tags are provisional",
        )
    )
    store.insert_annotations(
        "nucleus_tags", [{"target_id": i, "tag": f"tag {i % 3}"} for i in range(1, 41)]
    )
    store.clock = live_clock
    world.instants = {
        "v1": first - timedelta(minutes=1),
        "v2": first + (last - first) / 2,
        "v3": last + timedelta(minutes=1),
        "edit": last + timedelta(hours=2),
        "refresh": last + timedelta(hours=3),
        "after": last + timedelta(hours=4),
    }
    # both kinds served side by side: version 2 kept in the root-id history, 1 and 3 copied
    # (the database-loss tests take version 3's database away mid-stream)
    for name, days, kind in (("v1", 1, "flat"), ("v2", None, "history"), ("v3", None, "flat")):
        _version(world, world.instants[name], days, cast(Kind, kind))
    expire_versions(
        store, world.datastack, world.instants["after"] + timedelta(days=30), min_kept=1
    )
    _edit_after_versions(world, world.instants["edit"])
    store.clock = live_clock  # the refresh runs "now", after the edits' instant
    _refresh(world, world.instants["refresh"])
    return world


@contextmanager
def served_world(backend: str, home: Path, template: str | None) -> Iterator[ReadWorld]:
    with ExitStack() as stack:
        url = _store_url(backend, home, stack, template)
        store = open_store(url)
        stack.callback(store.dispose)
        if backend == "postgres":
            stack.callback(_drop_versions, url)
        world = build_world(store, home)
        services = HttpServices(world.settings(), store, lambda ds: chunkedgraph(ds, store))
        services.engine = make_engine(services)
        stack.callback(services.close)
        world.services = services
        world.url = stack.enter_context(serve(create_app(services=services)))
        yield world


def _drop_versions(url: str) -> None:
    """Drop the version databases ``{live database}__mat{N}`` a world created."""
    name = url.rsplit("/", 1)[-1]
    for n in range(1, 10):
        drop_pg_database(f"{name}__mat{n}")


def client(world: ReadWorld, **kw: Any) -> Any:
    from caveclient import CAVEclient

    return CAVEclient(
        world.datastack, server_address=world.url, auth_token="x", write_server_cache=False, **kw
    )
