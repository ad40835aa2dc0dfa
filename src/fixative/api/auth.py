"""Authentication and the datastack-level check, for every request in one place.

A token is read from ``Authorization: Bearer``, the ``middle_auth_token`` cookie or the
``middle_auth_token`` query parameter (what caveclient and browsers send). Without a valid one
every endpoint but the public probes answers 401. The datastack a request touches is found from
its path (``datastack``, ``aligned_volume`` or chunkedgraph ``table_id``) and the principal must
hold view (reads) or edit (writes) on it, else 403; endpoints that need more (admin workflows,
per-table permissions) check it themselves through ``current_principal``. Decisions are made per
request from the database: nothing is cached across users.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from flask import Flask, g, request

from fixative.api.csrf import refuse_cross_site
from fixative.auth.permissions import (
    LEVELS,
    Principal,
    local_principal,
    require_read,
    require_write,
)
from fixative.config import Settings
from fixative.errors import Forbidden, NotFound, Unauthorized
from fixative.store import Store, TableInfo

AuthMode = Literal["none", "tokens"]
COOKIE = "middle_auth_token"
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
# endpoints whose POST only reads (queries) and so needs view, not edit
READING_POSTS = (
    "query",
    "roots",
    "roots_binary",  # caveclient resolves a live query's roots through it
    "is_latest",
    "root_timestamps",
    "lineage",
    "lineage_graph_multiple",
    "types",
)
PUBLIC_PATHS = (
    "/health",
    "/info/version",
    "/materialize/api/versions",
    "/materialize/version",
    "/segmentation/api/versions",
    "/segmentation/api/version",
    "/schema/versions",
    "/api/openapi.json",
    "/api/docs",
)
PUBLIC_EXACT = frozenset({"/"})  # the service's description (``api.home``): not "/" + anything


def presented_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(COOKIE) or request.args.get(COOKIE) or None


class Authorizer:
    def __init__(self, store: Store, settings: Settings, mode: AuthMode) -> None:
        self.store, self.settings, self.mode = store, settings, mode

    def principal(self) -> Principal:
        if self.mode == "none":
            return local_principal()
        from fixative.auth.tokens import authenticate

        token = presented_token()
        if token is None:
            raise Unauthorized(
                "this server needs a token: send 'Authorization: Bearer <token>' "
                f"or the {COOKIE} cookie"
            )
        return authenticate(self.store, token)

    def datastacks_of(self) -> dict[str, list[str]]:
        """The datastacks a request's path names (several for an aligned volume)."""
        args = request.view_args or {}
        if "datastack" in args:
            return {"datastack": [str(args["datastack"])]}
        if "aligned_volume" in args:
            av = str(args["aligned_volume"])
            names = [ds.name for ds in self.settings.datastacks if ds.aligned_volume == av]
            return {"aligned_volume": names}
        if "table_id" in args:
            names = [
                ds.name for ds in self.settings.datastacks if ds.pcg_table_name == args["table_id"]
            ]
            return {"table_id": names}
        return {}

    def check_request(self) -> None:
        path = request.path
        if self.mode == "none":
            g.principal = local_principal()
            return
        if path in PUBLIC_EXACT or any(path == p or path.startswith(p + "/") for p in PUBLIC_PATHS):
            return
        principal = self.principal()
        g.principal = principal
        needed = "view"
        if request.method in WRITE_METHODS and not path.endswith(READING_POSTS):
            needed = "edit"
        for names in self.datastacks_of().values():
            if names and not any(principal.level_on(n) >= LEVELS[needed] for n in names):
                raise Forbidden(
                    f"user {principal.user_id!r} needs {needed} permission on datastack "
                    f"{' or '.join(repr(n) for n in names)}"
                )

    def owner_groups(self, table: TableInfo) -> frozenset[str]:
        from fixative.auth.tokens import groups_of

        return groups_of(self.store, table.user_id)

    def datastack_of_volume(self, aligned_volume: str) -> str:
        for ds in self.settings.datastacks:
            if ds.aligned_volume == aligned_volume:
                return ds.name
        raise NotFound(f"aligned volume {aligned_volume!r} is not served here")

    def require_read(self, datastack: str, table: TableInfo) -> None:
        require_read(current_principal(), datastack, table, self.owner_groups(table))

    def require_write(self, datastack: str, table: TableInfo) -> None:
        require_write(current_principal(), datastack, table, self.owner_groups(table))

    def readable(self, datastack: str, tables: Iterable[TableInfo]) -> list[TableInfo]:
        from fixative.auth.permissions import may_read

        principal = current_principal()
        groups: dict[str, frozenset[str]] = {}  # one lookup per owner, not per table
        readable = []
        for t in tables:
            if t.user_id not in groups:
                groups[t.user_id] = self.owner_groups(t)
            if may_read(principal, datastack, t, groups[t.user_id]):
                readable.append(t)
        return readable


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        raise Unauthorized("no principal for this request")
    assert isinstance(principal, Principal)
    return principal


def register_auth(app: Flask, authorizer: Authorizer) -> None:
    """Check every request before its view runs."""

    def before() -> None:
        refuse_cross_site()
        authorizer.check_request()

    app.before_request(before)
