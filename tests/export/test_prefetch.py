"""Reading ahead on a thread: items in order, the source's error raised to the reader, and a
reader that stops early stops the source and closes it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixative.export.prefetch import prefetched


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
