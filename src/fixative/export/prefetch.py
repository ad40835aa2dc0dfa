"""Reading ahead: the next batches are fetched from the database on a thread while the current
one is encoded and written (both release the GIL), at most ``depth`` batches ahead, so memory
stays bounded. The source iterator lives and ends on that thread; an error there is raised
here, and leaving early stops and closes it.

``read_in_order`` reads a table's consecutive parts (id ranges) on several threads at once,
each with a database connection of its own, and hands them on in order: one PostgreSQL backend
encodes ``COPY`` rows at a fixed rate, which bounds a single stream whatever the writer does."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()
_PART_END = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Ahead:
    """A thread draining ``source`` into a queue of at most ``depth`` items (started at once)."""

    def __init__(self, source: Iterator[Any], depth: int) -> None:
        self._source = source
        self._ahead: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="export-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    break
            else:
                self._put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Failed(exc))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def get(self) -> Any:
        """The next item, ``_END`` at the end; the source's error raised."""
        item = self._ahead.get()
        if isinstance(item, _Failed):
            raise item.exc
        return item

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def prefetched(source: Iterator[T], depth: int = 2) -> Iterator[T]:
    ahead = _Ahead(source, depth)
    try:
        while (item := ahead.get()) is not _END:
            yield item
    finally:
        ahead.stop()


def read_in_order(
    read: Callable[[int, int], Iterator[T]], parts: int, streams: int, depth: int = 8
) -> Iterator[T]:
    """The items of parts 0, 1, ..., ``parts - 1``, in that order. ``read(stream, part)``
    reads one part; part i is read on thread ``i % streams``, at most ``depth`` items ahead
    of the consumer, so a thread reads its next part while the parts before it are used."""
    streams = max(1, min(streams, parts))

    def chain(stream: int) -> Iterator[Any]:
        for part in range(stream, parts, streams):
            yield from read(stream, part)
            yield _PART_END

    readers = [_Ahead(chain(s), depth) for s in range(streams)]
    try:
        for part in range(parts):
            reader = readers[part % streams]
            while (item := reader.get()) is not _PART_END:
                if item is _END:  # pragma: no cover - every part ends with its marker
                    raise RuntimeError("a reader ended before its parts")
                yield item
    finally:
        for reader in readers:
            reader.stop()
