"""Run the ``fixative`` command as a user would: a subprocess, no settings file from outside."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fixative.store import open_store
from fixative.testing.databases import drop_pg_database
from fixative.versions import list_versions

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli() -> Cli:
    def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **env}
        full_env.pop("FIXATIVE_CONFIG", None)
        full_env.pop("FIXATIVE_CELEGANS_DIR", None)  # the packaged copy, as a user has it
        return subprocess.run(
            [sys.executable, "-m", "fixative", *args],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    return run


@pytest.fixture
def stack(store_url: str) -> Iterator[str]:
    """A datastack name of the test's own (PostgreSQL version databases are server-wide); its
    version databases are dropped afterwards."""
    name = f"st_{uuid.uuid4().hex[:10]}"
    yield name
    if store_url.startswith("postgresql"):
        store = open_store(store_url)
        try:
            for v in list_versions(store, name, include_expired=True):
                if v.copied:  # a version kept in the root-id history has no database
                    drop_pg_database(v.database)
        finally:
            store.dispose()
