"""Serve a WSGI app on a free loopback port in a background thread (real HTTP for tests)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server


@contextmanager
def serve(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Yields the base URL (``http://127.0.0.1:<port>``) while the server runs."""
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="fixative-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
