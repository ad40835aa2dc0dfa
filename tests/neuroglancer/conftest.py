"""One served demo world per backend for the precomputed-annotation tests (built once per
session and only read)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ng_world import NgWorld, served_ng_world


@pytest.fixture(scope="session")
def ng_world(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[NgWorld]:
    template = request.getfixturevalue("pg_template") if backend == "postgres" else None
    with served_ng_world(backend, tmp_path_factory.mktemp(f"ng_{backend}"), template) as built:
        yield built
