"""Real headless Chromium for browser tests: Debian's build, driven by Playwright.

Playwright's own browser download is not reachable from every machine, so tests launch the
system's ``chromium`` through ``executable_path`` (``make test`` installs it). Screenshots go to
the artifacts folder (``FIXATIVE_ARTIFACTS``, default ``.artifacts`` at the repository root) so a
CI run keeps them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str:
    """The system Chromium executable; raises with the install command when there is none."""
    configured = os.environ.get("FIXATIVE_CHROMIUM")
    if configured:
        return configured
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("no Chromium found: apt-get install -y chromium (make services does)")


def launch_args() -> list[str]:
    """Flags for a headless Chromium in a container or as root: no sandbox, no GPU."""
    return ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--use-gl=swiftshader"]


def artifacts_dir(*parts: str) -> Path:
    """A folder for test artifacts (screenshots), created on demand."""
    root = os.environ.get("FIXATIVE_ARTIFACTS")
    base = Path(root) if root else Path(__file__).resolve().parents[3] / ".artifacts"
    folder = base.joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
