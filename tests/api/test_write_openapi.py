"""The OpenAPI document of the full app (auth on, write side included): every route is
described, and schemathesis-generated requests from it, with no token and with an admin token
(who reaches every endpoint), never get a 5xx or a redirect."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from write_world import AV, WriteWorld, served_write_world

from fixative.api.app import create_app
from fixative.demo import datastack
from fixative.testing.openapi import fuzz, no_5xx_or_redirect, undocumented_routes


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
    """Point generated requests at things that exist, so they get past the 404s."""
    return {
        "datastack": ww.datastack,
        "aligned_volume": AV,
        "version": 1,
        "table": "synapses",
        "table_id": datastack.PCG_TABLE,
        "name": "synapse" if "/schema/" in case.path else ww.datastack,
    }


def _refused_without_a_token(case: schemathesis.Case, response: requests.Response) -> str | None:
    """With no token only 401 (or a path that does not exist) may refuse a request."""
    code = response.status_code
    if code not in (401, 404, 405) and code >= 400:
        return f"{case.method} {case.formatted_path}: {code} without a token"
    return None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("who", [None, "ada"])
def test_generated_requests_never_fail_the_server(ww: WriteWorld, who: str | None) -> None:
    headers = {"Authorization": f"Bearer {ww.tokens[who]}"} if who else {}
    checks = (no_5xx_or_redirect, *((_refused_without_a_token,) if who is None else ()))
    failures = fuzz(
        ww.url, lambda case: _aim(case, ww), headers=headers, max_examples=5, checks=checks
    )
    assert failures == []
