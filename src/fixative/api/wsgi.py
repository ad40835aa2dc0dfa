"""The WSGI entry point for multi-process servers: ``gunicorn 'fixative.api.wsgi:make_app()'``.
Each worker process builds its own services (database engines must not cross a fork); the
settings file comes from ``FIXATIVE_CONFIG`` like everywhere else."""

from __future__ import annotations

from flask import Flask

from fixative.api.app import create_app
from fixative.api.services import build_services
from fixative.config import load_settings


def make_app() -> Flask:
    """Settings -> services -> app, called once per worker."""
    settings = load_settings()
    return create_app(services=build_services(settings))
