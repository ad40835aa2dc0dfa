"""The live database lost under a running server: requests get a JSON 503 with Retry-After,
never a 500; a 405 names the allowed methods."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fixative.api.app import create_app
from fixative.api.services import build_services
from fixative.config import DatastackSettings, Settings
from fixative.store import Store
from fixative.testing.databases import drop_pg_database
from fixative.testing.server import serve

VERSIONS = "/materialize/api/v3/datastack/lab/versions"


@pytest.fixture
def served(store: Store, store_url: str, tmp_path: Path) -> Iterator[str]:
    """A server on a live database of its own; yields its URL."""
    settings = Settings(
        home=tmp_path,
        database_url=store_url,
        datastacks=(DatastackSettings(name="lab", aligned_volume="lab_av"),),
    )
    services = build_services(settings, store)
    try:
        with serve(create_app(services=services)) as base:
            yield base
    finally:
        services.close()


def test_a_lost_database_is_a_503_with_retry_after(
    served: str, store_url: str, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("a SQLite file cannot be taken away from an open connection")
    assert requests.get(served + VERSIONS, timeout=30).json() == []
    drop_pg_database(store_url.rsplit("/", 1)[-1])  # ends the server's connections too
    for _ in range(3):
        response = requests.get(served + VERSIONS, timeout=30)
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"].isdigit()
        assert response.json()["error"] == "Transient"
        assert "database unavailable" in response.json()["message"]
    assert requests.get(served + "/health/ready", timeout=30).status_code == 503


def test_method_not_allowed_names_the_allowed_methods(served: str) -> None:
    response = requests.delete(served + VERSIONS, timeout=30)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"].split(", ")
    assert "DELETE" not in response.headers["Allow"]
    assert response.json()["error"] == "MethodNotAllowed"
