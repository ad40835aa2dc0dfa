"""Bad requests to the query endpoints: every one a JSON 4xx naming the problem; never a 5xx,
never a redirect."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from read_world import MAX_BODY, ReadWorld

V3 = "/materialize/api/v3/datastack/{ds}"
TABLE_QUERY = V3 + "/version/3/table/synapses/query"
JOIN_QUERY = V3 + "/version/3/query"
LIVE_QUERY = V3 + "/query"
LIVE = {"table": "synapses", "timestamp": "2026-01-01T00:00:00"}


def _post(world: ReadWorld, path: str, body: Any, raw: bytes | None = None) -> requests.Response:
    data = raw if raw is not None else json.dumps(body).encode()
    return requests.post(
        world.url + path.format(ds=world.datastack),
        data=data,
        headers={"Content-Type": "application/json"},
        timeout=60,
        allow_redirects=False,
    )


CASES: list[tuple[str, str, Any, int, str]] = [
    (
        "unknown datastack",
        "/materialize/api/v3/datastack/nope/version/3/table/synapses/query",
        {},
        404,
        "nope",
    ),
    ("unknown version", V3 + "/version/42/table/synapses/query", {}, 404, "42"),
    ("unknown table", V3 + "/version/3/table/nothere/query", {}, 404, "nothere"),
    (
        "unknown column",
        TABLE_QUERY,
        {"filter_equal_dict": {"synapses": {"colour": 1}}},
        400,
        "colour",
    ),
    ("unknown select column", TABLE_QUERY, {"select_columns": ["id", "hue"]}, 400, "hue"),
    (
        "filter on a table not queried",
        TABLE_QUERY,
        {"filter_equal_dict": {"nuclei": {"id": 1}}},
        400,
        "nuclei",
    ),
    ("unknown body key", TABLE_QUERY, {"filter_everything": {}}, 400, "filter_everything"),
    ("body not an object", TABLE_QUERY, [1, 2], 400, "object"),
    ("limit a string", TABLE_QUERY, {"limit": "ten"}, 400, "limit"),
    ("negative limit", TABLE_QUERY, {"limit": -5}, 400, "limit"),
    ("zero limit", TABLE_QUERY, {"limit": 0}, 400, "limit"),
    ("negative offset", TABLE_QUERY, {"offset": -1}, 400, "offset"),
    (
        "filter not nested",
        TABLE_QUERY,
        {"filter_in_dict": {"synapses": [1]}},
        400,
        "filter_in_dict",
    ),
    (
        "in-filter not a list",
        TABLE_QUERY,
        {"filter_in_dict": {"synapses": {"id": 3}}},
        400,
        "filter_in_dict",
    ),
    (
        "bad box",
        TABLE_QUERY,
        {"filter_spatial_dict": {"synapses": {"pre_pt_position": [[0, 0], [1, 1, 1]]}}},
        400,
        "filter_spatial_dict",
    ),
    ("bad resolution", TABLE_QUERY, {"desired_resolution": [4, 4]}, 400, "desired_resolution"),
    (
        "negative resolution",
        TABLE_QUERY,
        {"desired_resolution": [4, -4, 40]},
        400,
        "desired_resolution",
    ),
    (
        "wrong value type",
        TABLE_QUERY,
        {"filter_equal_dict": {"synapses": {"pre_pt_root_id": "abc"}}},
        400,
        "pre_pt_root_id",
    ),
    (
        "id beyond 64 bits",
        TABLE_QUERY,
        {"filter_in_dict": {"synapses": {"pre_pt_root_id": [2**70]}}},
        400,
        "pre_pt_root_id",
    ),
    ("offset beyond range", TABLE_QUERY, {"offset": 2**70}, 400, "offset"),
    (
        "regex on a number",
        TABLE_QUERY,
        {"filter_regex_dict": {"synapses": {"size": "^1"}}},
        400,
        "size",
    ),
    ("join without tables", JOIN_QUERY, {}, 400, "tables"),
    ("join entry wrong length", JOIN_QUERY, {"tables": [["synapses"]]}, 400, "tables"),
    (
        "join unknown column",
        JOIN_QUERY,
        {"tables": [["synapses", "pre_pt_root_id"], ["cell_types", "nope_id"]]},
        400,
        "nope_id",
    ),
    (
        "join unknown table",
        JOIN_QUERY,
        {"tables": [["synapses", "pre_pt_root_id"], ["ghosts", "pt_root_id"]]},
        404,
        "ghosts",
    ),
    ("live without timestamp", LIVE_QUERY, {"table": "synapses"}, 400, "timestamp"),
    ("live bad timestamp", LIVE_QUERY, {**LIVE, "timestamp": "yesterday"}, 400, "yesterday"),
    ("live timestamp a number", LIVE_QUERY, {**LIVE, "timestamp": 12}, 400, "timestamp"),
    (
        "live select not by table",
        LIVE_QUERY,
        {**LIVE, "select_columns": ["id"]},
        400,
        "select_columns",
    ),
    (
        "live future timestamp",
        LIVE_QUERY,
        {**LIVE, "timestamp": "2999-01-01T00:00:00"},
        400,
        "future",
    ),
    ("live unknown table", LIVE_QUERY, {**LIVE, "table": "ghosts"}, 404, "ghosts"),
    ("live unknown key", LIVE_QUERY, {**LIVE, "tables": []}, 400, "tables"),
    ("live empty body", LIVE_QUERY, None, 400, "body"),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_query(world: ReadWorld, path: str, body: Any, status: int, needle: str) -> None:
    raw = b"" if body is None else None
    response = _post(world, path, body, raw)
    assert response.status_code == status, response.text
    got = response.json()
    assert set(got) == {"error", "message"}
    assert needle in got["message"]


def test_malformed_json(world: ReadWorld) -> None:
    response = _post(world, TABLE_QUERY, None, raw=b'{"limit": 3,')
    assert response.status_code == 400
    assert "JSON" in response.json()["message"]


def test_huge_body(world: ReadWorld) -> None:
    blob = json.dumps({"filter_in_dict": {"synapses": {"id": list(range(MAX_BODY // 4))}}})
    response = _post(world, TABLE_QUERY, None, raw=blob.encode())
    assert response.status_code == 413
    assert response.json()["error"] == "RequestEntityTooLarge"


def test_bad_query_parameters(world: ReadWorld) -> None:
    for query in ("return_pyarrow=perhaps", "random_sample=-3", "random_sample=x", "count=2x"):
        response = _post(world, TABLE_QUERY + "?" + query, {})
        assert response.status_code == 400, query
        assert query.split("=")[0] in response.json()["message"]


def test_expired_version_is_refused(world: ReadWorld) -> None:
    response = _post(world, V3 + "/version/1/table/synapses/query", {})
    assert 400 <= response.status_code < 500
    assert "1" in response.json()["message"]


def test_unknown_view(world: ReadWorld) -> None:
    response = _post(world, V3 + "/version/3/views/myview/query", {})
    assert response.status_code == 404
    assert "myview" in response.json()["message"]


@pytest.mark.parametrize("version", [2**31, 2**31 - 1, -(2**31) - 1, -(2**63), 2**63 - 1])
def test_version_numbers_outside_the_column_are_404(world: ReadWorld, version: int) -> None:
    """The version column is 32-bit: larger numbers name no version (PostgreSQL answered 500)."""
    base = world.url + V3.format(ds=world.datastack) + f"/version/{version}"
    for path in ("", "/tables", "/tables/metadata", "/table/synapses/metadata"):
        response = requests.get(base + path, timeout=30, allow_redirects=False)
        assert response.status_code == 404, (path, response.text)
        assert str(version) in response.json()["message"]
    response = _post(world, V3 + f"/version/{version}/table/synapses/query", {})
    assert response.status_code == 404
    assert str(version) in response.json()["message"]
