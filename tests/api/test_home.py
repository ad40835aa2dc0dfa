"""``GET /``: the service, its version, the datastacks the caller may view and links, as JSON or
(for a browser) HTML; documented in the OpenAPI document, and answered without a token when auth
is on, listing datastacks only to a token that may view them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from write_world import WriteWorld, shared_world

from fixative import __version__
from fixative.api.app import create_app
from fixative.api.services import HttpServices
from fixative.config import DatastackSettings, Settings
from fixative.store import Store
from fixative.testing.server import serve

LINKS = {"/api/docs", "/api/openapi.json", "/health"}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
def ww(request: pytest.FixtureRequest, backend: str) -> WriteWorld:
    return shared_world(request, backend)


def _home(url: str, **headers: str) -> requests.Response:
    answer = requests.get(url + "/", headers=headers, timeout=30, allow_redirects=False)
    assert answer.status_code == 200, answer.text
    return answer


def _links_work(url: str, about: dict[str, Any]) -> None:
    assert set(about["links"].values()) >= LINKS
    for href in LINKS:
        assert requests.get(url + href, timeout=30).status_code == 200, href


@pytest.fixture
def open_server(store: Store) -> Iterator[str]:
    """The full app without auth over an empty live store, two datastacks configured."""
    settings = Settings(
        datastacks=(
            DatastackSettings(name="minnie", aligned_volume="minnie_av"),
            DatastackSettings(name="fly", aligned_volume="fly_av"),
        )
    )
    services = HttpServices(settings, store)
    with serve(create_app(services=services)) as url:
        yield url


def test_home_as_json_and_html(open_server: str) -> None:
    about = _home(open_server).json()
    assert about["service"] == "Fixative"
    assert about["version"] == __version__
    assert about["datastacks"] == ["minnie", "fly"]
    _links_work(open_server, about)
    page = _home(open_server, Accept=BROWSER)
    assert page.headers["Content-Type"].startswith("text/html")
    assert f"Fixative {__version__}" in page.text
    assert "<li>minnie</li>" in page.text
    assert "<li>fly</li>" in page.text
    assert all(f'href="{href}"' in page.text for href in LINKS)
    assert (
        _home(open_server, Accept="application/json")
        .headers["Content-Type"]
        .startswith("application/json")
    )


def test_home_is_documented(open_server: str) -> None:
    document = requests.get(open_server + "/api/openapi.json", timeout=30).json()
    described = document["paths"]["/"]["get"]["responses"]["200"]["content"]
    assert set(described) == {"application/json", "text/html"}


def test_home_needs_no_token_but_lists_only_viewable_datastacks(ww: WriteWorld) -> None:
    anonymous = _home(ww.url).json()
    assert anonymous["datastacks"] is None
    assert "token" in anonymous["note"]
    _links_work(ww.url, anonymous)
    assert "Datastacks" in _home(ww.url, Accept=BROWSER).text
    bad = _home(ww.url, Authorization="Bearer not-a-token").json()
    assert bad["datastacks"] is None
    viewer = ww.call("GET", ww.url + "/", "vera").json()
    assert viewer["datastacks"] == [ww.datastack]
    elsewhere = ww.call("GET", ww.url + "/", "other").json()  # admin of another datastack
    assert elsewhere["datastacks"] == []
    assert requests.get(ww.url + "/info/api/v2/datastacks", timeout=30).status_code == 401
