"""Reading ahead on a thread: items in order, the source's error raised to the reader, and a
reader that stops early stops the source and closes it; the same for a table's parts read on
several threads at once, which come in the parts' order."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from fixative.export.prefetch import prefetched, read_in_order


def test_items_in_order() -> None:
    assert list(prefetched(iter(range(100)), depth=3)) == list(range(100))


def test_error_reaches_the_reader() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("lost the database")

    reader = prefetched(failing())
    assert next(reader) == 1
    with pytest.raises(ValueError, match="lost the database"):
        next(reader)


def test_early_stop_closes_the_source() -> None:
    closed = []

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.append(True)

    reader = prefetched(endless(), depth=2)
    assert [next(reader) for _ in range(5)] == [0, 1, 2, 3, 4]
    reader.close()
    assert closed == [True]


def _parts(sizes: list[int]) -> list[list[tuple[int, int]]]:
    return [[(p, i) for i in range(n)] for p, n in enumerate(sizes)]


@pytest.mark.parametrize("streams", [1, 2, 3, 5])
def test_parts_read_on_several_threads_come_in_order(streams: int) -> None:
    parts = _parts([3, 0, 7, 1, 12, 5])
    threads: set[str] = set()

    def read(stream: int, part: int) -> Iterator[tuple[int, int]]:
        threads.add(threading.current_thread().name + str(stream))
        assert part % min(streams, len(parts)) == stream
        yield from parts[part]

    got = list(read_in_order(read, len(parts), streams, depth=2))
    assert got == [item for part in parts for item in part]
    assert len(threads) == min(streams, len(parts))


def test_a_parts_error_reaches_the_reader_and_every_reader_stops() -> None:
    closed: list[int] = []

    def read(stream: int, part: int) -> Iterator[int]:
        try:
            if part == 3:
                raise ValueError("lost the database")
            yield from range(100)
        finally:
            closed.append(part)

    reader = read_in_order(read, 6, 2, depth=2)
    with pytest.raises(ValueError, match="lost the database"):
        list(reader)
    assert 3 in closed
    assert all(t.name != "export-prefetch" for t in threading.enumerate())


def test_early_stop_closes_every_stream() -> None:
    closed: list[int] = []

    def read(stream: int, part: int) -> Iterator[int]:
        try:
            yield from range(1000)
        finally:
            closed.append(part)

    reader = read_in_order(read, 4, 2, depth=2)
    assert next(reader) == 0
    reader.close()
    assert sorted(closed) == [0, 1]
    assert all(t.name != "export-prefetch" for t in threading.enumerate())
