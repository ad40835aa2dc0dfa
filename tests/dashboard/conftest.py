"""Fixtures for the dashboard's browser tests: one served world per backend for the session
(``dash_world``), and a fresh browser context per test (no cookie carried between tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dash_world import DashWorld, served_dash_world


@pytest.fixture(scope="session")
def dash(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DashWorld]:
    template = request.getfixturevalue("pg_template") if backend == "postgres" else None
    with served_dash_world(backend, tmp_path_factory.mktemp(f"dash_{backend}"), template) as w:
        yield w


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    opened = browser.new_context(viewport={"width": 1280, "height": 900})
    opened.set_default_timeout(30_000)
    yield opened
    opened.close()
