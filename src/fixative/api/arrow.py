"""Query results on the wire: an Arrow IPC *stream* with ``Content-Type: data.arrow`` (the exact
string caveclient dispatches on), buffers compressed inside the stream (zstd or lz4 as the client
accepts; never HTTP Content-Encoding), or a JSON array of records. Both are streamed batch by
batch; the first batch is read before the response starts, so an error the engine raises early
is still a proper JSON 4xx or 503. A result that fails after the response started is never a
complete, shorter one: the Arrow stream gets no end-of-stream marker but a cut message, the JSON
array no closing bracket, and the server aborts the chunked body (no final chunk)."""

from __future__ import annotations

import io
import itertools
import json
import math
import threading
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pyarrow as pa
from flask import Response, request

from fixative.api.services import QueryOutput

ARROW_MIMETYPE = "data.arrow"


def ipc_compression(compress: bool) -> str | None:
    """zstd or lz4 buffer compression, as the request's ``Accept-Encoding`` allows."""
    if not compress:
        return None
    accepted = request.headers.get("Accept-Encoding", "").lower()
    if "zstd" in accepted:
        return "zstd"
    if "lz4" in accepted:
        return "lz4"
    return None


class _Once:
    """Close a result exactly once, whichever comes first: the end of the body generator or
    the server closing the response (a client that disconnects before reading)."""

    def __init__(self, result: QueryOutput) -> None:
        self.result = result
        self.lock = threading.Lock()
        self.done = False

    def __call__(self) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
        self.result.close()


def _first_batch(result: QueryOutput) -> tuple[pa.RecordBatch | None, Iterator[pa.RecordBatch]]:
    batches = iter(result.batches)
    try:
        first = next(batches, None)
    except BaseException:
        result.close()
        raise
    return first, batches


def _headers(response: Response, result: QueryOutput) -> None:
    response.headers["dataframe_resolution"] = ", ".join(str(float(v)) for v in result.resolution)
    response.headers["column_names"] = json.dumps(result.column_names)
    for warning in result.warnings:
        text = " ".join(str(warning).split())
        response.headers.add("Warning", text.encode("latin-1", "replace").decode("latin-1"))


def _arrow_chunks(
    close: _Once,
    schema: pa.Schema,
    first: pa.RecordBatch | None,
    rest: Iterator[pa.RecordBatch],
    compression: str | None,
) -> Iterator[bytes]:
    sink = io.BytesIO()
    writer = pa.ipc.new_stream(
        sink, schema, options=pa.ipc.IpcWriteOptions(compression=compression)
    )
    try:
        if first is not None:
            writer.write_batch(first)
        yield _drain(sink)
        for batch in rest:
            writer.write_batch(batch)
            yield _drain(sink)
        writer.close()  # the end-of-stream marker: only a complete result gets one
        yield _drain(sink)
    except Exception:
        yield BROKEN_MESSAGE
        raise  # the server aborts the response: no final chunk
    finally:
        close()


# An Arrow reader takes a stream that simply stops between two messages for a complete one, so
# a result that fails mid-way ends with the start of a message that never comes: reading it
# fails even where the HTTP layer cannot show the cut (HTTP/1.0, a proxy that buffers).
BROKEN_MESSAGE = b"\xff\xff\xff\xff" + (1 << 20).to_bytes(4, "little")


def _drain(sink: io.BytesIO) -> bytes:
    data = sink.getvalue()
    sink.seek(0)
    sink.truncate()
    return data


def arrow_response(result: QueryOutput, *, compress: bool = True) -> Response:
    """Stream ``result`` as Arrow IPC; the result is closed when the stream ends or breaks."""
    compression = ipc_compression(compress)
    first, rest = _first_batch(result)
    close = _Once(result)
    response = Response(_arrow_chunks(close, result.schema, first, rest, compression), status=200)
    response.call_on_close(close)
    response.headers["Content-Type"] = ARROW_MIMETYPE
    _headers(response, result)
    return response


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _json_chunks(
    close: _Once, first: pa.RecordBatch | None, rest: Iterator[pa.RecordBatch]
) -> Iterator[bytes]:
    try:
        yield b"["
        sep = b""
        for batch in itertools.chain([first] if first is not None else [], rest):
            for record in batch.to_pylist():
                yield sep + json.dumps(_plain(record), allow_nan=False).encode()
                sep = b","
        yield b"]"  # only a complete result is closed: a cut one is not valid JSON
    finally:
        close()


def json_records_response(result: QueryOutput) -> Response:
    """Stream ``result`` as a JSON array of records (ints stay exact)."""
    first, rest = _first_batch(result)
    close = _Once(result)
    response = Response(_json_chunks(close, first, rest), status=200)
    response.call_on_close(close)
    response.headers["Content-Type"] = "application/json"
    _headers(response, result)
    return response


def count_response(count: int, *, as_arrow: bool, compress: bool = True) -> Response:
    """``count=True``: one row, one ``count`` column."""
    if not as_arrow:
        response = Response(json.dumps([{"count": count}]), status=200)
        response.headers["Content-Type"] = "application/json"
        return response
    table = pa.table({"count": pa.array([count], pa.int64())})
    sink = io.BytesIO()
    options = pa.ipc.IpcWriteOptions(compression=ipc_compression(compress))
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    response = Response(sink.getvalue(), status=200)
    response.headers["Content-Type"] = ARROW_MIMETYPE
    return response
