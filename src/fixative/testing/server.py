"""Serve a WSGI app on a free loopback port in a background thread (real HTTP for tests)."""

from __future__ import annotations

from fixative.api.background import serve

__all__ = ["serve"]
