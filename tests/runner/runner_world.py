"""A small demo datastack for the runner tests, its settings, and the oracle a version at T must
equal: exactly the rows visible at T, each point's supervoxel read from the volume and its root
``get_roots(supervoxel, T)`` from the chunkedgraph."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.clock import as_utc
from fixative.config import DatastackSettings, Settings
from fixative.demo import datastack
from fixative.query.engine import QueryEngine
from fixative.query.spec import QuerySpec
from fixative.segmentation.tensorstore import TensorStoreSegmentation
from fixative.store import Store
from fixative.versions import get_version, open_version

OPTIONS = datastack.DemoOptions(synapses=600, max_merges=30, mistakes=2, days=3)


@dataclass
class RunnerWorld:
    store: Store
    settings: Settings
    stack: str
    manifest: datastack.DemoManifest

    @property
    def midway(self) -> datetime:
        start, end = as_utc(self.manifest.edits_from), as_utc(self.manifest.edits_until)
        return start + (end - start) / 2

    @property
    def after(self) -> datetime:
        return as_utc(self.manifest.edits_until) + timedelta(seconds=1)

    def version_rows(self, version: int, table: str) -> dict[str, list[Any]]:
        """The version's rows of ``table`` by column: its flat copy read as it is, a version
        kept in the root-id history through the query engine."""
        if not get_version(self.store, self.stack, version).copied:
            graph = EmbeddedChunkedGraph.open(self.store, datastack.PCG_TABLE)
            reader = QueryEngine(self.store, lambda _ds: graph)
            try:
                result = reader.version_query(self.stack, version, QuerySpec((table,)))
                data = pa.Table.from_batches(list(result.batches), schema=result.schema)
                result.close()
            finally:
                reader.close()
            return {n: data.column(n).to_pylist() for n in data.column_names}
        engine = open_version(self.store, self.stack, version)
        try:
            with engine.connect() as conn:
                result = conn.execute(sa.text(f'SELECT * FROM "{table}" ORDER BY "id"'))
                names = list(result.keys())
                rows = result.all()
        finally:
            engine.dispose()
        return {n: [r[i] for r in rows] for i, n in enumerate(names)}

    def assert_version_is_oracle(self, version: int, at: datetime) -> None:
        seg = TensorStoreSegmentation.open(self.manifest.segmentation_source)
        graph = EmbeddedChunkedGraph.open(self.store, datastack.PCG_TABLE)
        for table in datastack.TABLES:
            info = self.store.get_table(table)
            live: pa.Table = self.store.annotations_at(table, at)
            got = self.version_rows(version, table)
            assert got["id"] == sorted(live.column("id").to_pylist()), table
            live = live.sort_by("id")
            for point in info.schema.bound_points:
                xyz = np.stack(
                    [live.column(c).to_numpy() for c in point.xyz_columns], axis=1
                ).astype(np.int64)
                assert [list(map(int, p)) for p in xyz] == [
                    [got[c][i] for c in point.xyz_columns] for i in range(len(xyz))
                ]
                svs = seg.lookup(xyz, info.voxel_resolution_nm, outside="zero")
                assert got[point.supervoxel_column] == svs.astype(np.int64).tolist(), table
                roots = graph.get_roots(svs, at).astype(np.int64).tolist()
                assert got[point.root_column] == roots, (table, point.name)


def build_world(store: Store, directory: Path, stack: str, **settings: Any) -> RunnerWorld:
    manifest = datastack.build(store, directory / "demo", OPTIONS)
    ds = DatastackSettings(
        name=stack,
        aligned_volume=datastack.ALIGNED_VOLUME,
        segmentation_source=manifest.segmentation_source,
        chunkedgraph_source=f"embedded://{datastack.PCG_TABLE}",
        min_versions_kept=1,
    )
    config = Settings(
        home=directory / "home",
        database_url=store.engine.url.render_as_string(hide_password=False),
        datastacks=(ds,),
        **settings,
    )
    return RunnerWorld(store, config, stack, manifest)
