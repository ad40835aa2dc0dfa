"""What a task needs, built from the settings once per process: the live store and, per
datastack, its segmentation volume and chunkedgraph (opened on first use, then kept)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fixative.chunkedgraph.port import ChunkedGraph
from fixative.clock import Clock, utc_now
from fixative.config import DatastackSettings, Settings
from fixative.segmentation.port import SegmentationSource
from fixative.store import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    _segmentations: dict[str, SegmentationSource] = field(default_factory=dict)
    _graphs: dict[str, ChunkedGraph] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = utc_now) -> Services:
        from fixative import bootstrap

        return cls(settings, bootstrap.live_store(settings, clock))

    def datastack(self, name: str) -> DatastackSettings:
        return self.settings.datastack(name)

    def segmentation(self, datastack: str) -> SegmentationSource:
        from fixative import bootstrap

        with self._lock:
            if datastack not in self._segmentations:
                self._segmentations[datastack] = bootstrap.segmentation_source(
                    self.datastack(datastack)
                )
            return self._segmentations[datastack]

    def chunkedgraph(self, datastack: str) -> ChunkedGraph:
        from fixative import bootstrap

        with self._lock:
            if datastack not in self._graphs:
                self._graphs[datastack] = bootstrap.chunkedgraph(
                    self.datastack(datastack), self.store
                )
            return self._graphs[datastack]

    def close(self) -> None:
        self.store.dispose()
