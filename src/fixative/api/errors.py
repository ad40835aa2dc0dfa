"""The one table from exceptions to HTTP status codes, and the one JSON error shape:
``{"error": "<ExceptionName>", "message": "<what went wrong>"}``. Never a redirect, never a
traceback, never a 5xx for bad input."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from fixative.errors import FixativeError

log = logging.getLogger(__name__)


def error_response(status: int, error: str, message: str) -> Response:
    response = jsonify({"error": error, "message": message})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(FixativeError)
    def _fixative(exc: FixativeError) -> Response:
        return error_response(exc.status_code, type(exc).__name__, exc.message)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        name = type(exc).__name__
        return error_response(status, name, exc.description or name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "InternalError", f"internal error: {type(exc).__name__}")
