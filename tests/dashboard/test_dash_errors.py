"""What the dashboard answers when something is wrong: an HTML page naming the problem with
the API's status code (never the API's JSON, never a 500), and, on a server without auth, every
page open to the local user with no sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dash_browser import sign_in
from dash_world import DashWorld

from fixative.api.app import create_app
from fixative.api.services import build_services
from fixative.testing.server import serve


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/table/no_such_table", 404, "no_such_table"),
        ("/table/synapses?column=size&op=greater&value=big", 400, "size needs a float"),
        ("/table/synapses?column=nope&value=1", 400, "no column"),
        ("/table/synapses?page=0", 400, "page must be"),
        ("/neuron?root_id=abc", 400, "not a uint64"),
        ("/runs/999999", 404, "999999"),
    ],
)
def test_a_bad_request_is_an_html_page(
    context: Any, dash: DashWorld, path: str, status: int, says: str
) -> None:
    page = sign_in(context, dash, "admin")
    response = page.goto(dash.page(path))
    assert response.status == status
    assert response.headers["content-type"].startswith("text/html")
    assert says in page.locator("main .error").inner_text()


def test_an_unknown_datastack_is_refused(context: Any, dash: DashWorld) -> None:
    page = sign_in(context, dash, "admin")
    response = page.goto(dash.url + "/dashboard/datastack/elsewhere/")
    assert response.status == 403  # the token holds no level on it (the API's answer)
    assert "elsewhere" in page.locator("main").inner_text()


@pytest.fixture
def open_url(dash: DashWorld) -> Iterator[str]:
    """The same world served without auth (the loopback default)."""
    settings = dash.services.settings.model_copy(update={"auth": "none"})
    services = build_services(settings, dash.store)
    try:
        with serve(create_app(services=services)) as url:
            yield url
    finally:
        services.close()


def test_without_auth_every_page_is_open(context: Any, dash: DashWorld, open_url: str) -> None:
    page = context.new_page()
    assert page.goto(f"{open_url}/dashboard/datastack/{dash.datastack}/").status == 200
    assert "signed in as local" in page.locator("header").inner_text()
    assert page.get_by_role("button", name="Sign out").count() == 0
    page.goto(f"{open_url}/dashboard/sign-in")
    assert "without authentication" in page.locator("main").inner_text()
