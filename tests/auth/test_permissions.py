"""The permission rules as a matrix: datastack level x table permission x who asks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fixative.auth.permissions import (
    Principal,
    local_principal,
    may_read,
    may_write,
    require_read,
)
from fixative.errors import Forbidden
from fixative.schemas.registry import get_schema
from fixative.store.model import TableInfo

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OWNER_GROUPS = frozenset({"lab"})


def table(read: str, write: str, owner: str = "owner") -> TableInfo:
    return TableInfo(
        "cells", get_schema("cell_type_local"), "av", owner, "", None, None, None,
        (4.0, 4.0, 40.0), read, write, True, T0, T0,
    )  # fmt: skip


OWNER = Principal("owner", "demo", "edit", OWNER_GROUPS)
MEMBER = Principal("member", "demo", "edit", frozenset({"lab"}))
STRANGER = Principal("stranger", "demo", "edit", frozenset({"elsewhere"}))
ADMIN = Principal("boss", "demo", "admin")
VIEWER = Principal("viewer", "demo", "view", frozenset({"lab"}))
OTHER_STACK = Principal("owner", "other", "admin", OWNER_GROUPS)

# who, table permission -> may read, may write
MATRIX = [
    (OWNER, "PRIVATE", True, True),
    (MEMBER, "PRIVATE", False, False),
    (STRANGER, "PRIVATE", False, False),
    (ADMIN, "PRIVATE", True, True),
    (VIEWER, "PRIVATE", False, False),
    (OTHER_STACK, "PRIVATE", False, False),
    (OWNER, "GROUP", True, True),
    (MEMBER, "GROUP", True, True),
    (STRANGER, "GROUP", False, False),
    (ADMIN, "GROUP", True, True),
    (VIEWER, "GROUP", True, False),  # view level never writes
    (OTHER_STACK, "GROUP", False, False),
    (OWNER, "PUBLIC", True, True),
    (MEMBER, "PUBLIC", True, True),
    (STRANGER, "PUBLIC", True, True),
    (ADMIN, "PUBLIC", True, True),
    (VIEWER, "PUBLIC", True, False),
    (OTHER_STACK, "PUBLIC", False, False),  # a token for another datastack grants nothing here
]


@pytest.mark.parametrize(("who", "rule", "reads", "writes"), MATRIX)
def test_permission_matrix(who: Principal, rule: str, reads: bool, writes: bool) -> None:
    t = table(rule, rule)
    assert may_read(who, "demo", t, OWNER_GROUPS) is reads
    assert may_write(who, "demo", t, OWNER_GROUPS) is writes


def test_read_and_write_rules_are_separate() -> None:
    t = table("PUBLIC", "PRIVATE")
    assert may_read(STRANGER, "demo", t, OWNER_GROUPS)
    assert not may_write(STRANGER, "demo", t, OWNER_GROUPS)


def test_a_decision_for_one_user_is_not_reused_for_another() -> None:
    """The original cached 'may read' per table; here the second user is refused."""
    private = table("PRIVATE", "PRIVATE")
    require_read(OWNER, "demo", private, OWNER_GROUPS)
    with pytest.raises(Forbidden, match="'stranger' may not read table 'cells'"):
        require_read(STRANGER, "demo", private, OWNER_GROUPS)


def test_the_local_user_of_an_open_server_may_do_everything() -> None:
    local = local_principal()
    private = table("PRIVATE", "PRIVATE")
    assert may_read(local, "any", private, frozenset())
    assert may_write(local, "any", private, frozenset())
    local.require("any", "admin")
    with pytest.raises(Forbidden, match="needs admin permission on datastack 'demo'"):
        VIEWER.require("demo", "admin")
