"""Plain values of views: a stored definition (``ViewInfo``), what it takes to create one
(``NewView``), and a checked view's columns in the shape the query planner reads
(``view_table_columns``: a view is planned as one table whose columns are its outputs).

Points: three adjacent integer outputs named ``{p}_position_x/_y/_z`` form a point
``{p}_position``, so spatial filters, ``desired_resolution`` and ``split_positions`` apply to
it as to a table's point, and the schema endpoint calls it a ``SpatialPoint``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fixative.errors import InvalidInput
from fixative.query.columns import FlatColumn, TableColumns
from fixative.schemas.types import PointField, SchemaType
from fixative.store.model import TableInfo, check_table_name
from fixative.views.check import ViewColumn

DESCRIPTION_MAX = 10_000
POINT_SUFFIX = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)_position_x$")


@dataclass(frozen=True)
class NewView:
    """A view to create in ``datastack``."""

    datastack: str
    name: str
    sql: str
    user_id: str
    voxel_resolution_nm: tuple[float, float, float]
    description: str = ""
    notice_text: str | None = None
    live_compatible: bool = False

    def validate(self) -> None:
        check_table_name(self.name, "view name")
        res = self.voxel_resolution_nm
        if (
            not isinstance(res, tuple | list)
            or len(res) != 3
            or not all(
                isinstance(v, int | float)
                and not isinstance(v, bool)
                and math.isfinite(v)
                and v > 0
                for v in res
            )
        ):
            raise InvalidInput("voxel_resolution needs three positive numbers (nm per voxel)")
        if not isinstance(self.description, str) or len(self.description) > DESCRIPTION_MAX:
            raise InvalidInput(f"description must be a string of at most {DESCRIPTION_MAX} chars")
        notice = self.notice_text
        if notice is not None and (not isinstance(notice, str) or len(notice) > DESCRIPTION_MAX):
            raise InvalidInput(f"notice_text must be a string of at most {DESCRIPTION_MAX} chars")
        if not isinstance(self.live_compatible, bool):
            raise InvalidInput("live_compatible must be true or false")
        if not isinstance(self.user_id, str) or not self.user_id:
            raise InvalidInput("a view needs an owner (user_id)")


@dataclass(frozen=True)
class ViewInfo:
    """A stored view definition."""

    id: int
    datastack: str
    name: str
    sql: str
    description: str
    notice_text: str | None
    voxel_resolution_nm: tuple[float, float, float]
    live_compatible: bool
    user_id: str
    created_at: datetime

    def metadata_dict(self) -> dict[str, Any]:
        """The view's row as caveclient's ``get_views`` and ``get_view_metadata`` show it."""
        x, y, z = self.voxel_resolution_nm
        return {
            "id": self.id,
            "table_name": self.name,
            "datastack_name": self.datastack,
            "description": self.description,
            "voxel_resolution_x": x,
            "voxel_resolution_y": y,
            "voxel_resolution_z": z,
            "notice_text": self.notice_text,
            "live_compatible": self.live_compatible,
        }


def _points(columns: tuple[ViewColumn, ...]) -> dict[int, PointField]:
    """Index of each ``_x`` column that starts a point -> the point."""
    found: dict[int, PointField] = {}
    for i, c in enumerate(columns[:-2]):
        m = POINT_SUFFIX.match(c.name)
        if m is None:
            continue
        point = PointField(m.group("name"), bound=False)
        y, z = columns[i + 1], columns[i + 2]
        trio = (c, y, z)
        if (y.name, z.name) == point.xyz_columns[1:] and all(t.kind == "int" for t in trio):
            found[i] = point
    return found


def view_table_columns(info: ViewInfo, columns: tuple[ViewColumn, ...]) -> TableColumns:
    """The view as one table for ``fixative.query.plan.make_plan``."""
    points = _points(columns)
    flat: list[FlatColumn] = []
    owner: dict[int, tuple[PointField, int]] = {}
    for start, point in points.items():
        for axis in range(3):
            owner[start + axis] = (point, axis)
    for i, c in enumerate(columns):
        if i in owner:
            point, axis = owner[i]
            flat.append(FlatColumn(c.name, "int", point=point, axis=axis))
        else:
            flat.append(FlatColumn(c.name, c.kind))
    schema = SchemaType(f"view:{info.name}", info.description, tuple(points.values()))
    table = TableInfo(
        table_name=info.name,
        schema=schema,
        aligned_volume="",
        user_id=info.user_id,
        description=info.description,
        notice_text=info.notice_text,
        reference_table=None,
        flat_segmentation_source=None,
        voxel_resolution_nm=info.voxel_resolution_nm,
        read_permission="PUBLIC",
        write_permission="PRIVATE",
        valid=True,
        created_at=info.created_at,
        last_modified_at=info.created_at,
    )
    return TableColumns(table, tuple(flat))


WIRE_TYPES = {"int": "integer", "float": "float", "str": "string", "bool": "boolean"}


def schema_dict(table: TableColumns) -> dict[str, dict[str, str]]:
    """``{column: {"type": ...}}`` as the original's view schema endpoint answers (a point is one
    ``SpatialPoint`` entry under its position name)."""
    out: dict[str, dict[str, str]] = {}
    for c in table.columns:
        if c.point is not None:
            out.setdefault(c.point.position, {"type": "SpatialPoint"})
        else:
            out[c.name] = {"type": WIRE_TYPES[c.kind]}
    return out
