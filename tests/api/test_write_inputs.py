"""Tokens in each place a client may send them, revoked and garbage tokens; injection attempts
in table names, column names, filter values and regex filters; and the size limits (413, with
nothing written)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from write_world import RES, WriteWorld, shared_world

from fixative.auth.tokens import create_token, list_tokens, revoke_token
from fixative.clock import utc_now

EVIL = (
    'x"; DROP TABLE synapses; --',
    "synapses; DELETE FROM synapses",
    "x' OR '1'='1",
    "../../etc/passwd",
    "Synapses",
    "a" * 300,
    "tbl\x00",
    "tags\x00",
    "newt\n",
    "tags\n",
    "t\u00e9",
)


@pytest.fixture(scope="module")
def ww(backend: str, request: pytest.FixtureRequest) -> WriteWorld:
    world = shared_world(request, backend)
    world.client("alice").annotation.create_table("tags", "bound_tag", "d", RES)
    rows = [{"pt": {"position": [900 + i, 900, 9]}, "tag": f"t{i}"} for i in range(5)]
    posted = world.call("POST", world.ann("/tags/annotations"), "alice", json={"annotations": rows})
    assert posted.status_code == 200
    version = world.call(
        "POST", world.flow(f"/datastack/{world.datastack}/workflow/create_version"), "ada"
    )
    assert version.status_code == 202
    world.settle()
    return world


# --- tokens ---


def test_token_in_header_cookie_and_query(ww: WriteWorld) -> None:
    url, token = ww.ann(), ww.tokens["vera"]
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).ok
    assert requests.get(url, cookies={"middle_auth_token": token}, timeout=30).ok
    assert requests.get(url, params={"middle_auth_token": token}, timeout=30).ok
    assert requests.get(url, timeout=30).status_code == 401


@pytest.mark.parametrize(
    "token", ["garbage", "fxt_" + "A" * 43, "x" * 5000, "Bearer", "fxt_\u00e9\u00e9", "' OR 1=1 --"]
)
def test_garbage_tokens_are_401_json(ww: WriteWorld, token: str) -> None:
    for kw in (
        {"headers": {"Authorization": f"Bearer {token}"}},
        {"cookies": {"middle_auth_token": token}},
        {"params": {"middle_auth_token": token}},
    ):
        got = requests.get(ww.ann(), timeout=30, **kw)  # type: ignore[arg-type]
        assert got.status_code == 401, got.text
        assert "message" in got.json()


def test_revoked_token_stops_at_once(ww: WriteWorld) -> None:
    info, secret = create_token(ww.store, "rita", ww.datastack, "edit")
    headers = {"Authorization": f"Bearer {secret}"}
    assert requests.get(ww.ann(), headers=headers, timeout=30).status_code == 200
    revoke_token(ww.store, info.id)
    assert info.id not in [t.id for t in list_tokens(ww.store)]
    before = ww.visible_ids()
    got = requests.post(
        ww.ann("/tags/annotations"),
        headers=headers,
        json={"annotations": [{"pt": {"position": [1, 2, 3]}, "tag": "late"}]},
        timeout=30,
    )
    assert got.status_code == 401
    assert "message" in got.json()
    assert requests.get(ww.ann(), headers=headers, timeout=30).status_code == 401
    assert ww.visible_ids() == before


def test_a_view_token_never_writes(ww: WriteWorld) -> None:
    """A POST that is a query needs only view; a POST that writes needs edit."""
    before = ww.visible_ids()
    body = {"annotations": [{"pt": {"position": [1, 2, 3]}, "tag": "v"}]}
    assert ww.call("POST", ww.ann("/tags/annotations"), "vera", json=body).status_code == 403
    # a path ending like a reading POST is still a write
    tricky = ww.ann("/query/annotations")
    assert ww.call("POST", tricky, "vera", json=body).status_code in (403, 404)
    assert ww.visible_ids() == before


# --- injection ---


@pytest.mark.parametrize("name", EVIL)
def test_evil_table_names(ww: WriteWorld, name: str) -> None:
    before = ww.visible_ids()
    body = {
        "table_name": name,
        "schema_type": "bound_tag",
        "metadata": {"voxel_resolution_x": 8, "voxel_resolution_y": 8, "voxel_resolution_z": 40},
    }
    created = ww.call("POST", ww.ann(), "ada", json=body)
    assert created.status_code == 400, created.text
    body["table_name"] = "refers"
    body["schema_type"] = "reference_tag"
    body["metadata"]["table_metadata"] = {"reference_table": name}  # type: ignore[index]
    assert ww.call("POST", ww.ann(), "ada", json=body).status_code in (400, 404)
    quoted = requests.utils.quote(name, safe="")
    rows = {"annotations": [{"pt": {"position": [1, 2, 3]}, "tag": "x"}]}
    for method, url, kw in (
        ("GET", ww.ann(f"/{quoted}"), {}),
        ("GET", ww.ann(f"/{quoted}/count"), {}),
        ("GET", ww.ann(f"/{quoted}/annotations"), {"params": {"annotation_ids": "1"}}),
        ("POST", ww.ann(f"/{quoted}/annotations"), {"json": rows}),
        ("PUT", ww.ann(f"/{quoted}/annotations"), {"json": rows}),
        ("DELETE", ww.ann(f"/{quoted}/annotations"), {"json": {"annotation_ids": [1]}}),
    ):
        got = ww.call(method, url, "ada", **kw)
        assert 400 <= got.status_code < 500, (url, got.status_code, got.text[:200])
    assert ww.visible_ids() == before


@pytest.mark.parametrize("name", EVIL)
def test_evil_table_names_on_the_read_side(ww: WriteWorld, name: str) -> None:
    before = ww.visible_ids()
    quoted = requests.utils.quote(name, safe="")
    live = {"table": name, "timestamp": utc_now().isoformat()}
    for method, url, kw in (
        ("GET", ww.mat(f"/version/1/table/{quoted}/metadata"), {}),
        ("GET", ww.mat(f"/version/1/table/{quoted}/count"), {}),
        ("POST", ww.mat(f"/version/1/table/{quoted}/query"), {"json": {}}),
        ("POST", ww.mat("/query"), {"json": live}),
    ):
        got = ww.call(method, url, "ada", **kw)
        assert 400 <= got.status_code < 500, (url, got.status_code, got.text[:200])
    assert ww.visible_ids() == before


def _live(ww: WriteWorld, who: str, **filters: Any) -> requests.Response:
    body = {"table": "synapses", "timestamp": utc_now().isoformat(), **filters}
    return ww.call("POST", ww.mat("/query"), who, json=body)


@pytest.mark.parametrize(
    "filters",
    [
        {"filter_equal_dict": {"synapses": {'size"; DROP TABLE synapses; --': 1}}},
        {"filter_in_dict": {"synapses": {"id) OR (1=1": [1]}}},
        {"filter_equal_dict": {'synapses"; --': {"size": 1}}},
        {"select_columns": {"synapses": ["id", "1; DROP TABLE synapses"]}},
        {"filter_regex_dict": {"synapses": {"size": "'; DROP TABLE synapses; --"}}},
    ],
)
def test_evil_columns_are_refused(ww: WriteWorld, filters: dict[str, Any]) -> None:
    before = ww.visible_ids()
    got = _live(ww, "vera", **filters)
    assert 400 <= got.status_code < 500, got.text[:300]
    assert ww.visible_ids() == before


@pytest.mark.parametrize(
    "filters",
    [
        {"filter_equal_dict": {"tags": {"tag": "x' OR '1'='1"}}},
        {"filter_in_dict": {"tags": {"tag": ["zz", "'); DROP TABLE tags; --"]}}},
        {"filter_regex_dict": {"tags": {"tag": "'; DROP TABLE tags; --"}}},
        {"filter_regex_dict": {"tags": {"tag": ".*' OR 'a'='a"}}},
        {"filter_equal_dict": {"tags": {"tag": "\\' OR 1=1 --"}}},
        {"filter_equal_dict": {"tags": {"tag": "t1\x00' OR 1=1"}}},
        {"filter_regex_dict": {"tags": {"tag": "t\x00"}}},
    ],
)
def test_evil_values_match_nothing(ww: WriteWorld, filters: dict[str, Any]) -> None:
    """Quotes and SQL in values are data: they match no row and break nothing; NUL, which
    PostgreSQL text cannot hold, is refused alike on both backends."""
    before = ww.visible_ids()
    body = {"table": "tags", "timestamp": utc_now().isoformat(), **filters}
    got = ww.call("POST", ww.mat("/query"), "alice", json=body, params={"return_pyarrow": "False"})
    if "\\u0000" in json.dumps(filters):
        assert got.status_code == 400, got.text[:300]
        assert "NUL" in got.json()["message"]
        assert ww.visible_ids() == before
        return
    assert got.status_code == 200, got.text[:300]
    assert ww.visible_ids() == before
    frame = ww.client("alice").materialize.live_live_query("tags", utc_now(), **filters)
    assert len(frame) == 0


def test_a_plain_value_still_matches(ww: WriteWorld) -> None:
    frame = ww.client("alice").materialize.live_live_query(
        "tags", utc_now(), filter_equal_dict={"tags": {"tag": "t1"}}
    )
    assert frame["tag"].tolist() == ["t1"]


@pytest.mark.parametrize(
    "row",
    [
        {"pt": {"position": [1, 2, 3]}, "tag": "x", "id; DROP TABLE tags": 1},
        {"pt": {"position": ["1; DROP TABLE tags", 2, 3]}, "tag": "x"},
        {"pt": {"position": [1, 2, 3]}, "tag": {"$gt": ""}},
        {"pt": {"position": [1, 2, 3]}, "tag": "nul\x00byte"},
    ],
)
def test_evil_annotation_bodies(ww: WriteWorld, row: dict[str, Any]) -> None:
    before = ww.visible_ids()
    got = ww.call("POST", ww.ann("/tags/annotations"), "alice", json={"annotations": [row]})
    assert 400 <= got.status_code < 500, got.text[:300]
    assert ww.visible_ids() == before


def test_quotes_in_values_are_stored_as_written(ww: WriteWorld) -> None:
    """Values are data; history keys a client echoes back (``valid``, ``created``) are ignored,
    so a posted row cannot hide itself or claim another time."""
    value = 'it\'s "quoted"; DROP TABLE tags; --'
    row = {
        "pt": {"position": [950, 900, 9]},
        "tag": value,
        "valid": False,
        "created": "1990-01-01T00:00:00",
    }
    got = ww.call("POST", ww.ann("/tags/annotations"), "alice", json={"annotations": [row]})
    assert got.status_code == 200
    (new_id,) = got.json()
    back = ww.call("GET", ww.ann("/tags/annotations"), "alice", params={"annotation_ids": new_id})
    assert back.json()[0]["tag"] == value
    assert back.json()[0]["valid"] is True
    assert back.json()[0]["created"] > "2000"
    deleted = ww.call(
        "DELETE", ww.ann("/tags/annotations"), "alice", json={"annotation_ids": [new_id]}
    )
    assert deleted.status_code == 200


@pytest.mark.parametrize("bad", [2**63, 2**64, -1, 0, 1.5, "1", True, None])
def test_out_of_range_ids_are_4xx(ww: WriteWorld, bad: Any) -> None:
    before = ww.visible_ids()
    url = ww.ann("/tags/annotations")
    row = {"id": bad, "pt": {"position": [1, 2, 3]}, "tag": "x"}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("DELETE", {"json": {"annotation_ids": [bad]}}),
        ("PUT", {"json": {"annotations": [row]}}),
    ]
    if not isinstance(bad, str):  # "1" is a fine id in a query string
        calls.append(("GET", {"params": {"annotation_ids": str(bad)}}))
    for method, kw in calls:
        got = ww.call(method, url, "alice", **kw)
        assert 400 <= got.status_code < 500, (method, bad, got.status_code, got.text[:200])
    assert ww.visible_ids() == before


@pytest.mark.parametrize("bad", [2**63, 2**64, -1, 0, 1.5, "1", True])
def test_out_of_range_client_ids_name_the_field(ww: WriteWorld, bad: Any) -> None:
    """A posted row's own id is checked like every other id: a 400 naming the field, never
    Python's overflow message."""
    before = ww.visible_ids()
    row = {"id": bad, "pt": {"position": [1, 2, 3]}, "tag": "x"}
    got = ww.call("POST", ww.ann("/tags/annotations"), "alice", json={"annotations": [row]})
    assert got.status_code == 400, got.text[:200]
    assert "annotations[0].id" in got.json()["message"]
    assert "C long" not in got.json()["message"]
    assert ww.visible_ids() == before


def _deep(depth: int) -> bytes:
    row = '{"pt": {"position": [1, 2, 3]}, "tag": ' + "[" * depth + "]" * depth + "}"
    return ('{"annotations": [' + row + "]}").encode()


def test_deeply_nested_values_are_4xx(ww: WriteWorld) -> None:
    before = ww.visible_ids()
    headers = {"Content-Type": "application/json"}
    got = ww.call("POST", ww.ann("/tags/annotations"), "alice", data=_deep(900), headers=headers)
    assert 400 <= got.status_code < 500, got.text[:200]
    assert ww.visible_ids() == before


def test_json_nested_past_the_parser_is_4xx(ww: WriteWorld) -> None:
    headers = {"Content-Type": "application/json"}
    got = ww.call("POST", ww.ann("/tags/annotations"), "alice", data=_deep(5000), headers=headers)
    assert 400 <= got.status_code < 500
