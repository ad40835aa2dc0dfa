"""What a user may not read is not shown: a viewer never sees the private table, on any page;
a wrong token is refused at the sign-in form; signing out forgets the token."""

from __future__ import annotations

from typing import Any

from dash_browser import sign_in
from dash_world import PRIVATE_TABLE, DashWorld

from fixative.runner.records import list_runs


def test_a_private_table_is_never_shown(context: Any, dash: DashWorld) -> None:
    page = sign_in(context, dash, "viewer")
    for path in ("/", "/plots", f"/neuron/{dash.root_id}", "/table/synapses"):
        page.goto(dash.page(path))
        page.locator("main").wait_for()
        assert PRIVATE_TABLE not in page.content(), path
    response = page.goto(dash.page(f"/table/{PRIVATE_TABLE}"))
    assert response.status == 403
    assert "hidden" not in page.locator("main").inner_text()


def test_the_owner_sees_their_private_table(context: Any, dash: DashWorld) -> None:
    page = sign_in(context, dash, "owner")
    page.goto(dash.page("/"))
    assert page.get_by_role("link", name=PRIVATE_TABLE).count() == 1
    response = page.goto(dash.page(f"/table/{PRIVATE_TABLE}"))
    assert response.status == 200
    assert "hidden" in page.locator("#preview").inner_text()


def test_a_wrong_token_is_refused(context: Any, dash: DashWorld) -> None:
    page = context.new_page()
    page.goto(dash.url + "/dashboard/")
    page.get_by_label("API token").fill("fxt_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="refused").wait_for()
    assert context.cookies() == []


def test_signing_out_forgets_the_token(context: Any, dash: DashWorld) -> None:
    page = sign_in(context, dash, "admin")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API token").wait_for()
    assert page.goto(dash.page("/")).status == 401


def test_another_site_cannot_use_the_signed_in_cookie(context: Any, dash: DashWorld) -> None:
    """The buttons' writes go to the API with the cookie; the API's cross-site refusal
    (``api/csrf.py``) turns away the same requests sent by another site's page."""
    page = sign_in(context, dash, "admin")
    runs_before = len(list_runs(dash.store, 500))
    start = f"{dash.url}/fixative/api/v1/datastack/{dash.datastack}/workflow/update_roots"
    json_from_elsewhere = page.request.post(
        start, data="{}", headers={"Content-Type": "application/json", "Origin": "http://x.test"}
    )
    assert json_from_elsewhere.status == 403
    plain_form = page.request.post(start, data="{}", headers={"Content-Type": "text/plain"})
    assert plain_form.status == 415
    sign_out = page.request.post(dash.url + "/dashboard/sign-out", headers={"Origin": "null"})
    assert sign_out.status == 403
    assert len(list_runs(dash.store, 500)) == runs_before
