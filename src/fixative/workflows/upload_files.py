"""Stream the files of a bulk upload in fixed-size row chunks: Parquet (``iter_batches``), CSV
(``pyarrow.csv.open_csv``) and NumPy ``.npy`` (memory-mapped), so a file larger than memory
works. Each chunk maps source names (Parquet/CSV column names, or ``.npy`` file stems) to
values: Arrow arrays, or numpy arrays for ``.npy`` ((n,) per column, (n, 3) for a point).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fixative.errors import InvalidInput

Values: TypeAlias = pa.Array | np.ndarray[Any, Any]
CSV_BLOCK_BYTES = 16 * 2**20
_CSV_COLUMN = re.compile(r"^In CSV column #(\d+): ")


@dataclass(frozen=True)
class FileChunk:
    """Rows ``first_row`` .. ``first_row + rows - 1`` (0-based, over the whole upload)."""

    first_row: int
    rows: int
    columns: dict[str, Values]


class UploadFiles(Protocol):
    label: str

    @property
    def names(self) -> list[str]: ...

    @property
    def total_rows(self) -> int | None: ...

    def chunks(self, names: Sequence[str], chunk_rows: int) -> Iterator[FileChunk]: ...


def open_upload_files(
    files: Sequence[str | Path], column_types: Mapping[str, pa.DataType]
) -> UploadFiles:
    """Open one Parquet or CSV file, or any number of ``.npy`` files (chosen by suffix).
    ``column_types`` fixes CSV column types by name instead of inferring them per block."""
    paths = [Path(f) for f in files]
    if not paths:
        raise InvalidInput("bulk upload needs at least one file")
    suffixes = {p.suffix.lower() for p in paths}
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InvalidInput(f"file {str(missing[0])!r} does not exist")
    if suffixes == {".npy"}:
        return NpyFiles(paths)
    if len(paths) != 1:
        raise InvalidInput("give one Parquet or CSV file, or .npy files (one per column)")
    if suffixes == {".parquet"} or suffixes == {".pq"}:
        return ParquetFile(paths[0])
    if suffixes == {".csv"}:
        return CsvFile(paths[0], column_types)
    raise InvalidInput(f"file {paths[0].name!r}: expected .parquet, .csv or .npy")


def rebatch(batches: Iterator[pa.RecordBatch], chunk_rows: int) -> Iterator[pa.Table]:
    """Regroup record batches into tables of exactly ``chunk_rows`` rows (the last smaller)."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while held >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_rows)
            rest = table.slice(chunk_rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending)


def _table_chunks(tables: Iterator[pa.Table], names: Sequence[str]) -> Iterator[FileChunk]:
    first = 0
    for table in tables:
        columns: dict[str, Values] = {n: table.column(n).combine_chunks() for n in names}
        yield FileChunk(first, table.num_rows, columns)
        first += table.num_rows


class ParquetFile:
    def __init__(self, path: Path) -> None:
        self.label = path.name
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(
                f"file {self.label!r} is not a readable Parquet file: {exc}"
            ) from None

    @property
    def names(self) -> list[str]:
        return list(self._file.schema_arrow.names)

    @property
    def total_rows(self) -> int | None:
        return int(self._file.metadata.num_rows)

    def chunks(self, names: Sequence[str], chunk_rows: int) -> Iterator[FileChunk]:
        batches = self._file.iter_batches(batch_size=chunk_rows, columns=list(names))
        yield from _table_chunks(rebatch(batches, chunk_rows), names)


class CsvFile:
    def __init__(self, path: Path, column_types: Mapping[str, pa.DataType]) -> None:
        self.label = path.name
        self._path = path
        self._types = dict(column_types)
        self._names: list[str] = []
        with self._open(None) as reader:
            self._names = list(reader.schema.names)

    def _open(self, names: Sequence[str] | None) -> pacsv.CSVStreamingReader:
        """Open for ``names`` with their fixed types (None: every column, types inferred)."""
        convert = pacsv.ConvertOptions()
        if names is not None:
            convert = pacsv.ConvertOptions(
                column_types={k: v for k, v in self._types.items() if k in names},
                include_columns=list(names),
            )
        try:
            return pacsv.open_csv(
                self._path,
                read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                convert_options=convert,
            )
        except (pa.ArrowInvalid, OSError) as exc:
            raise self._error(exc, 0) from None

    @property
    def names(self) -> list[str]:
        return list(self._names)

    @property
    def total_rows(self) -> int | None:
        return None  # not known without reading the whole file

    def chunks(self, names: Sequence[str], chunk_rows: int) -> Iterator[FileChunk]:
        read = 0
        with self._open(names) as reader:

            def batches() -> Iterator[pa.RecordBatch]:
                nonlocal read
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        return
                    except pa.ArrowInvalid as exc:
                        raise self._error(exc, read) from None
                    read += batch.num_rows
                    yield batch

            yield from _table_chunks(rebatch(batches(), chunk_rows), names)

    def _error(self, exc: Exception, after_row: int) -> InvalidInput:
        text = str(exc).splitlines()[0]
        match = _CSV_COLUMN.match(text)
        where = f"file {self.label!r}"
        if match and int(match[1]) < len(self._names):
            where += f", column {self._names[int(match[1])]!r}"
            text = text[match.end() :]
        if after_row:
            where += f", after row {after_row}"
        return InvalidInput(f"{where}: {text}")


class NpyFiles:
    """One memory-mapped array per file, named by the file's stem."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.label = ", ".join(p.name for p in paths)
        self._arrays: dict[str, np.ndarray[Any, Any]] = {}
        for path in paths:
            if path.stem in self._arrays:
                raise InvalidInput(f"two .npy files are named {path.stem!r}")
            self._arrays[path.stem] = _open_npy(path)
        lengths = {name: a.shape[0] for name, a in self._arrays.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{n}.npy: {k}" for n, k in sorted(lengths.items()))
            raise InvalidInput(f".npy files have different numbers of rows ({shown})")
        self._rows = next(iter(lengths.values()))

    @property
    def names(self) -> list[str]:
        return list(self._arrays)

    @property
    def total_rows(self) -> int | None:
        return int(self._rows)

    def chunks(self, names: Sequence[str], chunk_rows: int) -> Iterator[FileChunk]:
        for first in range(0, self._rows, chunk_rows):
            stop = min(first + chunk_rows, self._rows)
            columns: dict[str, Values] = {n: np.array(self._arrays[n][first:stop]) for n in names}
            yield FileChunk(first, stop - first, columns)


def _open_npy(path: Path) -> np.ndarray[Any, Any]:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InvalidInput(f"file {path.name!r} is not a readable .npy array: {exc}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "iufbU":
        raise InvalidInput(f"file {path.name!r}: unsupported array type {array.dtype}")
    if array.ndim not in (1, 2) or (array.ndim == 2 and array.shape[1] != 3):
        raise InvalidInput(
            f"file {path.name!r}: expected shape (n,) or (n, 3), got {tuple(array.shape)}"
        )
    return array
