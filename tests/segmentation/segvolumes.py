"""The known test volume (labels, layouts) and a loopback HTTP server, shared by the tests."""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

SHAPE = (70, 50, 20)  # not a multiple of the chunk size: edge chunks are partial
CHUNK = (16, 16, 8)
RESOLUTION = (8.0, 8.0, 40.0)
OFFSET = (100, 200, 10)


def known_labels() -> npt.NDArray[np.uint64]:
    """x < 40: a unique id per voxel, ``2**40 + x + 1000 y + 1000000 z`` (a wrong voxel gives a
    wrong id); x >= 40: blocky supervoxels of 4x4x2 with random large ids (compressible)."""
    x, y, z = np.meshgrid(*(np.arange(n, dtype=np.uint64) for n in SHAPE), indexing="ij")
    labels = np.uint64(2**40) + x + np.uint64(1000) * y + np.uint64(1_000_000) * z
    rng = np.random.default_rng(7)
    blocks = rng.integers(1, 2**63, size=(8, 13, 10), dtype=np.uint64)
    blocky = blocks[(x[40:] - 40) // 4, y[40:] // 4, z[40:] // 2]
    labels[40:] = blocky
    return labels


@dataclass(frozen=True)
class Volume:
    """A written volume: how to open it and where its first voxel lies."""

    kind: str
    source: str
    offset: tuple[int, int, int]


PRECOMPUTED: dict[str, dict[str, Any]] = {
    "raw": {},
    "cseg": {"encoding": "compressed_segmentation"},
    "sharded_raw": {"sharded": True, "chunk_size": (8, 8, 4)},
    "sharded_cseg": {"sharded": True, "encoding": "compressed_segmentation"},
    "offset_cseg": {"encoding": "compressed_segmentation", "voxel_offset": OFFSET},
}
LOCAL_KINDS = [*PRECOMPUTED, "zarr2", "zarr3"]
HTTP_KINDS = ["http_cseg", "http_sharded_raw", "http_zarr2"]
ALL_KINDS = LOCAL_KINDS + HTTP_KINDS


class _RangeHandler(SimpleHTTPRequestHandler):
    """Static files, with single byte ranges (``bytes=a-b``, ``a-``, ``-n``) as real object
    stores serve them: TensorStore reads shard indexes and chunks of sharded volumes by range."""

    protocol_version = "HTTP/1.1"  # keep-alive, as TensorStore's client expects
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.server.requested.append(self.path)  # type: ignore[attr-defined]
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if match is None or not path.is_file():
            super().do_GET()
            return
        data = path.read_bytes()
        first, last = match.groups()
        if first:
            start, stop = int(first), (int(last) + 1 if last else len(data))
        else:
            start, stop = max(0, len(data) - int(last)), len(data)
        body = data[start:stop]
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{start + len(body) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # TensorStore opens many connections at once


class LoopbackServer:
    """``http.server`` serving a directory on 127.0.0.1 from a thread; records request paths."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_RangeHandler, directory=str(root))
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.httpd.requested = []  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def requested(self) -> list[str]:
        return self.httpd.requested  # type: ignore[attr-defined,no-any-return]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def volume(kind: str, root: Path, server: LoopbackServer | None) -> Volume:
    """Where the session's volume of this kind is, as a source string."""
    base = kind.removeprefix("http_")
    offset = OFFSET if base == "offset_cseg" else (0, 0, 0)
    if kind.startswith("http_"):
        assert server is not None
        scheme = "zarr" if base.startswith("zarr") else "precomputed"
        return Volume(kind, f"{scheme}://{server.url}/{base}", offset)
    return Volume(kind, str(root / base), offset)
