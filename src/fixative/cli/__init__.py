"""The ``fixative`` command: ``main`` builds the root group; one module per command group
(workflows, versions, status, serve, runner, auth) adds its commands."""

from fixative.cli.main import main

__all__ = ["main"]
