"""Views at CAVE's paths (``/materialize/api/v3/datastack/{ds}/version/{v}/views...``) and their
administration (``/materialize/api/v3/datastack/{ds}/views``).

At a version: ``views`` (caveclient ``get_views``), ``views/schemas`` (``get_view_schemas``),
``views/{view}/metadata`` (``get_view_metadata``), ``views/{view}/schema``
(``get_view_schema``), ``views/{view}/query`` (``query_view``, with every filter,
``select_columns``, paging, ``random_sample`` and ``count``). A version lists the views whose
tables it holds and this request's user may read: reading a view takes read permission on
every table it reads. Live: ``POST .../datastack/{ds}/views/{view}/query?timestamp=T`` answers a
``live_compatible`` view at T (``fixative.views.query``), and so does the live query endpoint
(caveclient ``live_live_query(view, T, metadata=False)``) when its ``table`` is a view.

Administration (datastack admins): ``GET`` lists the definitions with their SQL, ``POST``
creates one (``{"name", "sql", "description", "voxel_resolution", "notice_text",
"live_compatible"}``; bad SQL is a 400 naming the problem and nothing is stored), ``DELETE
.../views/{view}`` removes one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify

from fixative.api import catalog_view as cat
from fixative.api.arrow import count_response
from fixative.api.materialize import DS, PREFIXES, VERSION
from fixative.api.materialize_query import Flags, _random_sample
from fixative.api.query_body import simple_spec
from fixative.api.services import HttpServices
from fixative.api.wire import json_body, timestamp_arg
from fixative.errors import InvalidInput, NotFound
from fixative.query.columns import TableColumns
from fixative.query.engine import QueryEngine
from fixative.query.spec import QuerySpec
from fixative.views.definitions import (
    create_view,
    delete_view,
    find_view,
    get_view,
    known_tables,
    list_views,
)
from fixative.views.model import NewView, ViewInfo, schema_dict, view_table_columns
from fixative.views.query import (
    CheckedTarget,
    live_view_query,
    version_view_count,
    version_view_query,
)

V3 = PREFIXES["v3"]
CREATE_KEYS = frozenset(
    {"name", "sql", "description", "voxel_resolution", "notice_text", "live_compatible"}
)
LOCAL_USER = "local"


class ViewAccess:
    """Views of one request: checked against today's tables and this user's permissions."""

    def __init__(self, services: HttpServices, datastack: str) -> None:
        self.services = services
        self.datastack = datastack
        self.settings = services.datastack(datastack)
        self.tables = known_tables(services.store, self.settings.aligned_volume)

    def checked(self, info: ViewInfo) -> CheckedTarget:
        from fixative.views.check import check_view_sql

        checked = check_view_sql(info.sql, self.tables)
        return CheckedTarget(info, checked, view_table_columns(info, checked.columns))

    def readable(self, target: CheckedTarget) -> None:
        for table in target.checked.tables:
            self.services.require_read(self.datastack, table)

    def may_read(self, target: CheckedTarget) -> bool:
        names = list(target.checked.tables)
        return self.services.readable(self.datastack, names) == names

    def one(self, name: str) -> CheckedTarget:
        target = self.checked(get_view(self.services.store, self.datastack, name))
        self.readable(target)
        return target

    def at_version(self, version: int) -> list[CheckedTarget]:
        """The views a version answers (it holds all their tables) that the user may read;
        a view whose SQL no longer checks (a table dropped since) is left out."""
        held = {t.table_name for t in cat.version_tables(self.services, self.datastack, version)}
        out = []
        for info in list_views(self.services.store, self.datastack):
            try:
                target = self.checked(info)
            except InvalidInput:
                continue
            if set(target.checked.tables) <= held and self.may_read(target):
                out.append(target)
        return out


def _engine(services: HttpServices) -> QueryEngine:
    engine = services.query_engine()
    if not isinstance(engine, QueryEngine):
        raise NotFound("views are not available on this server (no query engine)")
    return engine


def _new_view(body: Any, datastack: str, user_id: str, default_res: Any) -> NewView:
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    unknown = sorted(set(body) - CREATE_KEYS)
    if unknown:
        raise InvalidInput(
            f"body key(s) {', '.join(unknown)} are not allowed; allowed: "
            + ", ".join(sorted(CREATE_KEYS))
        )
    for key in ("name", "sql"):
        if not isinstance(body.get(key), str):
            raise InvalidInput(f"'{key}' is required and must be a string")
    res = body.get("voxel_resolution", list(default_res))
    if not isinstance(res, list) or len(res) != 3:
        raise InvalidInput("voxel_resolution must be [x, y, z] in nm")
    return NewView(
        datastack=datastack,
        name=body["name"],
        sql=body["sql"],
        user_id=user_id,
        voxel_resolution_nm=(res[0], res[1], res[2]),
        description=body.get("description", ""),
        notice_text=body.get("notice_text"),
        live_compatible=body.get("live_compatible", False),
    )


def _notices(tables: dict[str, TableColumns], target: CheckedTarget) -> list[str]:
    """The notice texts of the tables a view reads, as a table query's warnings say them."""
    out = []
    for name in target.checked.tables:
        notice = tables[name].info.notice_text
        if notice:
            out.append(f"Table Owner Notice on {name}: {notice}")
    return out


def _counted(count: int, flags: Flags, spec: QuerySpec, target: CheckedTarget) -> Response:
    """The count, with the resolution header caveclient's ``query_view`` needs to build the
    frame's attributes (it reads no ``voxel_resolution`` from a view's metadata)."""
    response = count_response(count, as_arrow=flags.as_arrow, compress=flags.compress)
    res = spec.desired_resolution or target.info.voxel_resolution_nm
    response.headers["dataframe_resolution"] = ", ".join(str(float(v)) for v in res)
    return response


