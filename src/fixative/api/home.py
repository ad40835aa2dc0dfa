"""``GET /``: what this server is. JSON (or an HTML page for a browser) with the service name,
Fixative's version, the datastacks and links to the API docs, the OpenAPI document and the
health probe.

It answers without a token, like ``/health``, so a person or a probe finding the server learns
where the docs are. Datastack names are listed only to whoever may view them: everyone on a
server without auth, else the datastacks the request's token holds view (or more) on; without a
valid token the list is left out and the answer says a token shows it."""

from __future__ import annotations

from html import escape
from typing import Any

from flask import Blueprint, Response, jsonify, request

from fixative import __version__
from fixative.api.services import HttpServices
from fixative.auth.permissions import LEVELS
from fixative.errors import Unauthorized

SERVICE = "Fixative"
DESCRIPTION = "a materialization engine for connectome annotations, speaking CAVE's API"
LINKS = {
    "docs": "/api/docs",
    "openapi": "/api/openapi.json",
    "health": "/health",
    "datastacks": "/info/api/v2/datastacks",
}

HOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["service", "version", "datastacks", "links"],
    "properties": {
        "service": {"type": "string"},
        "description": {"type": "string"},
        "version": {"type": "string"},
        "datastacks": {
            "type": ["array", "null"],
            "items": {"type": "string"},
            "description": "the datastacks the request may view; null without a valid token",
        },
        "note": {"type": "string"},
        "links": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def home_blueprint(services: HttpServices) -> Blueprint:
    bp = Blueprint("home", __name__)

    @bp.get("/")
    def home() -> Response:
        about = describe(services)
        if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
            return Response(page(about), mimetype="text/html")
        return jsonify(about)

    return bp


def describe(services: HttpServices) -> dict[str, Any]:
    about: dict[str, Any] = {"service": SERVICE, "description": DESCRIPTION}
    about["version"] = __version__
    names = visible_datastacks(services)
    if names is None:
        about["datastacks"] = None
        about["note"] = "send an API token to see the datastacks you may view"
    else:
        about["datastacks"] = names
    about["links"] = LINKS
    return about


def visible_datastacks(services: HttpServices) -> list[str] | None:
    """The configured datastacks this request may view; None without a valid token."""
    names = [ds.name for ds in services.settings.datastacks]
    if services.authorizer is None:
        return names
    try:
        principal = services.authorizer.principal()
    except Unauthorized:
        return None
    return [n for n in names if principal.level_on(n) >= LEVELS["view"]]


def page(about: dict[str, Any]) -> str:
    names = about["datastacks"]
    if names is None:
        stacks = f"<p>{escape(about['note'])}.</p>"
    else:
        items = "".join(f"<li>{escape(n)}</li>" for n in names) or "<li>(none configured)</li>"
        stacks = f"<ul>{items}</ul>"
    links = "".join(
        f'<li><a href="{escape(href)}">{escape(href)}</a> ({escape(name)})</li>'
        for name, href in about["links"].items()
    )
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{SERVICE} {escape(about['version'])}</title></head>\n<body>"
        f"<h1>{SERVICE} {escape(about['version'])}</h1><p>{escape(DESCRIPTION)}.</p>"
        f"<h2>Datastacks</h2>{stacks}<h2>Links</h2><ul>{links}</ul></body></html>\n"
    )
