"""Fixtures for the export tests: one small demo world with a version per backend, built once
for the session and only read (exports write under each test's own directory)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from export_world import ExportWorld, export_world


@pytest.fixture(scope="session")
def world(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ExportWorld]:
    template = request.getfixturevalue("pg_template") if backend == "postgres" else None
    with export_world(backend, tmp_path_factory.mktemp(f"export_{backend}"), template) as built:
        yield built
