"""Writing one partition's rows as Parquet files: zstd, statistics on, a page index, row groups
of exactly ``row_group_rows`` rows (the last one of a file smaller), at most ``file_rows`` rows
per file, the sort order recorded in the footer and Bloom filters on root-id columns, so a
reader looking for a few root ids skips most row groups by min/max and the rest by filter.

Only text columns are dictionary-encoded. Ids, root ids, positions and sizes take nearly as many
values as rows, so a dictionary fills up and the writer falls back to plain pages after paying
for it: encoding them plain halves the time spent writing and makes the files about a quarter
smaller (zstd finds the repeats a dictionary would).

Rows arrive already in order; only the current row group's rows are held. Each file's size and
sha256 are taken as it is written (``HashingSink``), not by reading it back."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fixative.export.target import HashingSink, Target

Key = tuple[int, ...]
BLOOM_FPP = 0.01


@dataclass(frozen=True)
class WrittenFile:
    """``path`` is relative to the release's root."""

    path: str
    rows: int
    bytes: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns worth a dictionary: text (names, tags), whose values repeat."""
    text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary)
    return [f.name for f in schema if any(is_(f.type) for is_ in text)]


@dataclass(frozen=True)
class FileLayout:
    row_group_rows: int
    file_rows: int
    sort: tuple[str, ...]  # columns the rows are sorted by, outermost first
    bloom: tuple[str, ...]  # columns that get a Bloom filter per row group


def pieces(
    batches: Iterable[pa.RecordBatch], levels: int
) -> Iterator[tuple[Key, Iterator[pa.RecordBatch]]]:
    """Group a stream ordered by its last ``levels`` columns (the partition numbers) into
    (key, that partition's batches, partition columns dropped), as ``itertools.groupby``: each
    group must be read before the next."""

    def runs() -> Iterator[tuple[Key, pa.RecordBatch]]:
        for batch in batches:
            if levels == 0:
                yield (), batch
                continue
            width = batch.num_columns - levels
            keys = np.stack([batch.column(width + i).to_numpy() for i in range(levels)], axis=1)
            change = np.flatnonzero(np.any(keys[1:] != keys[:-1], axis=1)) + 1
            starts = [0, *change.tolist()]
            ends = [*change.tolist(), batch.num_rows]
            data = batch.select(range(width))
            for lo, hi in zip(starts, ends, strict=True):
                yield tuple(int(v) for v in keys[lo]), data.slice(lo, hi - lo)

    for key, group in groupby(runs(), key=lambda run: run[0]):
        yield key, (batch for _, batch in group)


def piece_directory(keys: Sequence[str], key: Key) -> str:
    """The Hive-style directory of a partition, relative to its table's directory."""
    return "/".join(f"{k}={v}" for k, v in zip(keys, key, strict=True))


class _Files:
    """The files of one partition, opened one after another."""

    def __init__(
        self, target: Target, root: str, directory: str, schema: pa.Schema, layout: FileLayout
    ) -> None:
        self.target, self.root, self.directory = target, root, directory
        self.schema, self.layout = schema, layout
        self.written: list[WrittenFile] = []
        self._writer: pq.ParquetWriter | None = None
        self._sink: HashingSink | None = None
        self._rows = 0

    @property
    def open(self) -> bool:
        return self._writer is not None

    @property
    def room(self) -> int:
        return self.layout.file_rows - self._rows

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._open()
        assert self._writer is not None
        self._writer.write_table(table, row_group_size=max(1, table.num_rows))
        self._rows += table.num_rows
        if self.room <= 0:
            self.close()

    def _open(self) -> None:
        relative = posixpath.join(self.directory, f"part-{len(self.written):04d}.parquet")
        path = posixpath.join(self.root, relative)
        self.target.fs.create_dir(posixpath.dirname(path), recursive=True)
        self._sink = HashingSink(self.target.fs.open_output_stream(path))
        self._relative = relative
        sorting = pq.SortingColumn.from_ordering(
            self.schema, [(c, "ascending") for c in self.layout.sort]
        )
        bloom = {
            c: {"ndv": self.layout.row_group_rows, "fpp": BLOOM_FPP} for c in self.layout.bloom
        }
        self._writer = pq.ParquetWriter(
            self._sink,
            self.schema,
            use_dictionary=dictionary_columns(self.schema) or False,
            compression="zstd",
            write_statistics=True,
            write_page_index=True,
            sorting_columns=list(sorting) or None,
            bloom_filter_options=bloom or None,
        )
        self._rows = 0

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        assert self._sink is not None
        self._sink.close()
        self.written.append(
            WrittenFile(self._relative, self._rows, self._sink.size, self._sink.sha256)
        )
        self._writer = self._sink = None


def write_piece(
    target: Target,
    root: str,
    directory: str,
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    layout: FileLayout,
) -> list[WrittenFile]:
    """Write one partition's ordered batches under ``root/directory``; the files written."""
    files = _Files(target, root, directory, schema, layout)
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while held and held >= min(layout.row_group_rows, files.room):
            take = min(layout.row_group_rows, files.room)
            table = pa.Table.from_batches(pending, schema)
            files.write(table.slice(0, take))
            pending = table.slice(take).to_batches()
            held -= take
    if held or not (files.written or files.open):  # an empty table still gets its schema
        files.write(pa.Table.from_batches(pending, schema))
    files.close()
    return files.written
