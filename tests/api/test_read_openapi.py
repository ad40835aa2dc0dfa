"""The OpenAPI document: every route of the app is described, the docs page links it, a method
it does not list is a 405 with ``Allow``, and schemathesis-generated requests from it, valid
and invalid, pass every schemathesis check (the server takes what the document allows and
refuses what it forbids, with documented statuses, headers and bodies)."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from read_world import ReadWorld

from fixative.api.app import create_app
from fixative.demo import datastack
from fixative.testing.openapi import fuzz, undocumented_routes, unlisted_methods_refused


def test_every_route_is_documented(world: ReadWorld) -> None:
    assert world.services is not None
    app = create_app(services=world.services)
    document = requests.get(world.url + "/api/openapi.json", timeout=30).json()
    assert document["openapi"].startswith("3.1")
    assert undocumented_routes(app, document) == []


def test_docs_page(world: ReadWorld) -> None:
    page = requests.get(world.url + "/api/docs", timeout=30)
    assert page.status_code == 200
    assert "/api/openapi.json" in page.text


def _aim(case: schemathesis.Case, world: ReadWorld) -> dict[str, object]:
    """Point generated requests at things that exist, so bodies and parameters reach the
    query engine and the chunkedgraph instead of stopping at a 404."""
    return {
        "datastack": world.datastack,
        "version": 3,
        "table": "synapses",
        "table_id": datastack.PCG_TABLE,
        "name": "synapse" if "/schema/" in case.path else world.datastack,
    }


def test_unlisted_methods_are_405_with_allow(world: ReadWorld) -> None:
    assert world.services is not None
    app = create_app(services=world.services)
    fixed = {"datastack": world.datastack, "version": 3, "table": "synapses"}
    got = unlisted_methods_refused(world.url, app, {**fixed, "table_id": datastack.PCG_TABLE})
    assert got == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_generated_requests_pass_every_check(world: ReadWorld) -> None:
    """6 positive and 6 negative examples per operation (~60 operations)."""
    assert fuzz(world.url, lambda case: _aim(case, world), max_examples=6) == []
