"""What the servers Fixative runs under do when a streamed body's generator raises after the
status line went out (a query losing its database mid-stream): werkzeug's threaded server and
gunicorn's gthread worker both end the chunked body without its final chunk, so the client's
read fails; and the Arrow stream ends in a cut message, so even the bytes that arrived do not
decode as a complete, shorter table."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import requests
from flask import Flask

from fixative.api.arrow import arrow_response
from fixative.query.engine import QueryResult
from fixative.testing.processes import stop_group
from fixative.testing.server import serve

APP = """
from flask import Flask
import test_broken_stream_servers as t
app = t.failing_app()
"""


def _batches() -> Iterator[pa.RecordBatch]:
    for k in range(3):
        yield pa.record_batch({"id": pa.array(range(k * 10, k * 10 + 10), pa.int64())})
        time.sleep(0.05)
    raise RuntimeError("the database went away")


def failing_app() -> Flask:
    app = Flask(__name__)

    @app.post("/query")
    def query() -> Any:
        schema = pa.schema({"id": pa.int64()})
        result = QueryResult(schema, _batches(), (1.0, 1.0, 1.0), [], {})
        return arrow_response(result)

    return app


def _read_cut(url: str) -> bytes:
    response = requests.post(url + "/query", stream=True, timeout=30)
    assert response.status_code == 200
    assert response.headers["Transfer-Encoding"] == "chunked"
    body = io.BytesIO()
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        body.write(b"".join(_kept(response, body)))
    return body.getvalue()


def _kept(response: requests.Response, body: io.BytesIO) -> Iterator[bytes]:
    for chunk in response.iter_content(None):
        body.write(chunk)
        yield b""


def _undecodable(body: bytes) -> None:
    assert len(body) > 0
    with pytest.raises(pa.ArrowInvalid):
        pa.ipc.open_stream(body).read_all()


def test_werkzeug_threaded_server_aborts_the_body() -> None:
    with serve(failing_app()) as url:
        _undecodable(_read_cut(url))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_gunicorn_gthread_aborts_the_body(tmp_path: Path) -> None:
    (tmp_path / "failing_wsgi.py").write_text(APP)
    port = _free_port()
    tests = str(Path(__file__).parent)
    command = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads", "4"]
    command += ["--bind", f"127.0.0.1:{port}", "--pythonpath", f"{tmp_path},{tests}"]
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as err:
        process = subprocess.Popen(
            [*command, "failing_wsgi:app"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        _undecodable(_read_cut(f"http://127.0.0.1:{port}"))
    finally:
        stop_group(process)
