"""Shared fixtures. ``--db=sqlite,postgres`` (the default: both) decides which backends the
``store`` fixture, and everything built on it, runs on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fixative.store import Store, open_store
from fixative.testing.clock import TickingClock
from fixative.testing.databases import create_pg_template, drop_pg_database, pg_database, sqlite_url

BACKENDS = ("sqlite", "postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default="sqlite,postgres",
        help="comma-separated backends for the store fixture: sqlite, postgres",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = [b.strip() for b in metafunc.config.getoption("--db").split(",") if b.strip()]
        unknown = set(chosen) - set(BACKENDS)
        if unknown:
            raise pytest.UsageError(f"--db: unknown backend(s) {', '.join(sorted(unknown))}")
        metafunc.parametrize("backend", chosen, scope="session")


@pytest.fixture(scope="session")
def pg_template(request: pytest.FixtureRequest) -> Iterator[str]:
    name = create_pg_template()
    yield name
    drop_pg_database(name)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "sqlite":
        yield sqlite_url(tmp_path)
        return
    template = request.getfixturevalue("pg_template")
    with pg_database(template) as url:
        yield url


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def store(store_url: str, clock: TickingClock) -> Iterator[Store]:
    opened = open_store(store_url, clock)
    yield opened
    opened.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the session (Debian's, through Playwright's executable_path)."""
    from playwright.sync_api import sync_playwright

    from fixative.testing.browser import chromium_path, launch_args

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=launch_args()
        )
        yield launched
        launched.close()
