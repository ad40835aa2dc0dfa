"""Who is looking, and what they may see: the request's principal (the local user when the
server runs without auth), and the blueprint's answers to a missing token (the sign-in form in
place of the page) and to other errors (an HTML page with the API's message).

The API's ``before_request`` authenticates every request before a dashboard view runs; its
``Unauthorized`` reaches the dashboard's handler because Flask picks error handlers by the
blueprint the URL matched. The vendored scripts and stylesheet are public (the sign-in page
needs them), so the handler serves them without a token."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, render_template, request

from fixative.api.auth import COOKIE
from fixative.api.services import HttpServices
from fixative.auth.permissions import LEVELS, Principal, local_principal
from fixative.errors import FixativeError, Unauthorized


def principal(services: HttpServices) -> Principal:
    """The request's user; the local user (admin of everything) on a server without auth."""
    if services.authorizer is None or services.authorizer.mode == "none":
        return local_principal()
    found = g.get("principal")
    if not isinstance(found, Principal):
        raise Unauthorized("no principal for this request")
    return found


def is_admin(services: HttpServices, datastack: str) -> bool:
    return principal(services).level_on(datastack) >= LEVELS["admin"]


def visible_datastacks(services: HttpServices) -> list[str]:
    who = principal(services)
    return [ds.name for ds in services.settings.datastacks if who.level_on(ds.name) >= 1]


def set_token_cookie(response: Response, token: str) -> None:
    """The token as the API's cookie: not readable by scripts, never sent cross-site."""
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Strict", secure=request.is_secure, path="/"
    )


def clear_token_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", samesite="Strict", httponly=True)


def wants_json() -> bool:
    return request.method != "GET" or request.path.endswith(".json")


def register_handlers(bp: Blueprint, services: HttpServices) -> None:
    @bp.errorhandler(Unauthorized)
    def _signed_out(exc: Unauthorized) -> Response | tuple[str, int]:
        if request.endpoint == f"{bp.name}.static":
            return bp.send_static_file((request.view_args or {}).get("filename", ""))
        if wants_json():
            return _json_error(exc)
        page = render_template("dashboard/signin.html", message=_sign_in_message(exc), auth_on=True)
        response = Response(page, status=401, mimetype="text/html")
        if request.cookies.get(COOKIE):
            clear_token_cookie(response)  # revoked or wrong: ask again
        return response

    @bp.errorhandler(FixativeError)
    def _failed(exc: FixativeError) -> Response | tuple[str, int]:
        if wants_json():
            return _json_error(exc)
        names = visible_datastacks(services) if g.get("principal") else []
        page = render_template(
            "dashboard/error.html",
            status=exc.status_code,
            error=type(exc).__name__,
            message=exc.message,
            datastacks=names,
        )
        return page, exc.status_code


def _sign_in_message(exc: Unauthorized) -> str | None:
    """Nothing for a first visit; the reason when a token was sent and refused."""
    return exc.message if request.cookies.get(COOKIE) else None


def _json_error(exc: FixativeError) -> Response:
    response = jsonify({"error": type(exc).__name__, "message": exc.message})
    response.status_code = exc.status_code
    return response
