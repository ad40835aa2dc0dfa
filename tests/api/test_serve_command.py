"""``fixative serve`` as a user runs it: the demo datastack built and materialized by the CLI,
then served by one werkzeug process or by gunicorn workers, and read with the real
caveclient."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from caveclient import CAVEclient

from fixative.store import open_store
from fixative.testing.server import wait_until_ready

SYNAPSES = 300


def _run(home: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fixative", *args],
        cwd=home.parent,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "FIXATIVE_HOME": str(home), "HOME": str(home)}
    env.pop("FIXATIVE_CONFIG", None)
    return env


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serve") / "home"
    _run(path, "demo-data", "--synapses", str(SYNAPSES), "--max-merges", "10")
    _run(path, "materialize", "demo")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(home: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    workers = request.param
    port = _free_port()
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(
        [sys.executable, "-m", "fixative", *args],
        cwd=home.parent,
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = f"http://127.0.0.1:{port}"
        said = [process.stdout.readline() for _ in range(3)]  # auth mode, URL, docs URL
        assert said[0].startswith("auth: none (bound to the loopback address only")
        assert url in said[1]
        assert said[2].startswith(f"API docs: {url}/api/docs ")
        wait_until_ready(url, process)
        assert requests.get(f"{url}/api/docs", timeout=30).status_code == 200
        assert requests.get(f"{url}/", timeout=30).json()["datastacks"] == ["demo"]
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("server", [1, 2], indirect=True, ids=["werkzeug", "gunicorn"])
def test_caveclient_against_fixative_serve(server: str, home: Path) -> None:
    client = CAVEclient("demo", server_address=server, auth_token="x", write_server_cache=False)
    assert client.materialize.get_versions() == [1]
    frame = client.materialize.query_table("synapses")
    assert len(frame) == SYNAPSES
    store = open_store(f"sqlite:///{home / 'live.sqlite'}")
    try:
        at = client.materialize.get_timestamp(1)
        assert store.count_at("synapses", at) == SYNAPSES
        ids = store.annotations_at("synapses", at).column("id").to_pylist()
    finally:
        store.dispose()
    assert sorted(frame["id"]) == ids
    assert client.chunkedgraph.get_root_id(int(frame["pre_pt_supervoxel_id"].iloc[0])) > 0
