"""What Neuroglancer and caveclient ask of a table besides queries, at CAVE's v3 paths:

- ``GET .../datastack/{ds}/table/{t}/unique_string_values``: ``{column: [distinct strings]}``
  of the live table now (caveclient ``materialize.get_unique_string_values``);
- ``GET .../datastack/{ds}/version/{v}/table/{t}/info``: Neuroglancer segment properties of the
  table at a version (caveclient ``materialize.neuroglancer_segprop_info``; Neuroglancer reads
  it as ``precomputed://.../version/{v}/table/{t}``);
- ``GET .../datastack/{ds}/table/{t}/info``: the same, live now.

A reference table is joined to the table it references (whose root ids key the properties).
Tables with more rows than ``query_row_limit`` are refused, as the original refuses tables
larger than its query limit."""

from __future__ import annotations

import re
from datetime import datetime

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


def _collect(result: QueryOutput) -> pa.Table:
    try:
        return pa.Table.from_batches(list(result.batches), schema=result.schema)
    finally:
        result.close()


def segprops_blueprint(services: HttpServices) -> Blueprint:
    bp = Blueprint("segprops", __name__)

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
        label = _label_spec()
        found = cat.version_table(services, datastack, version, table)
        too_large(table, found.row_count)
        spec = spec_of(datastack, table)
        result = services.query_engine().version_query(datastack, version, spec)
        return jsonify(segment_properties(_collect(result), label))

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
