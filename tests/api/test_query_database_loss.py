"""A version database lost under a query (PostgreSQL backends terminated): at the start the
query is retried once on a fresh connection, or is a JSON 503 with Retry-After; mid-stream the
client's read fails (requests, pyarrow, caveclient), never a complete shorter table; the next
request succeeds."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest
import requests
import sqlalchemy as sa
from read_world import ReadWorld, client

from fixative.api.app import create_app
from fixative.api.services import HttpServices
from fixative.query.engine import QueryEngine, QueryResult
from fixative.testing.databases import PG_SERVER
from fixative.testing.server import serve

BATCH_ROWS = 97
# Every synapse has a positive size, so this filter keeps them all; its float parameter makes
# the read a server-side cursor, fetched batch by batch. A read with only integer parameters is
# a COPY instead, whose few hundred rows here are all on the client before a cut could land
# (``tests/query/test_copy_reads.py`` cuts a long COPY mid-stream).
CURSOR_BODY = {"filter_greater_dict": {"synapses": {"size": -1.0}}}


class PausingEngine:
    """The real engine; a stream pauses after its first batch was handed to the server until
    ``go`` is set (``sent`` says it got there), so a test can cut the database mid-stream."""

    def __init__(self, engine: QueryEngine) -> None:
        self.engine = engine
        self.sent = threading.Event()
        self.go = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def version_query(self, *args: Any) -> QueryResult:
        result = self.engine.version_query(*args)
        result.batches = self._paused(result.batches)
        return result

    def _paused(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for k, batch in enumerate(batches):
            if k == 1:
                self.sent.set()
                self.go.wait(60)
            yield batch


def _admin(sql: str, **params: Any) -> None:
    engine = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(sql), params)
    finally:
        engine.dispose()


def terminate(database: str) -> None:
    _admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = :db AND pid <> pg_backend_pid()",
        db=database,
    )


@pytest.fixture
def paused(world: ReadWorld, backend: str) -> Iterator[tuple[str, PausingEngine, str]]:
    """A server with small batches whose streams pause; yields its URL, the engine and the
    name of version 3's database."""
    if backend != "postgres":
        pytest.skip("a SQLite file cannot be taken away from an open connection")
    assert world.services is not None
    base = world.services
    services = HttpServices(base.settings, base.store, base.graph_factory)
    engine = PausingEngine(QueryEngine(base.store, services.graph, batch_rows=BATCH_ROWS))
    services.engine = engine  # type: ignore[assignment]
    live = base.store.engine.url.database
    try:
        with serve(create_app(services=services)) as url:
            yield url, engine, f"{live}__mat3"
    finally:
        engine.go.set()
        services.close()


def cut_while(engine: PausingEngine, database: str, read: Callable[[], Any]) -> None:
    """Run ``read`` while another thread terminates the database's backends mid-stream."""
    engine.sent.clear()
    engine.go.clear()

    def cutter() -> None:
        assert engine.sent.wait(60)
        terminate(database)
        engine.go.set()

    thread = threading.Thread(target=cutter)
    thread.start()
    try:
        read()
    finally:
        engine.go.set()
        thread.join(60)


def _chunks(response: requests.Response, body: bytearray) -> Iterator[bytes]:
    """The body's chunks, each also kept in ``body`` (what arrived before the read failed)."""
    for chunk in response.iter_content(None):
        body.extend(chunk)
        yield b""


def path(world: ReadWorld) -> str:
    return f"/materialize/api/v3/datastack/{world.datastack}/version/3/table/synapses/query"


def test_a_stream_cut_mid_way_fails_to_read(
    world: ReadWorld, paused: tuple[str, PausingEngine, str]
) -> None:
    url, engine, database = paused
    want = world.rows_at("synapses", world.instants["v3"])["id"].tolist()
    assert len(want) > 3 * BATCH_ROWS
    for query in ("", "?return_pyarrow=False"):
        body = bytearray()

        def read(query: str = query, body: bytearray = body) -> None:
            response = requests.post(
                url + path(world) + query, json=CURSOR_BODY, stream=True, timeout=60
            )
            assert response.status_code == 200
            assert response.headers["Transfer-Encoding"] == "chunked"
            with pytest.raises(requests.exceptions.ChunkedEncodingError):
                body.extend(b"".join(_chunks(response, body)))

        cut_while(engine, database, read)
        assert body
        if query:
            with pytest.raises(json.JSONDecodeError):
                json.loads(bytes(body))
        else:
            with pytest.raises(pa.ArrowInvalid):
                pa.ipc.open_stream(bytes(body)).read_all()
    engine.go.set()
    whole = requests.post(url + path(world), data="{}", timeout=60)
    assert pa.ipc.open_stream(whole.content).read_all().column("id").to_pylist() == want


def test_caveclient_raises_on_a_cut_stream(
    world: ReadWorld, paused: tuple[str, PausingEngine, str]
) -> None:
    url, engine, database = paused
    world_url, world.url = world.url, url
    try:
        cave = client(world)

        def read() -> None:
            with pytest.raises(requests.exceptions.RequestException):
                cave.materialize.query_table(
                    "synapses",
                    materialization_version=3,
                    filter_greater_dict=CURSOR_BODY["filter_greater_dict"]["synapses"],
                )

        cut_while(engine, database, read)
        engine.go.set()
        got = cave.materialize.query_table("synapses", materialization_version=3)
    finally:
        world.url = world_url
    assert len(got) == len(world.rows_at("synapses", world.instants["v3"]))


def test_a_lost_connection_at_the_start_is_retried_or_a_503(
    world: ReadWorld, paused: tuple[str, PausingEngine, str]
) -> None:
    url, engine, database = paused
    engine.go.set()
    want = len(world.rows_at("synapses", world.instants["v3"]))

    def rows() -> requests.Response:
        return requests.post(url + path(world), data="{}", timeout=60)

    def count() -> requests.Response:
        return requests.post(url + path(world) + "?count=True", data="{}", timeout=60)

    assert pa.ipc.open_stream(rows().content).read_all().num_rows == want
    terminate(database)  # the pooled connections are dead: checked and replaced
    assert pa.ipc.open_stream(rows().content).read_all().num_rows == want
    terminate(database)
    assert count().status_code == 200
    _admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    try:
        terminate(database)
        for response in (rows(), count()):
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "Transient"
            assert response.headers["Retry-After"].isdigit()
    finally:
        _admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    assert pa.ipc.open_stream(rows().content).read_all().num_rows == want
