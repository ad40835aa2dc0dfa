"""The browser the page tests use starts, renders a page served on loopback, and screenshots it."""

from __future__ import annotations

from typing import Any

from fixative.api.background import serve
from fixative.testing.browser import artifacts_dir


def _hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = (
        b"<!doctype html><title>probe</title><p id='x'>rendered</p>"
        b"<script>document.getElementById('x').dataset.js='yes'</script>"
    )
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]


def test_chromium_renders_a_loopback_page(browser: Any) -> None:
    with serve(_hello) as url:
        page = browser.new_page()
        try:
            page.goto(url + "/")
            assert page.title() == "probe"
            assert page.get_attribute("#x", "data-js") == "yes"
            shot = artifacts_dir("browser") / "probe.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 0
        finally:
            page.close()
