"""Neuroglancer segment properties (``neuroglancer_segment_properties``, inline form) from a
query result, as CAVE's materialization service builds them for a table.

The segment id is the first ``*_root_id`` column; rows whose root is 0 or null are dropped.
Every root appears once (Neuroglancer looks ids up in a sorted list), in increasing order:

- ``label``: from ``label_format`` (a Python format string over the row's columns, names only),
  else ``label_columns`` joined by a space, else the row's strings joined by a space (else the
  root id);
- ``tags``: every string value of every string column, prefixed ``column:`` when the same
  value appears in several columns, and each true boolean column by its name, over all the
  root's rows; spaces become ``_`` (Neuroglancer's tags have none) and each tag's
  description is its text as it was;
- numbers: every other numeric column (positions included; ids, supervoxel and root ids not),
  ``int32`` when every value fits, else ``float32``; nulls are 0 (JSON has no NaN).

A root with several rows takes its label and numbers from its first row (lowest annotation
id); its tags are the union over its rows.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fixative.errors import InvalidInput

HISTORY = frozenset({"id", "created", "deleted", "superceded_id", "valid", "target_id"})
INT32 = np.iinfo(np.int32)
TYPE = "neuroglancer_segment_properties"
# a format string naming columns, each with at most a short spec (widths below 100: no huge
# pads, no attribute or index access); the OpenAPI document states the same pattern
FORMAT_PATTERN = (
    r"(?:[^{}]|\{\{|\}\}|\{[A-Za-z_][A-Za-z0-9_]*(?:![rsa])?"
    r"(?::[<>^]?[0-9]{0,2}(?:\.[0-9]{1,2})?[sdfge]?)?\})*"
)
FORMAT_RE = re.compile(FORMAT_PATTERN)


@dataclass(frozen=True)
class LabelSpec:
    """How labels are made: ``format`` wins over ``columns``; neither: the row's strings."""

    format: str | None = None
    columns: tuple[str, ...] | None = None

    def check(self, names: list[str]) -> None:
        known = set(names)
        wanted = list(self.columns or ())
        if self.format is not None:
            wanted += _format_fields(self.format)
        for name in wanted:
            if name not in known:
                raise InvalidInput(f"the table has no column {name!r} to label segments by")


def _format_fields(template: str) -> list[str]:
    """The column names a label format names (``FORMAT_RE`` allows nothing else)."""
    if FORMAT_RE.fullmatch(template) is None:
        raise InvalidInput(
            "label_format may only name columns, each with at most a short format spec "
            f"(as {{cell_type}} or {{size:.1f}}): {template[:80]!r}"
        )
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _is_id(name: str) -> bool:
    return name in HISTORY or name.endswith(("_root_id", "_supervoxel_id"))


def segment_properties(table: pa.Table, label: LabelSpec) -> dict[str, Any]:
    """The properties document of ``table`` (rows in annotation id order)."""
    id_column = next((n for n in table.column_names if n.endswith("_root_id")), None)
    if id_column is None:
        raise InvalidInput("the table has no root id column to key segment properties by")
    label.check(table.column_names)
    filled = pc.fill_null(table.column(id_column).cast(pa.int64()), 0)
    roots = np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.int64)
    keep = np.flatnonzero(roots > 0)
    table = table.take(pa.array(keep, pa.int64()))
    roots = roots[keep]
    order = np.argsort(roots, kind="stable")
    unique, first = np.unique(roots[order], return_index=True)
    owner = np.empty(roots.size, dtype=np.int64)  # the root (index in ``unique``) of each row
    owner[order] = np.searchsorted(unique, roots[order])
    head = order[first]  # each root's first row
    properties = [_labels(table, head, unique, label)]
    tags = _tags(table, owner, unique.size)
    if tags is not None:
        properties.append(tags)
    properties += _numbers(table, head)
    return {
        "@type": TYPE,
        "inline": {"ids": [str(r) for r in unique.tolist()], "properties": properties},
    }


def _strings(table: pa.Table) -> list[str]:
    return [
        f.name
        for f in table.schema
        if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)) and not _is_id(f.name)
    ]


