"""API tokens: made once and shown once; only a SHA-256 of the secret is stored (the secret has
256 random bits, so a fast hash is enough). A token names one user, one datastack and a
permission level on it; revoked tokens stop working at once."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fixative.auth.permissions import LEVELS, Principal
from fixative.auth.tables import api_tokens, user_groups
from fixative.errors import InvalidInput, NotFound, Unauthorized
from fixative.store import Store

TOKEN_PREFIX = "fxt_"
USER_RE = re.compile(r"^[A-Za-z0-9_.@+-]{1,128}$")
GROUP_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
TOKEN_MAX = 200


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user_id: str
    datastack: str
    permission: str
    description: str
    created_at: datetime
    revoked_at: datetime | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_user(user_id: object) -> str:
    if not isinstance(user_id, str) or not USER_RE.fullmatch(user_id):
        raise InvalidInput(f"user {user_id!r} must be 1-128 of A-Z a-z 0-9 _ . @ + -")
    return user_id


def _info(row: sa.Row[Any]) -> TokenInfo:
    return TokenInfo(
        int(row.id),
        str(row.user_id),
        str(row.datastack),
        str(row.permission),
        str(row.description),
        row.created,
        row.revoked,
    )


def create_token(
    store: Store, user_id: str, datastack: str, permission: str, description: str = ""
) -> tuple[TokenInfo, str]:
    """A new token; returns its record and the secret (the only time the secret exists)."""
    check_user(user_id)
    if permission not in LEVELS:
        raise InvalidInput(f"permission {permission!r} must be one of {', '.join(LEVELS)}")
    if not isinstance(datastack, str) or not datastack:
        raise InvalidInput("a token needs a datastack")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.write() as conn:
        inserted = conn.execute(
            api_tokens.insert().values(
                token_hash=_hash(secret),
                user_id=user_id,
                datastack=datastack,
                permission=permission,
                description=description,
                created=store.clock(),
            )
        ).inserted_primary_key
    assert inserted is not None
    return get_token(store, int(inserted[0])), secret


def get_token(store: Store, token_id: int) -> TokenInfo:
    with store.read() as conn:
        row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).first()
    if row is None:
        raise NotFound(f"token {token_id} does not exist")
    return _info(row)


def list_tokens(
    store: Store, user_id: str | None = None, *, include_revoked: bool = False
) -> list[TokenInfo]:
    query = sa.select(api_tokens).order_by(api_tokens.c.id)
    if user_id is not None:
        query = query.where(api_tokens.c.user_id == user_id)
    if not include_revoked:
        query = query.where(api_tokens.c.revoked.is_(None))
    with store.read() as conn:
        return [_info(r) for r in conn.execute(query)]


def revoke_token(store: Store, token_id: int) -> TokenInfo:
    with store.write() as conn:
        done = conn.execute(
            api_tokens.update()
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked.is_(None))
            .values(revoked=store.clock())
        )
    if done.rowcount == 0:
        get_token(store, token_id)  # NotFound when it never existed; else already revoked
    return get_token(store, token_id)


def authenticate(store: Store, secret: str) -> Principal:
    """The principal a presented token stands for (Unauthorized when unknown or revoked)."""
    if not secret or len(secret) > TOKEN_MAX:
        raise Unauthorized("the token is not valid")
    with store.read() as conn:
        row = conn.execute(
            sa.select(api_tokens).where(
                api_tokens.c.token_hash == _hash(secret), api_tokens.c.revoked.is_(None)
            )
        ).first()
    if row is None:
        raise Unauthorized("the token is not valid (unknown or revoked)")
    token = _info(row)
    return Principal(
        token.user_id, token.datastack, token.permission, groups_of(store, token.user_id)
    )


def groups_of(store: Store, user_id: str) -> frozenset[str]:
    with store.read() as conn:
        rows = conn.execute(
            sa.select(user_groups.c.group_name).where(user_groups.c.user_id == user_id)
        )
        return frozenset(str(r[0]) for r in rows)


def add_to_group(store: Store, user_id: str, group: str) -> None:
    check_user(user_id)
    if not GROUP_RE.fullmatch(group):
        raise InvalidInput(f"group {group!r} must be 1-128 of A-Z a-z 0-9 _ . -")
    with store.write() as conn:
        exists = conn.execute(
            sa.select(user_groups).where(
                user_groups.c.user_id == user_id, user_groups.c.group_name == group
            )
        ).first()
        if exists is None:
            conn.execute(user_groups.insert().values(user_id=user_id, group_name=group))


def remove_from_group(store: Store, user_id: str, group: str) -> None:
    with store.write() as conn:
        conn.execute(
            user_groups.delete().where(
                user_groups.c.user_id == user_id, user_groups.c.group_name == group
            )
        )


def list_groups(store: Store) -> dict[str, list[str]]:
    """Each group with its users."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(user_groups.c.group_name, user_groups.c.user_id).order_by(
                user_groups.c.group_name, user_groups.c.user_id
            )
        ).all()
    groups: dict[str, list[str]] = {}
    for group, user in rows:
        groups.setdefault(str(group), []).append(str(user))
    return groups
