"""The OpenAPI document of the full app (auth on, write side included): every route is
described, a method it does not list is a 405 with ``Allow``, the constraints it states are the
ones the server enforces, and schemathesis-generated requests from it, valid and invalid, with
no token and with an admin token (who reaches every endpoint), pass every schemathesis check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from write_world import AV, WriteWorld, served_write_world

from fixative.api.app import create_app
from fixative.demo import datastack
from fixative.testing.openapi import (
    fuzz,
    no_5xx_or_redirect,
    undocumented_routes,
    unlisted_methods_refused,
)


@pytest.fixture(scope="module")
def ww(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[WriteWorld]:
    template = request.getfixturevalue("pg_template") if backend == "postgres" else None
    with served_write_world(backend, tmp_path_factory.mktemp("spec"), template) as world:
        started = world.call(
            "POST", world.flow(f"/datastack/{world.datastack}/workflow/create_version"), "ada"
        )
        assert started.status_code == 202
        world.settle()
        yield world
        world.settle()


def test_every_write_route_is_documented(ww: WriteWorld) -> None:
    app = create_app(services=ww.services)
    document = requests.get(ww.url + "/api/openapi.json", timeout=30).json()
    assert undocumented_routes(app, document) == []
    assert any(p.startswith("/annotation/api/v2/") for p in document["paths"])
    assert any(p.endswith("/merge") for p in document["paths"])


def _aim(case: schemathesis.Case, ww: WriteWorld) -> dict[str, object]:
    """Point generated requests at things that exist, so they get past the 404s (but a
    table deletion at one that does not: the rest of the run needs ``synapses``)."""
    deletes_table = case.method.upper() == "DELETE" and case.path.endswith("/{table}")
    return {
        "datastack": ww.datastack,
        "aligned_volume": AV,
        "version": 1,
        "table": "never_created" if deletes_table else "synapses",
        "table_id": datastack.PCG_TABLE,
        "name": "synapse" if "/schema/" in case.path else ww.datastack,
    }


def _refused_without_a_token(case: schemathesis.Case, response: requests.Response) -> str | None:
    """With no token only 401 (or a path that does not exist) may refuse a request."""
    code = response.status_code
    if code not in (401, 404, 405) and code >= 400:
        return f"{case.method} {case.formatted_path}: {code} without a token"
    return None


def test_unlisted_methods_are_405_with_allow(ww: WriteWorld) -> None:
    fixed = {"datastack": ww.datastack, "aligned_volume": AV, "version": 1, "table": "synapses"}
    headers = {"Authorization": f"Bearer {ww.tokens['ada']}"}
    app = create_app(services=ww.services)
    fixed = {**fixed, "table_id": datastack.PCG_TABLE}
    got = unlisted_methods_refused(ww.url, app, fixed, headers)
    assert got == []


def _schema(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    operation = document["paths"][path][method]
    (found,) = (p for p in operation["parameters"] if p["name"] == name)
    return dict(found["schema"])


def test_stated_constraints_are_enforced(ww: WriteWorld) -> None:
    """Findings of schemathesis (issue 11), each a bound the document states and the server
    keeps: both sides of it."""
    document = requests.get(ww.url + "/api/openapi.json", timeout=30).json()
    runs = ww.flow("/runs")
    limit = _schema(document, "/fixative/api/v1/runs", "get", "limit")
    assert ww.call("GET", runs, "ada", params={"limit": limit["maximum"]}).status_code == 200
    assert ww.call("GET", runs, "ada", params={"limit": limit["maximum"] + 1}).status_code == 400
    versions = ww.mat("/versions")
    flag = _schema(
        document, "/materialize/api/v3" + "/datastack/{datastack}/versions", "get", "expired"
    )
    assert "yes" not in flag["enum"]
    assert "0" in flag["enum"]
    assert ww.call("GET", versions, "ada", params={"expired": "yes"}).status_code == 400
    assert ww.call("GET", versions, "ada", params={"expired": "0"}).status_code == 200
    bodies = document["components"]["schemas"]
    assert bodies["rows"]["properties"]["annotations"]["minItems"] == 1
    empty = ww.call("POST", ww.ann("/synapses/annotations"), "ada", json={"annotations": []})
    assert empty.status_code == 400
    assert bodies["annotation_ids"]["properties"]["annotation_ids"]["minItems"] == 1
    gone = ww.call("DELETE", ww.ann("/synapses/annotations"), "ada", json={"annotation_ids": []})
    assert gone.status_code == 400
    delta = ww.seg("/delta_roots")
    assert ww.call("GET", delta, "ada", params={"timestamp_past": ""}).status_code == 400
    past = _schema(
        document, "/segmentation/api/v1/table/{table_id}/delta_roots", "get", "timestamp_past"
    )
    assert "maxLength" not in str(past)  # empty is not an instant here


def test_json_whole_floats_are_integers(ww: WriteWorld) -> None:
    """JSON Schema's integers include 431.0, so the server takes it where it takes 431."""
    got = ww.call("POST", ww.seg("/roots"), "ada", json={"node_ids": [0.0]})
    assert got.status_code == 200, got.text
    version = ww.mat("/version/1/table/synapses/query")
    got = ww.call("POST", version, "ada", json={"limit": 2.0}, params={"return_pyarrow": "false"})
    assert got.status_code == 200, got.text


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(("who", "examples"), [(None, 2), ("ada", 5)])
def test_generated_requests_pass_every_check(
    ww: WriteWorld, who: str | None, examples: int
) -> None:
    """``examples`` positive and as many negative per operation (~75 operations): with no
    token every one must be a 401 (or a 404/405 for a path that does not exist)."""
    headers = {"Authorization": f"Bearer {ww.tokens[who]}"} if who else {}
    checks = (no_5xx_or_redirect, *((_refused_without_a_token,) if who is None else ()))
    failures = fuzz(
        ww.url, lambda case: _aim(case, ww), headers=headers, max_examples=examples, checks=checks
    )
    assert failures == []
