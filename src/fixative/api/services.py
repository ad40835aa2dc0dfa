"""What the HTTP layer needs, built once by the entry point and handed to ``create_app``: the
composition object (``fixative.services.Services``) with the query engine, the authorizer and the
task runner. Nothing here is global; tests build one per world."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pyarrow as pa

from fixative.api.auth import Authorizer
from fixative.chunkedgraph.port import ChunkedGraph
from fixative.config import Settings
from fixative.errors import NotFound
from fixative.query.spec import QuerySpec
from fixative.runner.port import TaskRunner
from fixative.services import Services
from fixative.store import Store


class QueryOutput(Protocol):
    """What the engine's ``QueryResult`` offers the response encoders."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    resolution: tuple[float, float, float]
    warnings: list[str]
    column_names: dict[str, dict[str, str]]

    def close(self) -> None: ...


class QueryRunner(Protocol):
    """The engine's interface as the API uses it (``fixative.query.engine.QueryEngine``)."""

    def version_query(self, datastack: str, version: int, spec: QuerySpec) -> QueryOutput: ...

    def version_count(self, datastack: str, version: int, spec: QuerySpec) -> int: ...

    def live_query(self, datastack: str, at: datetime, spec: QuerySpec) -> QueryOutput: ...

    def close(self) -> None: ...


@dataclass
class HttpServices(Services):
    """The HTTP side's dependencies: the one composition object (settings, store, chunkedgraphs,
    volumes) with the query engine, the authorizer and the task runner added."""

    engine: QueryRunner | None = None
    authorizer: Authorizer | None = None  # None: no checks (the local user may do anything)
    runner: TaskRunner | None = None  # None: writes do not trigger ingest

    def graph(self, datastack: str) -> ChunkedGraph:
        """The chunkedgraph of a configured datastack (NotFound for unknown names)."""
        return self.chunkedgraph(datastack)

    def require_read(self, datastack: str, table: str) -> None:
        """403 unless this request's user may read ``table`` (a table dropped from the live
        database since the version was made is readable by datastack admins only)."""
        if self.authorizer is None:
            return
        info = self.store.find_table(table)
        if info is None:
            from fixative.api.auth import current_principal

            current_principal().require(datastack, "admin")
            return
        self.authorizer.require_read(datastack, info)

    def readable(self, datastack: str, tables: list[str]) -> list[str]:
        """The names among ``tables`` this request's user may read, in order."""
        if self.authorizer is None:
            return tables
        infos = {t.table_name: t for t in self.store.list_tables()}
        allowed = {t.table_name for t in self.authorizer.readable(datastack, infos.values())}
        return [t for t in tables if t in allowed]

    def query_engine(self) -> QueryRunner:
        if self.engine is None:
            raise NotFound("queries are not available on this server (no query engine)")
        return self.engine

    def close(self) -> None:
        """Stops the engine and the runner; the store stays open for whoever opened it."""
        if self.engine is not None:
            self.engine.close()
        if self.runner is not None:
            self.runner.close()


def build_services(settings: Settings, store: Store | None = None) -> HttpServices:
    """The production wiring: the live store from the settings, chunkedgraphs from
    ``bootstrap.chunkedgraph`` and the query engine over them."""
    from fixative import bootstrap

    live = store if store is not None else bootstrap.live_store(settings)

    services = HttpServices(settings, live)
    services.engine = make_engine(services)
    services.authorizer = Authorizer(live, settings, settings.auth)
    services.runner = make_runner(services)
    return services


def make_runner(services: HttpServices) -> TaskRunner:
    """The task runner the workflow endpoints and writes submit to: Celery workers when a
    broker is configured, else a thread pool in this process sharing these services (and so
    their chunkedgraphs)."""
    from fixative import bootstrap

    return bootstrap.task_runner(services.settings, services)


def make_engine(services: HttpServices) -> QueryRunner:
    """The query engine over the services' store and chunkedgraphs."""
    from fixative.query.engine import QueryEngine

    engine: QueryRunner = QueryEngine(
        services.store,
        services.graph,
        row_cap=services.settings.query_row_limit,
        timeout_s=services.settings.query_timeout_s,
        volumes=services.segmentation,
    )
    return engine
