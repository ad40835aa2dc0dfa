"""The WSGI entry point for multi-process servers: ``gunicorn 'fixative.api.wsgi:make_app()'``.
Each worker process builds its own services (database engines must not cross a fork); the
settings file comes from ``FIXATIVE_CONFIG`` like everywhere else."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from fixative.api.app import create_app
from fixative.api.services import build_services
from fixative.config import load_settings
from fixative.runner.reaper import serving_reaper


def make_app() -> Flask:
    """Settings -> services -> app, called once per worker. Each worker also runs a reaper
    (``runner.reaper.serving_reaper``): the runs a killed worker left are redone by another
    worker's runner, as ``fixative serve`` does for its own (of several reapers one wins)."""
    settings = load_settings()
    services = build_services(settings)
    if services.runner is not None:
        stale_after = timedelta(seconds=settings.run_stale_after_s)
        serving_reaper(services.store, services.runner, stale_after)  # a daemon thread
    return create_app(services=services)
