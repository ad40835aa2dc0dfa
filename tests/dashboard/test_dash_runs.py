"""The runs page in Chromium: an admin starts the complete workflow and its progress reaches
100% without a reload; a failed run shows its error and traceback; a viewer sees neither runs
nor buttons."""

from __future__ import annotations

from typing import Any

from dash_browser import axe_violations, screenshot, sign_in
from dash_world import RUN_TIMEOUT_S, DashWorld


def test_admin_starts_a_run_and_watches_it_finish(
    context: Any, dash: DashWorld, backend: str
) -> None:
    page = sign_in(context, dash, "admin")
    page.goto(dash.page("/runs"))
    page.evaluate("window.notReloaded = true")
    before = set(page.locator("#runs tbody tr").evaluate_all("rs => rs.map(r => r.dataset.run)"))
    page.get_by_role("button", name="Complete workflow").click()
    page.get_by_role("status").filter(has_text="Started run").wait_for()
    run_id = page.get_by_role("status").inner_text().split()[2]
    assert run_id not in before
    # the row is redrawn from runs.json while the run goes; 100% may show a moment before
    # the run is recorded SUCCEEDED (every chunk done, the run finishing)
    row = page.locator(f'#runs tbody tr[data-run="{run_id}"]')
    row.locator(".pct", has_text="100%").wait_for(timeout=RUN_TIMEOUT_S * 1000)
    done = page.locator(f'#runs tbody tr[data-run="{run_id}"][data-status="SUCCEEDED"]')
    done.wait_for(timeout=RUN_TIMEOUT_S * 1000)
    assert done.locator(".pct").inner_text() == "100%"
    assert "materialize" in done.inner_text()
    assert page.evaluate("window.notReloaded") is True  # the page followed it in place
    assert screenshot(page, backend, "runs").stat().st_size > 0
    assert axe_violations(page) == []


def test_a_failed_run_shows_its_traceback(context: Any, dash: DashWorld, backend: str) -> None:
    page = sign_in(context, dash, "admin")
    page.goto(dash.page("/runs"))
    page.get_by_role("link", name=str(dash.failed_run), exact=True).click()
    page.get_by_role("heading", name="Error").wait_for()
    assert "no_such_table" in page.locator("#run-error").inner_text()
    traceback = page.locator("#traceback pre").inner_text()
    assert traceback.startswith("Traceback")
    assert "InvalidInput" in traceback
    assert page.locator("#run-status").inner_text() == "FAILED"
    assert screenshot(page, backend, "run-failed").stat().st_size > 0
    assert axe_violations(page) == []


def test_a_viewer_sees_no_admin_buttons(context: Any, dash: DashWorld) -> None:
    page = sign_in(context, dash, "viewer")
    page.goto(dash.page("/runs"))
    page.get_by_role("heading", name="Workflow runs").wait_for()
    assert page.get_by_role("button", name="Complete workflow").count() == 0
    assert page.locator("button.start").count() == 0
    assert page.locator("#runs").count() == 0
    response = page.goto(dash.page(f"/runs/{dash.failed_run}"))
    assert response.status == 403
    assert "Traceback" not in page.content()
