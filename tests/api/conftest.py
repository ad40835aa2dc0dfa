"""Fixtures for the read-side API tests: one served world per backend, built once for the
session (~4 s on SQLite, ~6 s on PostgreSQL) and only read by the tests, and HOME pointed at a
temporary directory so caveclient writes nothing outside it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from read_world import ReadWorld, served_world


@pytest.fixture(scope="session")
def world(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ReadWorld]:
    template = request.getfixturevalue("pg_template") if backend == "postgres" else None
    home = tmp_path_factory.mktemp(f"world_{backend}")
    with served_world(backend, home, template) as built:
        yield built


@pytest.fixture(autouse=True, scope="module")
def _home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    mp.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    yield
    mp.undo()
