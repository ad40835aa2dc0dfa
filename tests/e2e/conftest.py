"""Run the ``fixative`` command as a user would: a subprocess, no settings file from outside."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

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