def _labels(
    table: pa.Table, head: npt.NDArray[np.int64], roots: npt.NDArray[np.int64], label: LabelSpec
) -> dict[str, Any]:
    rows = table.take(pa.array(head, pa.int64())).to_pylist()
    values: list[str] = []
    for root, row in zip(roots.tolist(), rows, strict=True):
        if label.format is not None:
            text = _formatted(label.format, row)
        else:
            names = label.columns if label.columns is not None else _strings(table)
            parts = [str(row[n]) for n in names if row[n] is not None]
            text = " ".join(parts) if parts or label.columns is not None else str(root)
        values.append(text)
    return {"id": "label", "type": "label", "values": values}


def _formatted(template: str, row: dict[str, Any]) -> str:
    """``template`` filled from ``row``; a value its spec does not fit (``{name:d}`` on a
    string) is written plainly."""
    out = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        value = row[name]
        value = "" if value is None else value
        if conversion == "r":
            value = repr(value)
        elif conversion in ("s", "a"):
            value = str(value) if conversion == "s" else ascii(value)
        try:
            out.append(format(value, spec or ""))
        except (ValueError, TypeError):
            out.append(str(value))
    return "".join(out)


def tag_name(text: str) -> str:
    """A tag as Neuroglancer takes it: no spaces, no leading ``#`` (its description keeps the
    text as it was)."""
    return re.sub(r"\s+", "_", text).lstrip("#") or "_"


def _codes(column: pa.ChunkedArray) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Each row's index into the column's distinct strings (-1 for null), and those strings:
    one dictionary encoding, no Python per row."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return indices.astype(np.int64), [str(w) for w in encoded.dictionary.to_pylist()]


def _tags(table: pa.Table, owner: npt.NDArray[np.int64], n_roots: int) -> dict[str, Any] | None:
    """One tags property: ``(root, tag)`` pairs gathered per column (vectorized), then
    de-duplicated. Tags are sorted; a value found in several columns is ``column:value``."""
    encoded = {name: _codes(table.column(name)) for name in _strings(table)}
    columns_of: dict[str, int] = {}
    for _, words in encoded.values():
        for word in set(words):
            columns_of[word] = columns_of.get(word, 0) + 1
    named: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[str]]] = []
    for name, (codes, words) in encoded.items():
        present = np.flatnonzero(codes >= 0)
        tags = [f"{name}:{w}" if columns_of[w] > 1 else w for w in words]
        named.append((owner[present], codes[present], tags))
    for f in table.schema:
        if pa.types.is_boolean(f.type) and not _is_id(f.name):
            flags = pc.fill_null(table.column(f.name), False).to_numpy(zero_copy_only=False)
            hit = np.flatnonzero(flags)
            named.append((owner[hit], np.zeros(hit.size, dtype=np.int64), [f.name]))
    described = {tag_name(t): t for _, _, tags in named for t in reversed(tags)}
    names = sorted(described)
    if not names:
        return None
    number = {t: i for i, t in enumerate(names)}
    roots, tag_ids = [], []
    for who, codes, tags in named:
        to_global = np.array([number[tag_name(t)] for t in tags], dtype=np.int64)
        roots.append(who)
        tag_ids.append(to_global[codes] if codes.size else codes)
    keys = np.unique(np.concatenate(roots) * len(names) + np.concatenate(tag_ids))
    values: list[list[int]] = [[] for _ in range(n_roots)]
    for key in keys.tolist():
        values[key // len(names)].append(key % len(names))
    return {
        "id": "tags",
        "type": "tags",
        "tags": names,
        "tag_descriptions": [described[n] for n in names],
        "values": values,
    }


def _numbers(table: pa.Table, head: npt.NDArray[np.int64]) -> list[dict[str, Any]]:
    out = []
    for f in table.schema:
        numeric = pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
        if not numeric or _is_id(f.name):
            continue
        column = pc.fill_null(table.column(f.name).take(pa.array(head, pa.int64())), 0)
        values = column.to_numpy(zero_copy_only=False)
        fits = pa.types.is_integer(f.type) and (
            values.size == 0 or (values.min() >= INT32.min and values.max() <= INT32.max)
        )
        if fits:
            out.append(_number(f.name, "int32", [int(v) for v in values.tolist()]))
        else:
            as32 = values.astype(np.float32)
            finite = np.where(np.isfinite(as32), as32, 0).astype(np.float32)
            out.append(_number(f.name, "float32", [float(v) for v in finite.tolist()]))
    return out


def _number(name: str, data_type: str, values: list[Any]) -> dict[str, Any]:
    return {"id": name, "type": "number", "data_type": data_type, "values": values}
