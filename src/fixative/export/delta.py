"""Writing a table as a Delta Lake table with the ``deltalake`` package: the ordered batches go
in as one stream (the writer holds a bounded buffer per open partition), partitioned by the
partition numbers as Hive-style columns, zstd row groups of ``row_group_rows`` rows with page
statistics, Bloom filters on root ids and dictionaries on text columns only (as the Parquet
files: ``fixative.export.parquet.dictionary_columns``), in one commit. A table is the unit of
resumption: a rerun rewrites a table whose commit it did not record. Files are hashed
afterwards by reading them back (the Rust writer writes them itself)."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from fixative.export.parquet import BLOOM_FPP, WrittenFile, dictionary_columns
from fixative.export.target import Target, sha256_of


def write_delta_table(
    target: Target,
    root: str,
    directory: str,
    batches: Iterator[pa.RecordBatch],
    schema: pa.Schema,
    keys: Sequence[str],
    row_group_rows: int,
    bloom: Sequence[str] = (),
) -> list[WrittenFile]:
    """Write ``batches`` (``schema``'s columns, the partition numbers last, named ``keys``)
    as the Delta table ``root/directory``, page statistics on and Bloom filters on the
    ``bloom`` columns; every file of it, data and log, sorted by path."""
    from deltalake import ColumnProperties, DeltaTable, WriterProperties, write_deltalake

    path = posixpath.join(root, directory)
    if target.exists(path):  # an unrecorded attempt's files: start the table again
        target.fs.delete_dir(path)
    reader = pa.RecordBatchReader.from_batches(schema, batches)
    write_deltalake(
        target.uri(path),
        reader,
        partition_by=list(keys) or None,
        mode="error",
        storage_options=target.storage_options or None,
        writer_properties=WriterProperties(
            compression="ZSTD",
            max_row_group_size=row_group_rows,
            default_column_properties=ColumnProperties(
                statistics_enabled="PAGE", dictionary_enabled=False
            ),
            column_properties=_columns(schema, bloom, row_group_rows),
        ),
    )
    table = DeltaTable(target.uri(path), storage_options=target.storage_options or None)
    actions = pa.table(table.get_add_actions(flatten=True)).to_pydict()
    rows = {
        posixpath.normpath(p): int(n)
        for p, n in zip(actions["path"], actions["num_records"], strict=True)
    }
    written = []
    for info in target.files(path):
        relative = posixpath.relpath(info.path, path)
        size, digest = sha256_of(target, info.path)
        written.append(
            WrittenFile(posixpath.join(directory, relative), rows.get(relative, 0), size, digest)
        )
    return written


def _columns(schema: pa.Schema, bloom: Sequence[str], row_group_rows: int) -> dict[str, Any]:
    """Per-column properties: a Bloom filter on ``bloom``, a dictionary on text columns
    (properties given for a column replace the defaults, so each says it all)."""
    from deltalake import BloomFilterProperties, ColumnProperties

    text = set(dictionary_columns(schema))
    filtered = BloomFilterProperties(True, fpp=BLOOM_FPP, ndv=row_group_rows)
    return {
        c: ColumnProperties(
            dictionary_enabled=c in text,
            statistics_enabled="PAGE",
            bloom_filter_properties=filtered if c in bloom else None,
        )
        for c in dict.fromkeys([*bloom, *text])
    }
