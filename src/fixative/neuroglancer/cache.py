"""Answers kept for immutable versions: the most recently used, up to a byte budget."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Kept(Generic[V]):
    """Thread-safe LRU bounded by the total ``size`` of its values."""

    def __init__(self, budget_bytes: int, size: Callable[[V], int]) -> None:
        self._budget = budget_bytes
        self._size = size
        self._used = 0
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, value: V) -> None:
        size = self._size(value)
        if size > self._budget // 4:
            return  # one answer never crowds out the rest
        with self._lock:
            old = self._items.pop(key, None)
            self._used += size - (self._size(old) if old is not None else 0)
            self._items[key] = value
            while self._used > self._budget:
                _, dropped = self._items.popitem(last=False)
                self._used -= self._size(dropped)
