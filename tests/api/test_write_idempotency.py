"""Annotation writes with an ``Idempotency-Key``: a retried POST, PUT or DELETE writes once and
answers as the first time, also when the retries arrive at the same moment; the same key with
another request is refused and writes nothing."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from write_world import RES, WriteWorld, shared_world

from fixative.clock import utc_now

TABLE = "idem_tags"


@pytest.fixture(scope="module")
def ww(backend: str, request: pytest.FixtureRequest) -> WriteWorld:
    world = shared_world(request, backend)
    world.client("alice").annotation.create_table(TABLE, "bound_tag", "d", RES)
    return world


def _rows(n: int, tag: str) -> dict[str, Any]:
    return {"annotations": [{"pt": {"position": [700 + i, 700, 7]}, "tag": tag} for i in range(n)]}


def _write(ww: WriteWorld, method: str, body: Any, key: str | None) -> requests.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return ww.call(method, ww.ann(f"/{TABLE}/annotations"), "alice", json=body, headers=headers)


def _visible(ww: WriteWorld) -> list[int]:
    return sorted(ww.store.annotations_at(TABLE, utc_now()).column("id").to_pylist())


def test_a_retried_post_writes_once(ww: WriteWorld) -> None:
    key, before = str(uuid.uuid4()), _visible(ww)
    first = _write(ww, "POST", _rows(3, "retried"), key)
    again = _write(ww, "POST", _rows(3, "retried"), key)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json() == again.json()
    assert len(first.json()) == 3
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _visible(ww) == sorted(before + first.json())


def test_simultaneous_retries_write_once(ww: WriteWorld) -> None:
    key, before = str(uuid.uuid4()), _visible(ww)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _write(ww, "POST", _rows(2, "burst"), key), range(8)))
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
    assert len({tuple(a.json()) for a in answers}) == 1
    assert sum("Idempotent-Replayed" not in a.headers for a in answers) == 1
    assert _visible(ww) == sorted(before + answers[0].json())


def test_the_same_key_with_another_request_is_refused(ww: WriteWorld) -> None:
    key = str(uuid.uuid4())
    assert _write(ww, "POST", _rows(1, "one"), key).status_code == 200
    before = _visible(ww)
    refused = _write(ww, "POST", _rows(1, "other"), key)
    assert refused.status_code == 422
    assert refused.json()["error"] == "Unprocessable"
    assert "Idempotency-Key" in refused.json()["message"]
    assert _visible(ww) == before


def test_retried_updates_and_deletes_write_once(ww: WriteWorld) -> None:
    ids = _write(ww, "POST", _rows(2, "to-change"), None).json()
    change = {"annotations": [{"id": ids[0], "pt": {"position": [1, 2, 3]}, "tag": "changed"}]}
    key = str(uuid.uuid4())
    updated, again = (_write(ww, "PUT", change, key) for _ in range(2))
    assert updated.status_code == again.status_code == 200, updated.text
    assert updated.json() == again.json()
    assert list(updated.json()) == [str(ids[0])]
    key = str(uuid.uuid4())
    deleted, again = (_write(ww, "DELETE", {"annotation_ids": [ids[1]]}, key) for _ in range(2))
    assert deleted.json() == again.json() == [ids[1]]
    visible = _visible(ww)
    assert ids[0] not in visible
    assert ids[1] not in visible
    assert updated.json()[str(ids[0])] in visible


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "caf\u00e9"])
def test_malformed_keys_are_400(ww: WriteWorld, key: str) -> None:
    before = _visible(ww)
    got = _write(ww, "POST", _rows(1, "bad-key"), key)
    assert got.status_code == 400, got.text
    assert "Idempotency-Key" in got.json()["message"]
    assert _visible(ww) == before
