"""``fixative serve`` and auth: without auth it refuses any address but loopback (and says
so); with ``auth = "tokens"`` it serves any address and every request needs a token."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from fixative.auth.tokens import create_token
from fixative.store import open_store
from fixative.testing.server import wait_until_ready


def _env(home: Path, auth: str) -> dict[str, str]:
    env = {**os.environ, "FIXATIVE_HOME": str(home), "HOME": str(home), "FIXATIVE_AUTH": auth}
    env.pop("FIXATIVE_CONFIG", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::", "example.org"])
def test_refuses_other_addresses_without_auth(tmp_path: Path, host: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "fixative", "serve", "--host", host, "--port", "1"],
        cwd=tmp_path,
        env=_env(home, "none"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert f"refusing to serve {host} without auth" in done.stderr
    assert "fixative serving" not in done.stdout


def test_serves_any_address_with_tokens(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    open_store(f"sqlite:///{home / 'live.sqlite'}").dispose()  # `fixative init`: serve creates none
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "fixative", "serve", "--host", "0.0.0.0", "--port", str(port)],
        cwd=tmp_path,
        env=_env(home, "tokens"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("auth: tokens"), first
        assert f":{port}" in process.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, process)
        assert requests.get(url + "/fixative/api/v1/runs", timeout=30).status_code == 401
        store = open_store(f"sqlite:///{home / 'live.sqlite'}")
        try:
            _, secret = create_token(store, "ada", "demo", "admin")
        finally:
            store.dispose()
        auth = {"Authorization": f"Bearer {secret}"}
        got = requests.get(url + "/fixative/api/v1/runs", headers=auth, timeout=30)
        assert got.status_code == 200
        assert got.json() == []
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
