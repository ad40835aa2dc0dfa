"""The OpenAPI document: every route of the app is described, the docs page links it, and
schemathesis-generated requests from it never get a 5xx (nor a redirect)."""

from __future__ import annotations

import re

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from read_world import ReadWorld

from fixative.api.app import create_app
from fixative.demo import datastack


def test_every_route_is_documented(world: ReadWorld) -> None:
    assert world.services is not None
    app = create_app(services=world.services)
    document = requests.get(world.url + "/api/openapi.json", timeout=30).json()
    assert document["openapi"].startswith("3.1")
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method.lower() not in document["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []


def test_docs_page(world: ReadWorld) -> None:
    page = requests.get(world.url + "/api/docs", timeout=30)
    assert page.status_code == 200
    assert "/api/openapi.json" in page.text


def _aim(case: schemathesis.Case, world: ReadWorld) -> None:
    """Point generated requests at things that exist, so bodies and parameters reach the
    query engine and the chunkedgraph instead of stopping at a 404."""
    params = case.path_parameters or {}
    fixed = {
        "datastack": world.datastack,
        "version": 3,
        "table": "synapses",
        "table_id": datastack.PCG_TABLE,
        "name": "synapse" if "/schema/" in case.path else world.datastack,
    }
    for key, value in fixed.items():
        if key in params:
            params[key] = value


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_generated_requests_never_fail_the_server(world: ReadWorld) -> None:
    schema = schemathesis.openapi.from_url(world.url + "/api/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        def run(case: schemathesis.Case) -> None:
            _aim(case, world)
            response = case.call(base_url=world.url, allow_redirects=False, timeout=60)
            if response.status_code >= 500 or 300 <= response.status_code < 400:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        run()
    assert failures == []
