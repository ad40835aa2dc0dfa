"""The composition root: Settings -> adapters -> services. Entry points call this; nothing else
reads settings or builds adapters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fixative.chunkedgraph.port import ChunkedGraph
from fixative.clock import Clock, utc_now
from fixative.config import DatastackSettings, Settings
from fixative.errors import NotFound, SettingsError
from fixative.segmentation.port import SegmentationSource
from fixative.store import Store, TableInfo, open_store

if TYPE_CHECKING:
    from fixative.runner.port import TaskRunner
    from fixative.services import Services


def live_store(settings: Settings, clock: Clock = utc_now, *, create: bool = False) -> Store:
    """The live database named by the settings, migrated to the latest schema. Only the commands
    that set a database up (``init``, ``demo``, ``demo-data``) pass ``create``; everything else
    is told, rather than handed a new empty database, when the URL names none."""
    if create:
        settings.home.mkdir(parents=True, exist_ok=True)
    try:
        store = open_store(settings.live_database_url, clock, create=create)
    except NotFound as exc:
        raise NotFound(f"{exc.message} (run `fixative init`)") from None
    store.version_database_prefix = settings.version_database_prefix
    return store


def segmentation_source(ds: DatastackSettings) -> SegmentationSource:
    """The datastack's volume, opened with TensorStore."""
    from fixative.segmentation.tensorstore import TensorStoreSegmentation

    if not ds.segmentation_source:
        raise SettingsError(f"datastacks[{ds.name}].segmentation_source is not set")
    return TensorStoreSegmentation.open(ds.segmentation_source)


def chunkedgraph(ds: DatastackSettings, store: Store) -> ChunkedGraph:
    """``embedded://<table>`` (our graph in the live database), ``static://<table>`` (a flat
    segmentation) or a PyChunkedGraph server (``graphene://https://host/segmentation/table/t``)."""
    source = ds.chunkedgraph_source
    if source.startswith("embedded://"):
        from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph

        return EmbeddedChunkedGraph.open(store, ds.pcg_table_name)
    if source.startswith("static://"):
        from fixative.chunkedgraph.static import StaticChunkedGraph

        return StaticChunkedGraph(ds.pcg_table_name)
    if source:
        from fixative.chunkedgraph.http import HttpChunkedGraph

        return HttpChunkedGraph.from_source(source)
    raise SettingsError(f"datastacks[{ds.name}].chunkedgraph_source is not set")


def datastack_tables(store: Store, ds: DatastackSettings) -> list[TableInfo]:
    """The datastack's annotation tables: its aligned volume's tables."""
    return store.list_tables(aligned_volume=ds.aligned_volume)


def task_runner(settings: Settings, services: Services) -> TaskRunner:
    """Celery workers when a broker is configured, else a thread pool in this process."""
    if settings.broker_url:
        from fixative.runner.celery_app import CeleryRunner

        return CeleryRunner(settings, services.store)
    from fixative.runner.inline import InlineRunner

    return InlineRunner(services)
