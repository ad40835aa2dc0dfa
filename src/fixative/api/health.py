"""Health endpoints for load balancers and orchestrators: ``/health`` and ``/health/live`` do
no I/O; ``/health/ready`` answers 200 only when the live database answers a query."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify

from fixative.api.errors import error_response
from fixative.api.services import HttpServices


def health_blueprint(services: HttpServices) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/health")
    def health() -> Response:
        return jsonify({"status": "ok"})

    @bp.get("/health/live")
    def live() -> Response:
        return jsonify({"status": "ok"})

    @bp.get("/health/ready")
    def ready() -> Response:
        try:
            with services.store.read() as conn:
                conn.execute(sa.text("SELECT 1")).scalar_one()
        except sa.exc.SQLAlchemyError as exc:
            return error_response(503, "Transient", f"database unavailable: {type(exc).__name__}")
        return jsonify({"status": "ok", "database": "ok"})

    return bp
