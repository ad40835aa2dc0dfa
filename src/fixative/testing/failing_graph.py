"""A real PyChunkedGraph-shaped HTTP server that answers 500 to ``roots_binary``, and our HTTP
client pointed at it: what a chunkedgraph outage looks like to a workflow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response

from fixative.api.background import serve
from fixative.chunkedgraph.http import HttpChunkedGraph

MESSAGE = "bigtable unavailable"


@contextmanager
def failing_chunkedgraph(table_id: str) -> Iterator[HttpChunkedGraph]:
    app = Flask("failing_chunkedgraph")

    @app.post("/segmentation/api/v1/table/<table_id>/roots_binary")
    def roots(table_id: str) -> Response:
        return Response(f'{{"message": "{MESSAGE}"}}', status=500)

    with serve(app) as url:
        yield HttpChunkedGraph(url, table_id, retries=1, backoff_s=0.01)
