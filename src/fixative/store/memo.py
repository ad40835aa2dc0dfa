"""Metadata reads answered once per scope: one HTTP request reads a table's metadata and a
version's catalogue row from the database once, however many layers ask (permission checks,
the query planner, the version cache).

A scope is opened per request by the API (``open_scope``/``close_scope`` around it, on its
thread), and by the query engine around one query's planning (``scope``). Outside a scope every
read goes to the database. Any write transaction of the store
(``Store.write``) forgets what the scope remembered, on entry and on exit, so a request never
reads back older metadata than it wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any, TypeVar

T = TypeVar("T")

_MEMO: ContextVar[dict[Hashable, Any] | None] = ContextVar("fixative_read_memo", default=None)


def open_scope() -> Token[dict[Hashable, Any] | None]:
    """Start remembering reads on this thread (until ``close_scope``)."""
    return _MEMO.set({})


def close_scope(token: Token[dict[Hashable, Any] | None]) -> None:
    _MEMO.reset(token)


@contextmanager
def scope() -> Iterator[None]:
    """Remember reads for the block (one query's planning, outside a request); inside a scope
    already open, the block is part of that one."""
    if _MEMO.get() is not None:
        yield
        return
    token = open_scope()
    try:
        yield
    finally:
        close_scope(token)


def remembered(key: Hashable, read: Callable[[], T]) -> T:
    """``read()``, or what it returned earlier in this scope for ``key``."""
    memo = _MEMO.get()
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    found: T = memo[key]
    return found


def forget() -> None:
    """Drop what this scope remembered (a write happened)."""
    memo = _MEMO.get()
    if memo:
        memo.clear()
