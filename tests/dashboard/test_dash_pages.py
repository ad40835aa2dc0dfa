"""Sign in through the form and browse every page of the demo datastack in Chromium, on each
backend: what each page must show, a screenshot of each (``.artifacts/dashboard/{backend}/``),
and axe-core finding no missing label and no unreadable contrast."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from dash_browser import axe_violations, screenshot, sign_in
from dash_world import PRIVATE_TABLE, DashWorld


def _check(page: Any, backend: str, name: str) -> None:
    assert screenshot(page, backend, name).stat().st_size > 0
    assert axe_violations(page) == [], name


def test_sign_in_form_comes_first(context: Any, dash: DashWorld, backend: str) -> None:
    page = context.new_page()
    response = page.goto(dash.page("/"))
    assert response.status == 401
    assert page.get_by_label("API token").is_visible()
    assert "synapses" not in page.content()
    _check(page, backend, "sign-in")


def test_datastack_page(context: Any, dash: DashWorld, backend: str) -> None:
    page = sign_in(context, dash, "admin")
    _check(page, backend, "datastacks")
    page.get_by_role("link", name=dash.datastack, exact=True).first.click()
    page.get_by_role("heading", name="Tables").wait_for()
    tables = page.locator("#tables + table tbody tr")
    names = tables.locator("td:first-child").all_inner_texts()
    assert {"synapses", "cell_types", "nuclei", PRIVATE_TABLE} <= set(names)
    synapses = tables.filter(has_text="synapses").first.inner_text()
    assert "synapse" in synapses
    assert "PUBLIC" in synapses
    versions = page.locator("#versions + table tbody tr")
    assert versions.count() >= 3
    assert "AVAILABLE" in versions.first.inner_text()
    schedules = page.locator("#schedules + table tbody").inner_text()
    assert "materialize" in schedules
    assert "update_roots" in schedules
    _check(page, backend, "datastack")


def test_table_page_pages_and_filters(context: Any, dash: DashWorld, backend: str) -> None:
    page = sign_in(context, dash, "admin")
    page.goto(dash.page("/table/synapses"))
    rows = page.locator("#preview tbody tr")
    assert rows.count() == 25
    first_ids = rows.locator("td:first-child").all_inner_texts()
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url("**page=2**")
    assert page.locator("#preview tbody tr td:first-child").all_inner_texts() != first_ids
    page.get_by_label("Column").select_option("size")
    page.get_by_label("Filter", exact=True).select_option("greater")
    page.get_by_label("Value").fill("5")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**value=5**")
    header = page.locator("#preview thead th").all_inner_texts()
    sizes = page.locator(f"#preview tbody td:nth-child({header.index('size') + 1})")
    assert all(float(s) > 5 for s in sizes.all_inner_texts())
    snippet = page.locator("#snippet").inner_text()
    assert "query_table" in snippet
    assert "materialization_version=" in snippet
    assert "filter_greater_dict={'size': 5.0}" in snippet


def test_table_page_versions_and_links(context: Any, dash: DashWorld, backend: str) -> None:
    page = sign_in(context, dash, "admin")
    page.goto(dash.page("/table/synapses?column=size&op=greater&value=5"))
    header = page.locator("#preview thead th").all_inner_texts()
    sizes = page.locator(f"#preview tbody td:nth-child({header.index('size') + 1})")
    page.get_by_label("Version").select_option("live")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**version=live**")
    assert all(float(s) > 5 for s in sizes.all_inner_texts())
    assert "live_query" in page.locator("#snippet").inner_text()
    latest = page.get_by_label("Version").locator("option").first.inner_text()
    page.get_by_label("Version").select_option(latest)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"**version={latest}&**")
    viewer = unquote(page.locator("#ng-open").get_attribute("href"))
    assert f"/datastack/{dash.datastack}/version/" in viewer
    assert "/table/synapses/precomputed" in viewer
    state = json.loads(viewer.split("#!", 1)[1])
    assert state["layers"][1]["linkedSegmentationLayer"] == {
        "pre_pt_root_id": "segmentation",
        "post_pt_root_id": "segmentation",
    }
    for source in page.locator("main ul code").all_inner_texts():  # what Neuroglancer reads
        info = page.request.get(source.removeprefix("precomputed://") + "/info")
        assert info.status == 200, source
    _check(page, backend, "table")


def test_neuron_page(context: Any, dash: DashWorld, backend: str) -> None:
    page = sign_in(context, dash, "admin")
    page.goto(dash.page("/"))
    page.get_by_label("Open a neuron by root id").fill(str(dash.root_id))
    page.get_by_role("button", name="Open").click()
    page.get_by_role("heading", name="Synapse partners by cell type").wait_for()
    text = page.locator("main").inner_text()
    assert "Outputs" in text
    assert "Root ids across versions" in text
    assert page.locator("#changes tbody tr").count() >= 1
    assert "merge" in page.locator("#changes").inner_text()
    page.get_by_label("Group partners by").select_option("classification_system")
    page.get_by_role("button", name="Group").click()
    page.wait_for_url("**group_by=classification_system**")
    assert "classification_system" in page.locator("main table thead").first.inner_text()
    _check(page, backend, "neuron")


def test_plots_page_draws_every_chart(context: Any, dash: DashWorld, backend: str) -> None:
    page = sign_in(context, dash, "admin")
    page.goto(dash.page("/plots"))
    charts = page.locator("div.vega")
    assert charts.count() == 4  # rows per version, run durations, edits per day, synapses
    for i in range(charts.count()):
        charts.nth(i).and_(page.locator("[data-rendered=yes]")).wait_for()
        assert charts.nth(i).locator("svg").count() >= 1
    _check(page, backend, "plots")
