"""Writes a web page of another site could make with the user's cookie are refused, and
write nothing: simple cross-site bodies, a foreign Origin, a token in the query string."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from write_world import RES, WriteWorld, shared_world

from fixative.clock import utc_now

TABLE = "xsite_tags"
BODY = {"annotations": [{"pt": {"position": [600, 600, 6]}, "tag": "xsite"}]}


@pytest.fixture(scope="module")
def ww(backend: str, request: pytest.FixtureRequest) -> WriteWorld:
    world = shared_world(request, backend)
    world.client("alice").annotation.create_table(TABLE, "bound_tag", "d", RES)
    return world


def _visible(ww: WriteWorld) -> int:
    return ww.store.count_at(TABLE, utc_now())


def _post(ww: WriteWorld, **kw: Any) -> requests.Response:
    return requests.post(ww.ann(f"/{TABLE}/annotations"), timeout=60, **kw)


def _cookie(ww: WriteWorld) -> dict[str, str]:
    return {"middle_auth_token": ww.tokens["alice"]}


def _own_origin(ww: WriteWorld) -> str:
    return ww.url  # http://127.0.0.1:<port>


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"],
)
def test_simple_cross_site_bodies_are_refused(ww: WriteWorld, content_type: str) -> None:
    before = _visible(ww)
    got = _post(
        ww, data=json.dumps(BODY), headers={"Content-Type": content_type}, cookies=_cookie(ww)
    )
    assert got.status_code == 415, got.text
    assert "application/json" in got.json()["message"]
    assert _visible(ww) == before


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.invalid"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://127.0.0.2:1", "Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_cookie_write_from_another_site_is_refused(
    ww: WriteWorld, headers: dict[str, str]
) -> None:
    before = _visible(ww)
    got = _post(ww, json=BODY, headers=headers, cookies=_cookie(ww))
    assert got.status_code == 403, got.text
    assert "cross-site" in got.json()["message"]
    assert _visible(ww) == before


def test_same_site_cookie_writes_and_bearer_writes_pass(ww: WriteWorld) -> None:
    before = _visible(ww)
    same = _post(ww, json=BODY, headers={"Origin": _own_origin(ww)}, cookies=_cookie(ww))
    assert same.status_code == 200, same.text
    bearer = _post(
        ww,
        json=BODY,
        headers={"Origin": "http://evil.invalid", "Authorization": f"Bearer {ww.tokens['alice']}"},
    )
    assert bearer.status_code == 200, bearer.text  # a page cannot set this header cross-site
    assert _visible(ww) == before + 2


def test_a_token_in_the_query_string_reads_but_never_writes(ww: WriteWorld) -> None:
    before = _visible(ww)
    token = {"middle_auth_token": ww.tokens["alice"]}
    assert requests.get(ww.ann(), params=token, timeout=60).status_code == 200
    got = _post(ww, json=BODY, params=token)
    assert got.status_code == 403
    assert "query string" in got.json()["message"]
    assert _visible(ww) == before
