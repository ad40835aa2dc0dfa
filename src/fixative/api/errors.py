"""The one table from exceptions to HTTP status codes, and the one JSON error shape:
``{"error": "<ExceptionName>", "message": "<what went wrong>"}``. Never a redirect, never a
traceback, never a 5xx for bad input."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from fixative.errors import FixativeError, Transient

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5  # what a client is told to wait after losing the database


def error_response(status: int, error: str, message: str) -> Response:
    response = jsonify({"error": error, "message": message})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(FixativeError)
    def _fixative(exc: FixativeError) -> Response:
        response = error_response(exc.status_code, type(exc).__name__, exc.message)
        if isinstance(exc, Transient):  # e.g. a version database's connection was lost
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        name = type(exc).__name__
        response = error_response(status, name, exc.description or name)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response

    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(sa.exc.InterfaceError)
    def _database_lost(exc: sa.exc.DBAPIError) -> Response:
        """The database went away or refused a connection: the request may succeed later
        (connections are checked before use, so the next one reconnects)."""
        log.warning("database unavailable: %s", exc.orig)
        response = error_response(
            503, "Transient", f"database unavailable ({type(exc.orig).__name__}); retry later"
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "InternalError", f"internal error: {type(exc).__name__}")
