"""Serve a WSGI app on a free loopback port in a background thread (real HTTP for tests)."""

from __future__ import annotations

import subprocess
import time

import requests

from fixative.api.background import serve

__all__ = ["serve"]


def wait_until_ready(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    """Poll ``url/health/ready`` until it answers 200; fail with the server's stderr if the
    process exits first, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url + "/health/ready", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        if process.poll() is not None:
            raise AssertionError(process.stderr.read() if process.stderr else "server exited")
        if time.monotonic() > deadline:
            raise AssertionError("the server did not become ready")
        time.sleep(0.2)
