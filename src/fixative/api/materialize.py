"""The materialize service's catalogue endpoints (``/materialize/...``): API and server
versions, a datastack's versions and their metadata, tables, table metadata and row counts
(views: ``api/views.py``).
Served under both ``/api/v2`` and ``/api/v3`` because caveclient in v3 mode still reads
``tables`` and ``count`` from v2 paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify

from fixative.api import catalog_view as cat
from fixative.api.formats import version_dict
from fixative.api.services import HttpServices
from fixative.api.wire import bool_arg

API_VERSIONS = [2, 3]
# caveclient refuses every query unless the materialize server reports >= 5.13.0; this is the
# reference server's version whose behaviour (query params, v3 bodies) we implement.
SERVER_VERSION = "5.26.4"
PREFIXES = {"v2": "/materialize/api/v2", "v3": "/materialize/api/v3"}
DS = "/datastack/<datastack>"
VERSION = DS + "/version/<int(signed=True):version>"


def add_routes(
    bp: Blueprint,
    rule: str,
    view: Callable[..., Response],
    *,
    methods: tuple[str, ...] = ("GET",),
    prefixes: tuple[str, ...] = ("v2", "v3"),
) -> None:
    """Register ``view`` at ``rule`` under each API prefix (one endpoint name per prefix)."""
    for key in prefixes:
        bp.add_url_rule(
            PREFIXES[key] + rule,
            endpoint=f"{view.__name__}_{key}",
            view_func=view,
            methods=list(methods),
        )


def _table_warnings(meta: dict[str, Any]) -> list[str]:
    notice = meta.get("notice_text")
    return [f"Table Owner Notice on {meta['table_name']}: {notice}"] if notice else []


def materialize_blueprint(services: HttpServices) -> Blueprint:
    bp = Blueprint("materialize", __name__)

    @bp.get("/materialize/api/versions")
    def api_versions() -> Response:
        return jsonify(API_VERSIONS)

    @bp.get("/materialize/version")
    def server_version() -> Response:
        return jsonify(SERVER_VERSION)

    def versions(datastack: str) -> Response:
        found = cat.list_versions(services, datastack, expired=bool_arg("expired"))
        return jsonify([v.version for v in found])

    def version_metadata(datastack: str, version: int) -> Response:
        return jsonify(version_dict(cat.version(services, datastack, version)))

    def datastack_metadata(datastack: str) -> Response:
        found = cat.list_versions(services, datastack, expired=bool_arg("expired"))
        return jsonify([version_dict(v) for v in found])

    def tables(datastack: str, version: int) -> Response:
        return jsonify([t.table_name for t in cat.version_tables(services, datastack, version)])

    def tables_metadata(datastack: str, version: int) -> Response:
        return jsonify(cat.all_table_metadata(services, datastack, version))

    def table_metadata(datastack: str, version: int, table: str) -> Response:
        meta = cat.one_table_metadata(services, datastack, version, table)
        response = jsonify(meta)
        for warning in _table_warnings(meta):
            response.headers.add("Warning", warning.encode("latin-1", "replace").decode("latin-1"))
        return response

    def table_count(datastack: str, version: int, table: str) -> Response:
        return jsonify(cat.version_table(services, datastack, version, table).row_count)

    add_routes(bp, DS + "/versions", versions)
    add_routes(bp, VERSION, version_metadata)
    add_routes(bp, DS + "/metadata", datastack_metadata)
    add_routes(bp, VERSION + "/tables", tables)
    add_routes(bp, VERSION + "/tables/metadata", tables_metadata)
    add_routes(bp, VERSION + "/table/<table>/metadata", table_metadata)
    add_routes(bp, VERSION + "/table/<table>/count", table_count)
    return bp
