"""The decisions, as pure functions of who asks and what they ask for.

Datastack levels: ``view`` < ``edit`` < ``admin``. A table's ``read_permission`` and
``write_permission`` are PUBLIC (anyone with view, resp. edit, on the datastack), GROUP (its owner
and users sharing a group with the owner) or PRIVATE (its owner); datastack admins pass all three.
Writing also needs ``edit`` on the datastack. Nothing here is cached: every request decides for
its own user (the original cached the decision per table and leaked private tables).
"""

from __future__ import annotations

from dataclasses import dataclass

from fixative.errors import Forbidden
from fixative.store.model import TableInfo

LEVELS = {"view": 1, "edit": 2, "admin": 3}
ANY_DATASTACK = "*"


@dataclass(frozen=True)
class Principal:
    """Who a request runs as: from a token, or the local user of an unauthenticated server."""

    user_id: str
    datastack: str  # the datastack the permission holds on; "*" for every one
    permission: str
    groups: frozenset[str] = frozenset()

    def level_on(self, datastack: str) -> int:
        if self.datastack not in (ANY_DATASTACK, datastack):
            return 0
        return LEVELS[self.permission]

    def require(self, datastack: str, needed: str) -> None:
        if self.level_on(datastack) < LEVELS[needed]:
            raise Forbidden(
                f"user {self.user_id!r} needs {needed} permission on datastack {datastack!r}"
            )


def local_principal() -> Principal:
    """The user of a server running without authentication (loopback only)."""
    return Principal("local", ANY_DATASTACK, "admin")


def _table_allows(
    principal: Principal, datastack: str, table: TableInfo, rule: str, owner_groups: frozenset[str]
) -> bool:
    if principal.level_on(datastack) >= LEVELS["admin"] or table.user_id == principal.user_id:
        return True
    if rule == "PUBLIC":
        return True
    if rule == "GROUP":
        return bool(principal.groups & owner_groups)
    return False


def may_read(
    principal: Principal, datastack: str, table: TableInfo, owner_groups: frozenset[str]
) -> bool:
    return principal.level_on(datastack) >= LEVELS["view"] and _table_allows(
        principal, datastack, table, table.read_permission, owner_groups
    )


def may_write(
    principal: Principal, datastack: str, table: TableInfo, owner_groups: frozenset[str]
) -> bool:
    return principal.level_on(datastack) >= LEVELS["edit"] and _table_allows(
        principal, datastack, table, table.write_permission, owner_groups
    )


def require_read(
    principal: Principal, datastack: str, table: TableInfo, owner_groups: frozenset[str]
) -> None:
    if not may_read(principal, datastack, table, owner_groups):
        raise Forbidden(f"user {principal.user_id!r} may not read table {table.table_name!r}")


def require_write(
    principal: Principal, datastack: str, table: TableInfo, owner_groups: frozenset[str]
) -> None:
    if not may_write(principal, datastack, table, owner_groups):
        raise Forbidden(f"user {principal.user_id!r} may not write table {table.table_name!r}")
