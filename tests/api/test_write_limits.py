"""Size limits: more than 10,000 annotations in one call and bodies over
``max_request_bytes`` are refused with 413, and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from write_world import MAX_BODY, RES, WriteWorld, shared_world


@pytest.fixture(scope="module")
def ww(backend: str, request: pytest.FixtureRequest) -> WriteWorld:
    world = shared_world(request, backend)
    world.client("alice").annotation.create_table("limit_tags", "bound_tag", "d", RES)
    rows = [{"pt": {"position": [800 + i, 900, 9]}, "tag": f"t{i}"} for i in range(3)]
    posted = world.call(
        "POST", world.ann("/limit_tags/annotations"), "alice", json={"annotations": rows}
    )
    assert posted.status_code == 200
    world.settle()
    return world


def test_more_than_ten_thousand_annotations_is_413(ww: WriteWorld) -> None:
    before = ww.visible_ids()
    rows = [{"pt": {"position": [1, 1, 1]}, "tag": ""} for _ in range(10_001)]
    body = json.dumps({"annotations": rows}).encode()
    assert len(body) < MAX_BODY * 3  # the count is refused, whatever the byte limit
    big = ww.services.settings.model_copy(update={"max_request_bytes": 10 * MAX_BODY})
    from fixative.api.app import create_app
    from fixative.api.services import HttpServices
    from fixative.testing.server import serve

    services = HttpServices(
        big, ww.store, ww.services.graph_factory, authorizer=ww.services.authorizer
    )
    with serve(create_app(services=services)) as url:
        for method in ("POST", "PUT"):
            got = requests.request(
                method,
                url + ww.ann("/limit_tags/annotations")[len(ww.url) :],
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {ww.tokens['alice']}",
                },
                timeout=60,
            )
            assert got.status_code == 413, got.text[:200]
            assert "10,000" in got.json()["message"]
    ids = {"annotation_ids": list(range(1, 10_002))}
    got = ww.call("DELETE", ww.ann("/limit_tags/annotations"), "alice", json=ids)
    assert got.status_code == 413
    assert ww.visible_ids() == before


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_body_over_the_limit_is_413(ww: WriteWorld, method: str) -> None:
    before = ww.visible_ids()
    rows = [{"pt": {"position": [1, 1, 1]}, "tag": "y" * 100} for _ in range(3000)]
    body = json.dumps({"annotations": rows}).encode()
    assert len(body) > MAX_BODY
    got = ww.call(
        method,
        ww.ann("/limit_tags/annotations"),
        "alice",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert got.status_code == 413, got.text[:200]
    assert "message" in got.json()
    assert ww.visible_ids() == before
    create = ww.call(
        "POST", ww.ann(), "ada", data=body, headers={"Content-Type": "application/json"}
    )
    assert create.status_code == 413


def _chunked_post(ww: WriteWorld) -> requests.Response:
    """A body over the limit sent without Content-Length (chunked transfer)."""
    rows = [{"pt": {"position": [1, 1, 1]}, "tag": "z" * 100} for _ in range(3000)]
    body = json.dumps({"annotations": rows}).encode()

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(body), 16_384):
            yield body[start : start + 16_384]

    return ww.call(
        "POST",
        ww.ann("/limit_tags/annotations"),
        "alice",
        data=pieces(),
        headers={"Content-Type": "application/json"},
    )


def test_chunked_body_over_the_limit_writes_nothing(ww: WriteWorld) -> None:
    before = ww.visible_ids()
    got = _chunked_post(ww)
    assert 400 <= got.status_code < 500, got.text[:200]
    assert ww.visible_ids() == before


def test_chunked_body_over_the_limit_is_413(ww: WriteWorld) -> None:
    assert _chunked_post(ww).status_code == 413
