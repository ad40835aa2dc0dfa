"""The Flask application factory: blueprints for the services that are configured, errors
mapped in one place, a body-size limit, and no trailing-slash redirects (caveclient treats any
redirect as an authentication failure)."""

from __future__ import annotations

from flask import Flask

from fixative.api.errors import register_error_handlers
from fixative.api.segmentation import GraphLookup, InfoLookup, segmentation_blueprint

DEFAULT_MAX_BODY = 64 * 1024 * 1024


def create_app(
    *,
    graphs: GraphLookup | None = None,
    graph_infos: InfoLookup | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
) -> Flask:
    app = Flask("fixative")
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.url_map.strict_slashes = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    register_error_handlers(app)
    if graphs is not None:
        app.register_blueprint(segmentation_blueprint(graphs, graph_infos))
    return app
