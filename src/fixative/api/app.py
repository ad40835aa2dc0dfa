"""The Flask application factory: blueprints for the services that are configured, errors
mapped in one place, a body-size limit, and no trailing-slash redirects (caveclient treats any
redirect as an authentication failure).

``create_app(services=...)`` serves the whole read side (info, schema, materialize,
segmentation, health, OpenAPI); ``create_app(graphs=...)`` alone serves only the chunkedgraph."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, request
from werkzeug.routing import IntegerConverter, Map

from fixative.api.auth import register_auth
from fixative.api.cg_logs import cg_logs_blueprint
from fixative.api.errors import register_error_handlers
from fixative.api.segmentation import GraphLookup, InfoLookup, segmentation_blueprint
from fixative.api.services import HttpServices
from fixative.auth.permissions import LEVELS
from fixative.errors import Forbidden, InvalidInput

DEFAULT_MAX_BODY = 64 * 1024 * 1024


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` limited to 64 bits (uint64 ids; int64 when signed), so an oversized id in
    a path is a 404 that names nothing instead of an overflow deeper down."""

    def __init__(
        self,
        url_map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ) -> None:
        if max is None:
            max = 2**63 - 1 if signed else 2**64 - 1
        if min is None and signed:
            min = -(2**63)
        super().__init__(url_map, fixed_digits, min, max, signed)


def _refuse_nul() -> None:
    """NUL in a path or query string is refused before any view sees it (PostgreSQL text
    cannot hold it, and no name or value needs it)."""
    if "\x00" in request.path or b"%00" in request.query_string:
        raise InvalidInput("the request's path or query string holds a NUL character")


def _converters() -> dict[str, Any]:
    return {"int": BoundedIntConverter}


def create_app(
    *,
    graphs: GraphLookup | None = None,
    graph_infos: InfoLookup | None = None,
    max_body_bytes: int | None = None,
    services: HttpServices | None = None,
) -> Flask:
    app = Flask("fixative")
    app.url_map.converters.update(_converters())
    if max_body_bytes is None:
        max_body_bytes = (
            services.settings.max_request_bytes if services is not None else DEFAULT_MAX_BODY
        )
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.url_map.strict_slashes = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    register_error_handlers(app)
    if services is not None and services.authorizer is not None:
        register_auth(app, services.authorizer)  # first: no token is a 401 whatever else is wrong
    app.before_request(_refuse_nul)
    _remember_reads_per_request(app)
    if services is not None:
        _register_read_side(app, services)
        _register_write_side(app, services)
        if graphs is None:
            graphs = services.graph_by_table
    if graphs is not None:
        app.register_blueprint(segmentation_blueprint(graphs, graph_infos))
        app.register_blueprint(cg_logs_blueprint(graphs, _admins_only(services)))
    return app


def _remember_reads_per_request(app: Flask) -> None:
    """Each request reads a table's metadata and a version's row once (``fixative.store.memo``)."""
    from flask import g

    from fixative.store import memo

    def open_scope() -> None:
        g.fixative_memo = memo.open_scope()

    def close_scope(_exc: BaseException | None) -> None:
        token = g.pop("fixative_memo", None)
        if token is not None:
            memo.close_scope(token)

    app.before_request(open_scope)
    app.teardown_request(close_scope)


def _admins_only(services: HttpServices | None) -> Callable[[str], None] | None:
    """With auth on: refuse a user who administers none of a chunkedgraph's datastacks."""
    if services is None or services.authorizer is None:
        return None
    settings = services.settings

    def check(table_id: str) -> None:
        from fixative.api.auth import current_principal

        names = [ds.name for ds in settings.datastacks if ds.pcg_table_name == table_id]
        principal = current_principal()
        if not any(principal.level_on(n) >= LEVELS["admin"] for n in names):
            raise Forbidden(f"user {principal.user_id!r} needs admin permission on {table_id!r}")

    return check


def _register_read_side(app: Flask, services: HttpServices) -> None:
    from fixative.api.health import health_blueprint
    from fixative.api.home import home_blueprint
    from fixative.api.info import info_blueprint
    from fixative.api.materialize import materialize_blueprint
    from fixative.api.materialize_query import query_blueprint
    from fixative.api.openapi import openapi_blueprint
    from fixative.api.precomputed import precomputed_blueprint
    from fixative.api.schema import schema_blueprint
    from fixative.api.segprops import segprops_blueprint
    from fixative.api.views import views_blueprint
    from fixative.dashboard import register_dashboard

    app.register_blueprint(home_blueprint(services))
    app.register_blueprint(health_blueprint(services))
    app.register_blueprint(info_blueprint(services))
    app.register_blueprint(schema_blueprint())
    app.register_blueprint(materialize_blueprint(services))
    app.register_blueprint(query_blueprint(services))
    app.register_blueprint(segprops_blueprint(services))
    app.register_blueprint(precomputed_blueprint(services))
    app.register_blueprint(views_blueprint(services))
    app.register_blueprint(openapi_blueprint())
    register_dashboard(app, services)


def _register_write_side(app: Flask, services: HttpServices) -> None:
    """Annotation writes, chunkedgraph edits and workflow endpoints. They need the user the
    request runs as (auth), so they come with an authorizer; writes queue ingest runs when a
    runner is configured."""
    from fixative.api.annotation import annotation_blueprint
    from fixative.api.edits import edits_blueprint
    from fixative.api.export import export_blueprint
    from fixative.api.table_admin import table_admin_blueprint
    from fixative.api.workflows import workflows_blueprint
    from fixative.runner.coalesce import WriteIngest
    from fixative.runner.inline import InlineRunner
    from fixative.versions.builders import builder_id

    authorizer = services.authorizer
    if authorizer is None:
        return
    runner = services.runner
    ingest = None
    if runner is not None:  # an inline runner's queued runs are this process's, for the reaper
        owner = builder_id() if isinstance(runner, InlineRunner) else None
        interval = services.settings.ingest_min_interval_s
        ingest = WriteIngest(services.store, runner, interval, owner)

    def after_write(datastack: str, table: str) -> None:
        """Ingest the new rows: the table's one coalesced, rate-limited ingest run, whose
        instant is fixed when it starts (``fixative.runner.coalesce``)."""
        info = services.store.find_table(table)
        if ingest is None or info is None or info.segmentation_table is None:
            return
        ingest(datastack, table)

    app.register_blueprint(annotation_blueprint(services.store, authorizer, after_write))
    app.register_blueprint(table_admin_blueprint(services.store, authorizer, runner))
    app.register_blueprint(edits_blueprint(services.graph_by_table, services.segmentation_by_table))
    if runner is not None:
        app.register_blueprint(workflows_blueprint(services.store, services.settings, runner))
        app.register_blueprint(export_blueprint(services, runner))
