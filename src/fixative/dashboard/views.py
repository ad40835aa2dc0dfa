"""The dashboard's routes, each a thin view: read through the services, render a template.

``/dashboard/`` the datastacks; ``/dashboard/datastack/{ds}/`` its tables, versions and
schedules; ``.../runs`` (and ``runs.json`` for live progress, ``runs/{id}`` for one run with
its traceback); ``.../table/{t}`` a table; ``.../neuron/{root_id}`` a neuron; ``.../plots``.
The API's authentication has run before any of them; the datastack in the path was checked
for view permission there."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template, request

from fixative import __version__
from fixative.api.services import HttpServices
from fixative.dashboard import access, catalog, neuron, plots, preview, runs
from fixative.errors import InvalidInput, NotFound

PREFIX = "/dashboard"
DS = "/datastack/<datastack>"
Page = Callable[..., str]  # renders a template with the common context


def register_dashboard(app: Flask, services: HttpServices) -> None:
    """Serve the dashboard under ``/dashboard/`` (the API's ``create_app`` calls this)."""
    app.register_blueprint(dashboard_blueprint(services))


def dashboard_blueprint(services: HttpServices) -> Blueprint:
    bp = Blueprint(
        "dashboard",
        __name__,
        url_prefix=PREFIX,
        template_folder="templates",
        static_folder="static",
    )
    access.register_handlers(bp, services)
    auth_on = services.authorizer is not None and services.authorizer.mode != "none"

    def page(template: str, **context: Any) -> str:
        who = access.principal(services)
        return render_template(
            f"dashboard/{template}",
            user=who.user_id,
            auth_on=auth_on,
            version=__version__,
            datastacks=access.visible_datastacks(services),
            **context,
        )

    @bp.get("/")
    def home() -> str:
        return page("home.html", settings=services.settings)

    @bp.get("/sign-in")
    def sign_in_page() -> str:
        return page("signin.html", message=None)

    @bp.post("/sign-in")
    def sign_in() -> Response:
        """The token came in the Authorization header and the API accepted it: keep it."""
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer ") or not auth_on:
            raise InvalidInput("sign in with 'Authorization: Bearer <token>'")
        response = jsonify({"user": access.principal(services).user_id})
        access.set_token_cookie(response, header[7:].strip())
        return response

    @bp.post("/sign-out")
    def sign_out() -> Response:
        response = jsonify({"signed_out": True})
        access.clear_token_cookie(response)
        return response

    @bp.get(DS + "/")
    def datastack(datastack: str) -> str:
        found = catalog.overview(services, datastack)
        admin = access.is_admin(services, datastack)
        return page("datastack.html", ds=datastack, o=found, admin=admin)

    _register_runs(bp, services, page)
    _register_table(bp, services, page)
    _register_neuron_and_plots(bp, services, page)
    return bp


def _register_runs(bp: Blueprint, services: HttpServices, page: Page) -> None:
    def admin_of(datastack: str) -> bool:
        services.datastack(datastack)
        admin = access.is_admin(services, datastack)
        runs.require_admin(admin, datastack)
        return admin

    @bp.get(DS + "/runs")
    def runs_page(datastack: str) -> str:
        services.datastack(datastack)
        admin = access.is_admin(services, datastack)
        found = runs.datastack_runs(services, datastack) if admin else []
        startable = admin and services.runner is not None
        return page(
            "runs.html", ds=datastack, runs=found, admin=admin, starts=runs.STARTS,
            startable=startable,
        )  # fmt: skip

    @bp.get(DS + "/runs.json")
    def runs_json(datastack: str) -> Response:
        admin_of(datastack)
        return jsonify(runs.datastack_runs(services, datastack))

    @bp.get(DS + "/runs/<int:run_id>")
    def run_page(datastack: str, run_id: int) -> str:
        admin_of(datastack)
        found = runs.one_run(services, datastack, run_id)
        return page("run.html", ds=datastack, run=runs.run_row(found), info=found)


def _register_table(bp: Blueprint, services: HttpServices, page: Page) -> None:
    @bp.get(DS + "/table/<table>")
    def table_page(datastack: str, table: str) -> str:
        services.datastack(datastack)
        info = services.store.get_table(table)
        if info.aligned_volume != services.datastack(datastack).aligned_volume:
            raise NotFound(f"datastack {datastack!r} has no table {table!r}")
        services.require_read(datastack, table)
        latest = catalog.latest_holding(services, datastack, table)
        req = preview.parse_request(table, request.args, latest)
        shown = preview.run_preview(services, datastack, info, req)
        base = request.host_url.rstrip("/")
        seg = services.datastack(datastack).segmentation_source
        return page(
            "table.html",
            ds=datastack,
            info=info,
            req=req,
            shown=shown,
            ops=preview.OPS,
            versions=catalog.available_versions(services, datastack),
            columns=preview.column_names(info),
            page_rows=preview.PAGE_ROWS,
            snippet=preview.caveclient_snippet(base, datastack, req, shown.filters),
            links=preview.neuroglancer_links(base, datastack, seg, info, req),
        )


def _register_neuron_and_plots(bp: Blueprint, services: HttpServices, page: Page) -> None:
    kept = plots.KeptCounts()

    @bp.get(DS + "/neuron")
    def neuron_lookup(datastack: str) -> Response:
        raw = request.args.get("root_id", "").strip()
        if not raw.isdigit() or int(raw) >= 2**64:
            raise InvalidInput(f"root id {raw[:40]!r} is not a uint64 integer")
        response = Response(status=303)
        response.headers["Location"] = f"{PREFIX}/datastack/{datastack}/neuron/{int(raw)}"
        return response

    @bp.get(DS + "/neuron/<int:root_id>")
    def neuron_page(datastack: str, root_id: int) -> str:
        raw = request.args.get("version", "")
        version = int(raw) if raw.isdigit() else None
        group_by = request.args.get("group_by", neuron.GROUP_COLUMNS[0])
        found = neuron.describe(services, datastack, root_id, version, group_by)
        return page("neuron.html", ds=datastack, n=found, group_columns=neuron.GROUP_COLUMNS)

    @bp.get(DS + "/plots")
    def plots_page(datastack: str) -> str:
        services.datastack(datastack)
        charts = [plots.rows_per_version(services, datastack)]
        if access.is_admin(services, datastack):
            charts.append(plots.run_durations(services, datastack))
        edits = plots.edits_per_day(services, datastack)
        if edits is not None:
            charts.append(edits)
        found = catalog.overview(services, datastack)
        synapses = services.datastack(datastack).synapse_table
        row = next((t for t in found.tables if t.info.table_name == synapses), None)
        if row is not None and row.version is not None and row.row_count is not None:
            charts.append(
                plots.synapse_distribution(
                    services, kept, datastack, row.info.table_name, row.version, row.row_count
                )
            )
        specs = [json.dumps(c).replace("</", "<\\/") for c in charts]  # inside <script>
        return page("plots.html", ds=datastack, specs=specs, titles=[c["title"] for c in charts])
