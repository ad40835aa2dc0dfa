"""PyChunkedGraph's API served from the embedded graph, checked against the oracle through our
HTTP client and through the real caveclient, on a real server on loopback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import requests
from caveclient.chunkedgraph import ChunkedGraphClient

from fixative.api.app import create_app
from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.chunkedgraph.http import HttpChunkedGraph
from fixative.chunkedgraph.port import ChunkedGraph
from fixative.errors import NotFound
from fixative.store import Store
from fixative.testing.chunkedgraph_contract import ChunkedGraphContract
from fixative.testing.server import serve


def _serve_graph(stack: ExitStack, graph: EmbeddedChunkedGraph) -> str:
    def lookup(table_id: str) -> ChunkedGraph:
        if table_id != graph.table_id:
            raise NotFound(f"chunkedgraph table {table_id!r} does not exist")
        return graph

    return stack.enter_context(serve(create_app(graphs=lookup)))


class _Served(ChunkedGraphContract):
    @pytest.fixture(autouse=True)
    def _servers(self) -> Iterator[None]:
        self.stack = ExitStack()
        yield
        self.stack.close()


class TestHttpChunkedGraph(_Served):
    """Our PyChunkedGraph client against our server."""

    def adapter(self, graph: EmbeddedChunkedGraph, store: Store) -> ChunkedGraph:
        return HttpChunkedGraph(_serve_graph(self.stack, graph), graph.table_id)


class CaveclientChunkedGraph:
    """The port, implemented with the real caveclient ``ChunkedGraphClient`` (test adapter)."""

    def __init__(self, client: Any, table_id: str) -> None:
        self.client = client
        self.table_id = table_id

    def get_roots(self, svids: npt.ArrayLike, at: dt.datetime | None = None) -> Any:
        ids = np.asarray(svids, dtype=np.uint64)
        try:
            if ids.size == 1:
                return np.array([self.client.get_root_id(int(ids[0]), timestamp=at)], np.uint64)
            return np.asarray(self.client.get_roots(ids, timestamp=at), dtype=np.uint64)
        except requests.HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 404:
                raise NotFound(str(exc)) from exc
            raise

    def get_delta_roots(self, since: dt.datetime, until: dt.datetime | None = None) -> Any:
        old, new = self.client.get_delta_roots(since, until)
        return np.asarray(old, np.uint64), np.asarray(new, np.uint64)

    def is_latest_roots(self, ids: npt.ArrayLike, at: dt.datetime | None = None) -> Any:
        return np.asarray(self.client.is_latest_roots(np.asarray(ids), timestamp=at), dtype=bool)

    def get_root_timestamps(
        self, ids: npt.ArrayLike, latest: bool = False, at: dt.datetime | None = None
    ) -> list[dt.datetime]:
        got = self.client.get_root_timestamps(np.asarray(ids), latest=latest, timestamp=at)
        shift = (
            dt.timedelta(milliseconds=1) if latest else dt.timedelta(0)
        )  # caveclient subtracts 1 ms
        return [t.astimezone(dt.UTC) + shift for t in got]

    def get_past_id_mapping(
        self, ids: npt.ArrayLike, past: dt.datetime, future: dt.datetime
    ) -> Any:
        body = self.client.get_past_ids(
            np.asarray(ids), timestamp_past=past, timestamp_future=future
        )
        return body["past_id_map"], body["future_id_map"]

    def get_lineage_graph(
        self, ids: npt.ArrayLike, past: dt.datetime | None = None, future: dt.datetime | None = None
    ) -> Any:
        (root,) = np.asarray(ids).tolist()
        return self.client.get_lineage_graph(root, timestamp_past=past, timestamp_future=future)

    def get_leaves(self, root_id: int) -> Any:
        return np.asarray(self.client.get_leaves(root_id), dtype=np.uint64)

    def get_oldest_timestamp(self) -> dt.datetime:
        return self.client.get_oldest_timestamp().astimezone(dt.UTC)  # type: ignore[no-any-return]


class TestCaveclient(_Served):
    """The real caveclient 8.x ChunkedGraphClient against our server."""

    def adapter(self, graph: EmbeddedChunkedGraph, store: Store) -> ChunkedGraph:
        url = _serve_graph(self.stack, graph)
        client = ChunkedGraphClient(server_address=url, table_name=graph.table_id)
        return CaveclientChunkedGraph(client, graph.table_id)  # type: ignore[return-value]


@pytest.fixture
def served(store: Store) -> Iterator[tuple[str, EmbeddedChunkedGraph]]:
    graph = EmbeddedChunkedGraph.create(store, "wire_pcg", [1, 2, 3], [(1, 2)])
    with ExitStack() as stack:
        yield _serve_graph(stack, graph), graph


def test_wire_details(served: tuple[str, EmbeddedChunkedGraph]) -> None:
    url, graph = served
    base = f"{url}/segmentation/api/v1/table/wire_pcg"
    assert requests.get(f"{url}/segmentation/api/versions", timeout=10).json() == [0, 1]
    assert requests.get(f"{url}/segmentation/api/version", timeout=10).json() == "2.21.1"
    empty = requests.post(f"{base}/roots_binary", data=b"", timeout=10)
    assert empty.status_code == 200
    assert empty.content == b""
    body = np.array([3, 1, 0], "<u8").tobytes()
    roots = np.frombuffer(
        requests.post(f"{base}/roots_binary", data=body, timeout=10).content, "<u8"
    )
    assert roots.tolist() == graph.get_roots([3, 1, 0]).tolist()
    # a JSON body on GET, without a Content-Type
    now = dt.datetime.now(dt.UTC).timestamp()
    got = requests.get(
        f"{base}/past_id_mapping",
        params={"timestamp_past": now - 1, "timestamp_future": now},
        data=f'{{"root_ids": [{int(roots[0])}]}}',
        timeout=10,
    )
    assert got.status_code == 200, got.text
    assert str(int(roots[0])) in got.json()["past_id_map"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("post", "roots_binary", {"data": b"1234567"}, 400),
        ("post", "is_latest_roots", {"data": b"{not json"}, 400),
        ("post", "is_latest_roots", {"data": b'{"node_ids": [-1]}'}, 400),
        ("post", "is_latest_roots", {"data": b'{"node_ids": "abc"}'}, 400),
        ("post", "roots_binary?timestamp=yesterday", {"data": b""}, 400),
        ("get", "delta_roots", {}, 400),
        ("post", "roots_binary", {"data": np.array([999], "<u8").tobytes()}, 404),
    ],
)
def test_bad_requests_get_json_4xx(
    served: tuple[str, EmbeddedChunkedGraph],
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    url, _ = served
    response = requests.request(
        method, f"{url}/segmentation/api/v1/table/wire_pcg/{path}", timeout=10, **kwargs
    )
    assert response.status_code == status, response.text
    assert response.json()["message"]


def test_unknown_table_is_404(served: tuple[str, EmbeddedChunkedGraph]) -> None:
    url, _ = served
    response = requests.post(
        f"{url}/segmentation/api/v1/table/nope/roots_binary", data=b"", timeout=10
    )
    assert response.status_code == 404
    assert "nope" in response.json()["message"]
