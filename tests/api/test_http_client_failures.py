"""HttpChunkedGraph against a real misbehaving server on loopback: retries, backoff, errors."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import numpy as np
import pytest
from flask import Flask, Response, request

from fixative.chunkedgraph.http import HttpChunkedGraph, parse_source
from fixative.errors import InvalidInput, Transient
from fixative.testing.server import serve


def flaky_app(failures: int, status: int = 503, delay_s: float = 0.0) -> Flask:
    """Answers ``status`` for the first ``failures`` calls, then echoes ids + 1 as roots."""
    app = Flask("flaky")
    calls = {"n": 0}

    @app.post("/segmentation/api/v1/table/t/roots_binary")
    def roots() -> Response:
        calls["n"] += 1
        if delay_s:
            time.sleep(delay_s)
        if calls["n"] <= failures:
            return Response('{"message": "backend hiccup"}', status=status)
        ids = np.frombuffer(request.get_data(), "<u8")
        return Response((ids + 1).astype("<u8").tobytes())

    @app.get("/calls")
    def count() -> Response:
        return Response(str(calls["n"]))

    return app


@pytest.fixture
def flaky(request: pytest.FixtureRequest) -> Iterator[str]:
    with serve(flaky_app(*request.param)) as url:
        yield url


@pytest.mark.parametrize("flaky", [(2,)], indirect=True)
def test_retries_5xx_then_succeeds(flaky: str) -> None:
    graph = HttpChunkedGraph(flaky, "t", backoff_s=0.01)
    assert graph.get_roots([5, 7, 5]).tolist() == [6, 8, 6]


@pytest.mark.parametrize("flaky", [(100,)], indirect=True)
def test_persistent_5xx_is_transient_error(flaky: str) -> None:
    graph = HttpChunkedGraph(flaky, "t", retries=2, backoff_s=0.01)
    with pytest.raises(Transient, match=r"503.*backend hiccup"):
        graph.get_roots([1])


@pytest.mark.parametrize("flaky", [(100, 400)], indirect=True)
def test_4xx_is_not_retried(flaky: str) -> None:
    import requests

    graph = HttpChunkedGraph(flaky, "t", retries=3, backoff_s=0.01)
    with pytest.raises(InvalidInput, match="backend hiccup"):
        graph.get_roots([1])
    assert requests.get(f"{flaky}/calls", timeout=5).text == "1"


@pytest.mark.parametrize("flaky", [(0, 200, 1.0)], indirect=True)
def test_timeout_is_transient(flaky: str) -> None:
    graph = HttpChunkedGraph(flaky, "t", timeout_s=0.2, retries=1, backoff_s=0.01)
    with pytest.raises(Transient, match="unreachable"):
        graph.get_roots([1])


def test_unreachable_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    graph = HttpChunkedGraph(f"http://127.0.0.1:{port}", "t", retries=1, backoff_s=0.01)
    with pytest.raises(Transient, match="unreachable"):
        graph.get_roots([1])


@pytest.mark.parametrize("flaky", [(0,)], indirect=True)
def test_large_lookups_are_batched(flaky: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    monkeypatch.setattr("fixative.chunkedgraph.http.ROOTS_BATCH", 1000)
    graph = HttpChunkedGraph(flaky, "t")
    ids = np.arange(1, 3501, dtype=np.uint64)
    assert (
        graph.get_roots(np.concatenate([ids, ids])).tolist()
        == (np.concatenate([ids, ids]) + 1).tolist()
    )
    assert requests.get(f"{flaky}/calls", timeout=5).text == "4"


def test_parse_source() -> None:
    assert parse_source("graphene://https://pcg.example.org/segmentation/table/my_pcg") == (
        "https://pcg.example.org",
        "my_pcg",
    )
    with pytest.raises(InvalidInput):
        parse_source("graphene://ftp://x/y")
