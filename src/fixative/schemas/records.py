"""Annotations back out in the nested form clients post (``{"pt": {"position": [x, y, z]}}``),
with their history columns (``id``, ``valid``, ``created``, ``deleted``, ``superceded_id``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from fixative.schemas.types import PointField, SchemaType

HISTORY = ("valid", "created", "deleted", "superceded_id")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def to_records(schema: SchemaType, table: pa.Table) -> list[dict[str, Any]]:
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    records: list[dict[str, Any]] = []
    for i in range(table.num_rows):
        record: dict[str, Any] = {"id": columns["id"][i]}
        if schema.reference:
            record["target_id"] = columns["target_id"][i]
        for f in schema.fields:
            if isinstance(f, PointField):
                xyz = [columns[c][i] for c in f.xyz_columns]
                record[f.name] = {"position": xyz if xyz[0] is not None else None}
            else:
                record[f.name] = columns[f.name][i]
        for name in HISTORY:
            if name in columns:
                record[name] = _plain(columns[name][i])
        records.append(record)
    return records
