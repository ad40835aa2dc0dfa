"""Run a write once per (user, key). The lookup, the write and the record of its answer are one
transaction, so a write that committed always has its answer stored, and a write that rolled
back leaves no key behind. Two simultaneous requests with one key: the second waits for the
first's transaction (SQLite: one writer; PostgreSQL: the primary key), then replays its answer.

Keys are kept ``RETENTION``; the same key with another request is refused (422), since the
client has mixed up two writes."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from fixative.errors import InvalidInput, Unprocessable
from fixative.idempotency.tables import idempotency_keys
from fixative.store import Store

RETENTION = timedelta(hours=24)
KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII without spaces


@dataclass(frozen=True)
class Request:
    user_id: str
    key: str
    fingerprint: str

    @classmethod
    def of(cls, user_id: str, key: str, method: str, path: str, body: bytes) -> Request:
        if not KEY_RE.fullmatch(key):
            raise InvalidInput("Idempotency-Key must be 1 to 255 printable ASCII characters")
        digest = hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()
        return cls(user_id, key, digest)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    replayed: bool


class _Raced(Exception):
    """Another request recorded the same key first."""


def run_once(store: Store, request: Request, write: Callable[[], Any], status: int = 200) -> Answer:
    """``write()``'s JSON-able result, or the answer recorded for this key before."""
    for _ in range(2):
        try:
            with store.shared_write() as conn:
                found = _find(conn, request)
                if found is not None:
                    return found
                body = write()
                _record(conn, request, status, body, store.clock())
                return Answer(status, body, replayed=False)
        except _Raced:
            continue
    raise AssertionError("unreachable: a raced key is recorded when asked again")


def _find(conn: sa.Connection, request: Request) -> Answer | None:
    k = idempotency_keys.c
    row = conn.execute(
        sa.select(k.fingerprint, k.status, k.body).where(
            k.user_id == request.user_id, k.key == request.key
        )
    ).first()
    if row is None:
        return None
    if row.fingerprint != request.fingerprint:
        raise Unprocessable(
            f"Idempotency-Key {request.key!r} was used for another request; use a new key"
        )
    return Answer(row.status, json.loads(row.body), replayed=True)


def _record(conn: sa.Connection, request: Request, status: int, body: Any, now: Any) -> None:
    k = idempotency_keys.c
    conn.execute(idempotency_keys.delete().where(k.created < now - RETENTION))
    try:
        with conn.begin_nested():
            conn.execute(
                idempotency_keys.insert().values(
                    user_id=request.user_id,
                    key=request.key,
                    fingerprint=request.fingerprint,
                    status=status,
                    body=json.dumps(body),
                    created=now,
                )
            )
    except sa.exc.IntegrityError:
        raise _Raced from None
