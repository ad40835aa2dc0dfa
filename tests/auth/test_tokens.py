"""Tokens on both backends: shown once, stored as a hash, listed, revoked; groups."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from fixative.auth.tables import api_tokens
from fixative.auth.tokens import (
    add_to_group,
    authenticate,
    create_token,
    groups_of,
    list_groups,
    list_tokens,
    remove_from_group,
    revoke_token,
)
from fixative.errors import InvalidInput, NotFound, Unauthorized
from fixative.store import Store


def test_a_token_is_stored_only_as_its_hash(store: Store) -> None:
    info, secret = create_token(store, "alice", "demo", "edit", "laptop")
    assert secret.startswith("fxt_")
    assert len(secret) > 40
    with store.read() as conn:
        stored = conn.execute(sa.select(api_tokens)).one()
    assert secret not in [str(v) for v in stored]
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert (info.user_id, info.datastack, info.permission, info.description) == (
        "alice",
        "demo",
        "edit",
        "laptop",
    )
    principal = authenticate(store, secret)
    assert (principal.user_id, principal.datastack, principal.permission) == (
        "alice",
        "demo",
        "edit",
    )


def test_two_tokens_are_different_and_each_names_its_user(store: Store) -> None:
    _, a = create_token(store, "alice", "demo", "view")
    _, b = create_token(store, "bob", "demo", "admin")
    assert a != b
    assert authenticate(store, a).user_id == "alice"
    assert authenticate(store, b).permission == "admin"


def test_revoked_and_unknown_tokens_are_refused(store: Store) -> None:
    info, secret = create_token(store, "alice", "demo", "view")
    revoked = revoke_token(store, info.id)
    assert revoked.revoked_at is not None
    with pytest.raises(Unauthorized, match="unknown or revoked"):
        authenticate(store, secret)
    with pytest.raises(Unauthorized):
        authenticate(store, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    with pytest.raises(Unauthorized):
        authenticate(store, "x" * 1000)
    with pytest.raises(NotFound, match="token 999"):
        revoke_token(store, 999)
    assert list_tokens(store) == []
    assert [t.id for t in list_tokens(store, include_revoked=True)] == [info.id]


def test_listing_by_user(store: Store) -> None:
    create_token(store, "alice", "demo", "view")
    create_token(store, "bob", "demo", "view")
    create_token(store, "alice", "other", "admin")
    assert [(t.user_id, t.datastack) for t in list_tokens(store, "alice")] == [
        ("alice", "demo"),
        ("alice", "other"),
    ]


@pytest.mark.parametrize(
    ("user", "permission", "message"),
    [
        ("alice", "root", "permission 'root'"),
        ("", "view", "user ''"),
        ("al ice", "view", "user 'al ice'"),
        ("x'; DROP TABLE api_tokens; --", "view", "user"),
    ],
)
def test_bad_token_requests_are_refused(
    store: Store, user: str, permission: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        create_token(store, user, "demo", permission)
    assert list_tokens(store, include_revoked=True) == []


def test_groups(store: Store) -> None:
    add_to_group(store, "alice", "lab")
    add_to_group(store, "alice", "lab")  # idempotent
    add_to_group(store, "bob", "lab")
    add_to_group(store, "carol", "other")
    assert groups_of(store, "alice") == {"lab"}
    assert list_groups(store) == {"lab": ["alice", "bob"], "other": ["carol"]}
    _, secret = create_token(store, "bob", "demo", "view")
    assert authenticate(store, secret).groups == {"lab"}
    remove_from_group(store, "bob", "lab")
    assert authenticate(store, secret).groups == frozenset()  # decided at each request
    with pytest.raises(InvalidInput, match="group"):
        add_to_group(store, "alice", "bad group!")
