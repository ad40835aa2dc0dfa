"""What Neuroglancer and caveclient ask of a table besides queries, at CAVE's v3 paths:

- ``GET .../datastack/{ds}/table/{t}/unique_string_values``: ``{column: [distinct strings]}``
  of the live table now (caveclient ``materialize.get_unique_string_values``);
- ``GET .../datastack/{ds}/version/{v}/table/{t}/info``: Neuroglancer segment properties of the
  table at a version (caveclient ``materialize.neuroglancer_segprop_info``; Neuroglancer reads
  it as ``precomputed://.../version/{v}/table/{t}``);
- ``GET .../datastack/{ds}/table/{t}/info``: the same, live now.

A reference table is joined to the table it references (whose root ids key the properties).
Tables with more rows than ``query_row_limit`` are refused, as the original refuses tables
larger than its query limit. A version's answers are kept and tagged (``ETag``), as the
original caches them."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime
from typing import Any

import pyarrow as pa
from flask import Blueprint, Response, jsonify, request

from fixative.api import catalog_view as cat
from fixative.api.materialize import DS, PREFIXES, VERSION
from fixative.api.services import HttpServices, QueryOutput
from fixative.errors import InvalidInput
from fixative.query.segprops import LabelSpec, segment_properties
from fixative.query.spec import Join, QuerySpec
from fixative.query.string_values import unique_string_values

V3 = PREFIXES["v3"]
MAX_LABEL_ARG = 500
KEPT = 16  # version answers kept per process
COLUMNS_PATTERN = r"[^,]*[^,\s][^,]*(?:,[^,]*[^,\s][^,]*)*"  # no empty name between commas
COLUMNS_RE = re.compile(COLUMNS_PATTERN)


def _label_spec() -> LabelSpec:
    template = request.args.get("label_format") or None
    raw = request.args.get("label_columns") or None
    for name, value in (("label_format", template), ("label_columns", raw)):
        if value is not None and len(value) > MAX_LABEL_ARG:
            raise InvalidInput(f"{name} is longer than {MAX_LABEL_ARG} characters")
    columns = None
    if raw is not None:
        if COLUMNS_RE.fullmatch(raw) is None:
            raise InvalidInput(f"label_columns={raw[:80]!r} must be comma-separated column names")
        columns = tuple(c.strip() for c in raw.split(","))
    return LabelSpec(format=template, columns=columns)


class Recent:
    """The few most recently used answers (thread-safe)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, value: bytes) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _tagged(response: Response, tag: str) -> Response:
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = "private, no-cache"  # ask again; a 304 is cheap
    return response


def _collect(result: QueryOutput) -> pa.Table:
    try:
        return pa.Table.from_batches(list(result.batches), schema=result.schema)
    finally:
        result.close()


def segprops_blueprint(services: HttpServices) -> Blueprint:
    bp = Blueprint("segprops", __name__)
    kept = Recent(KEPT)

    def spec_of(datastack: str, table: str) -> QuerySpec:
        """Every column of ``table`` (joined to its target when it is a reference table)."""
        info = services.store.get_table(table)
        target = info.reference_table
        if target is None:
            return QuerySpec(tables=(table,))
        services.require_read(datastack, target)
        return QuerySpec(
            tables=(table, target),
            joins=(Join(table, "target_id", target, "id"),),
            suffixes={table: "", target: "_ref"},
        )

    def too_large(table: str, rows: int) -> None:
        cap = services.settings.query_row_limit
        if rows > cap:
            raise InvalidInput(
                f"table {table!r} has {rows:,} rows, more than the {cap:,} segment properties "
                "are built from (query_row_limit)"
            )

    @bp.get(V3 + DS + "/table/<table>/unique_string_values")
    def string_values(datastack: str, table: str) -> Response:
        services.datastack(datastack)
        services.store.get_table(table)
        services.require_read(datastack, table)
        return jsonify(unique_string_values(services.store, table))

    @bp.get(V3 + VERSION + "/table/<table>/info")
    def version_info(datastack: str, version: int, table: str) -> Response:
        """A version never changes, so its properties are kept (a few, in this process) and
        tagged: a client that has them gets a 304 (after the same permission checks)."""
        label = _label_spec()
        info = cat.version(services, datastack, version)
        found = cat.version_table(services, datastack, version, table)
        too_large(table, found.row_count)
        spec = spec_of(datastack, table)
        key = (datastack, info.id, info.status, table, label)
        tag = '"' + hashlib.sha256(repr(key).encode()).hexdigest()[:32] + '"'
        if tag.strip('"') in request.if_none_match:
            return _tagged(Response(status=304), tag)
        body = kept.get(key)
        if body is None:
            result = services.query_engine().version_query(datastack, version, spec)
            body = _json(segment_properties(_collect(result), label))
            kept.put(key, body)
        return _tagged(Response(body, mimetype="application/json"), tag)

    @bp.get(V3 + DS + "/table/<table>/info")
    def live_info(datastack: str, table: str) -> Response:
        label = _label_spec()
        services.datastack(datastack)
        services.store.get_table(table)
        services.require_read(datastack, table)
        now: datetime = services.store.clock()
        too_large(table, services.store.count_at(table, now))
        spec = spec_of(datastack, table)
        result = services.query_engine().live_query(datastack, now, spec)
        return jsonify(segment_properties(_collect(result), label))

    return bp
