"""The OpenAPI document of the full app (auth on, write side included): every route is
described, and schemathesis-generated requests from it, with no token and with an admin token
(who reaches every endpoint), never get a 5xx or a redirect."""

from __future__ import annotations

import re
from collections.abc import Iterator

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from write_world import AV, WriteWorld, served_write_world

from fixative.api.app import create_app
from fixative.demo import datastack


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
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method.lower() not in document["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []
    assert any(p.startswith("/annotation/api/v2/") for p in document["paths"])
    assert any(p.endswith("/merge") for p in document["paths"])


def _aim(case: schemathesis.Case, ww: WriteWorld) -> None:
    """Point generated requests at things that exist, so they get past the 404s."""
    params = case.path_parameters or {}
    fixed = {
        "datastack": ww.datastack,
        "aligned_volume": AV,
        "version": 1,
        "table": "synapses",
        "table_id": datastack.PCG_TABLE,
        "name": "synapse" if "/schema/" in case.path else ww.datastack,
    }
    for key, value in fixed.items():
        if key in params:
            params[key] = value


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("who", [None, "ada"])
def test_generated_requests_never_fail_the_server(ww: WriteWorld, who: str | None) -> None:
    schema = schemathesis.openapi.from_url(ww.url + "/api/openapi.json")
    headers = {"Authorization": f"Bearer {ww.tokens[who]}"} if who else {}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=5,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        def run(case: schemathesis.Case) -> None:
            _aim(case, ww)
            response = case.call(
                base_url=ww.url, headers=headers, allow_redirects=False, timeout=60
            )
            code = response.status_code
            if code >= 500 or 300 <= code < 400:
                failures.append(f"{case.method} {case.formatted_path}: {code} {response.text}")
            if who is None and code not in (401, 404, 405) and code >= 400:
                failures.append(f"{case.method} {case.formatted_path}: {code} without a token")

        run()
    assert failures == []