def is_view(services: HttpServices, datastack: str, spec: QuerySpec) -> bool:
    """A live body (caveclient's ``live_live_query``) naming one view and no table."""
    name = spec.tables[0]
    if len(spec.tables) != 1 or spec.joins or services.store.find_table(name) is not None:
        return False
    return find_view(services.store, datastack, name) is not None


def live_view_response(
    services: HttpServices, datastack: str, spec: QuerySpec, at: datetime, flags: Flags
) -> Response:
    """A ``live_compatible`` view at ``at`` (``spec.tables``: the view alone)."""
    access = ViewAccess(services, datastack)
    target = access.one(spec.tables[0])
    engine = _engine(services)
    tables = {t: access.tables[t] for t in target.checked.tables}
    got = live_view_query(engine, target, datastack, at, spec, tables, count=flags.count)
    if isinstance(got, int):
        return _counted(got, flags, spec, target)
    got.warnings.extend(_notices(access.tables, target))
    return flags.respond(got)


def views_blueprint(services: HttpServices) -> Blueprint:
    bp = Blueprint("views", __name__)

    def views(datastack: str, version: int) -> Response:
        access = ViewAccess(services, datastack)
        found = access.at_version(version)
        return jsonify({t.info.name: t.info.metadata_dict() for t in found})

    def view_schemas(datastack: str, version: int) -> Response:
        access = ViewAccess(services, datastack)
        found = access.at_version(version)
        return jsonify({t.info.name: schema_dict(t.table) for t in found})

    def at_version(datastack: str, version: int, view: str) -> CheckedTarget:
        return find_at_version(ViewAccess(services, datastack), version, view)

    def find_at_version(access: ViewAccess, version: int, view: str) -> CheckedTarget:
        for target in access.at_version(version):
            if target.info.name == view:
                return target
        target = access.one(view)  # 404 for no such view, 403 when a table is unreadable
        missing = ", ".join(target.checked.tables)
        raise NotFound(f"view {view!r} reads {missing}, which version {version} does not hold")

    def view_metadata(datastack: str, version: int, view: str) -> Response:
        return jsonify(at_version(datastack, version, view).info.metadata_dict())

    def view_schema(datastack: str, version: int, view: str) -> Response:
        return jsonify(schema_dict(at_version(datastack, version, view).table))

    def query(datastack: str, version: int, view: str) -> Response:
        flags = Flags.parse()
        spec = simple_spec(json_body(required=False), view, random_sample=_random_sample())
        cat.version(services, datastack, version)
        access = ViewAccess(services, datastack)
        target = find_at_version(access, version, view)
        engine = _engine(services)
        if flags.count:
            count = version_view_count(engine, target, datastack, version, spec)
            return _counted(count, flags, spec, target)
        result = version_view_query(engine, target, datastack, version, spec)
        result.warnings.extend(_notices(access.tables, target))
        return flags.respond(result)

    def live_query(datastack: str, view: str) -> Response:
        flags = Flags.parse()
        at = timestamp_arg("timestamp")
        if at is None:
            raise InvalidInput("a live view query needs the query parameter timestamp")
        spec = simple_spec(json_body(required=False), view, random_sample=_random_sample())
        return live_view_response(services, datastack, spec, at, flags)

    _admin_routes(bp, services)
    rules: list[tuple[str, Any, str]] = [
        (VERSION + "/views", views, "GET"),
        (VERSION + "/views/schemas", view_schemas, "GET"),
        (VERSION + "/views/<view>/metadata", view_metadata, "GET"),
        (VERSION + "/views/<view>/schema", view_schema, "GET"),
        (VERSION + "/views/<view>/query", query, "POST"),
        (DS + "/views/<view>/query", live_query, "POST"),
    ]
    for rule, view_func, method in rules:
        bp.add_url_rule(V3 + rule, view_func=view_func, methods=[method])
    return bp


def _admin_routes(bp: Blueprint, services: HttpServices) -> None:
    def admin(datastack: str) -> str:
        """The user, when they administer the datastack (anyone when auth is off)."""
        services.datastack(datastack)
        if services.authorizer is None:
            return LOCAL_USER
        from fixative.api.auth import current_principal

        principal = current_principal()
        principal.require(datastack, "admin")
        return principal.user_id

    def definitions(datastack: str) -> Response:
        access = ViewAccess(services, datastack)
        out = []
        for info in list_views(services.store, datastack):
            try:
                target = access.checked(info)
            except InvalidInput as exc:
                out.append({**info.metadata_dict(), "sql": info.sql, "problem": exc.message})
                continue
            if access.may_read(target):
                shown = {"sql": info.sql, "tables": list(target.checked.tables)}
                out.append({**info.metadata_dict(), **shown})
        return jsonify(out)

    def create(datastack: str) -> Response:
        user = admin(datastack)
        ds = services.datastack(datastack)
        new = _new_view(json_body(required=True), ds.name, user, ds.viewer_resolution)
        info = create_view(services.store, ds.aligned_volume, new)
        return jsonify({**info.metadata_dict(), "sql": info.sql})

    def remove(datastack: str, view: str) -> Response:
        admin(datastack)
        return jsonify(delete_view(services.store, datastack, view).metadata_dict())

    bp.add_url_rule(V3 + DS + "/views", view_func=definitions, methods=["GET"])
    bp.add_url_rule(V3 + DS + "/views", view_func=create, methods=["POST"])
    bp.add_url_rule(V3 + DS + "/views/<view>", view_func=remove, methods=["DELETE"])
