"""The one composition object: the settings, the live store and, per datastack, its segmentation
volume and chunkedgraph, each opened the first time it is needed and then kept.

The tasks (``runner``) take it as it is; the HTTP side (``api.services.HttpServices``) extends it
with the query engine, the authorizer and the task runner, and hands *itself* to the in-process
runner, so one process opens each datastack's chunkedgraph once. Entry points build one per process
(``Services.from_settings``); nothing here is global."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fixative.chunkedgraph.port import ChunkedGraph
from fixative.clock import Clock, utc_now
from fixative.config import DatastackSettings, Settings
from fixative.errors import NotFound
from fixative.segmentation.port import SegmentationSource
from fixative.store import Store

GraphFactory = Callable[[DatastackSettings], ChunkedGraph]


@dataclass
class Services:
    """``graph_factory`` opens a datastack's chunkedgraph (default: ``bootstrap.chunkedgraph`` on
    this store); tests hand in their own."""

    settings: Settings
    store: Store
    graph_factory: GraphFactory | None = None
    _graphs: dict[str, ChunkedGraph] = field(default_factory=dict, repr=False)
    _segmentations: dict[str, SegmentationSource] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = utc_now) -> Services:
        from fixative import bootstrap

        return cls(settings, bootstrap.live_store(settings, clock))

    def datastack(self, name: str) -> DatastackSettings:
        return self.settings.datastack(name)

    def chunkedgraph(self, datastack: str) -> ChunkedGraph:
        """The chunkedgraph of a configured datastack (NotFound for unknown names)."""
        ds = self.datastack(datastack)
        with self._lock:
            graph = self._graphs.get(ds.name)
            if graph is None:
                graph = self._open_graph(ds)
                self._graphs[ds.name] = graph
            return graph

    def segmentation(self, datastack: str) -> SegmentationSource:
        """The datastack's volume (NotFound for unknown names)."""
        from fixative import bootstrap

        ds = self.datastack(datastack)
        with self._lock:
            source = self._segmentations.get(ds.name)
            if source is None:
                source = bootstrap.segmentation_source(ds)
                self._segmentations[ds.name] = source
            return source

    def graph_by_table(self, table_id: str) -> ChunkedGraph:
        """The chunkedgraph published at ``/segmentation/table/{table_id}``."""
        return self.chunkedgraph(self._datastack_of_graph(table_id))

    def segmentation_by_table(self, table_id: str) -> SegmentationSource:
        """The volume of the datastack whose chunkedgraph is ``table_id``."""
        return self.segmentation(self._datastack_of_graph(table_id))

    def close(self) -> None:
        self.store.dispose()

    def _open_graph(self, ds: DatastackSettings) -> ChunkedGraph:
        if self.graph_factory is not None:
            return self.graph_factory(ds)
        from fixative import bootstrap

        return bootstrap.chunkedgraph(ds, self.store)

    def _datastack_of_graph(self, table_id: str) -> str:
        for ds in self.settings.datastacks:
            if ds.pcg_table_name == table_id:
                return ds.name
        raise NotFound(f"chunkedgraph table {table_id!r} does not exist")
