"""Plain values the Store takes and returns (no SQL here)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from fixative.errors import InvalidInput
from fixative.schemas.types import SchemaType

Permission = Literal["PRIVATE", "GROUP", "PUBLIC"]
PERMISSIONS: tuple[str, ...] = ("PRIVATE", "GROUP", "PUBLIC")
TABLE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
TABLE_NAME_MAX = 40
SEG_TABLE_NAME_MAX = 63
RESERVED_PREFIXES = ("sqlite_", "pg_", "cg_", "fixative_", "spatial_ref_sys", "geometry_columns")
RESERVED_NAMES = frozenset(
    {
        "annotation_table_metadata",
        "segmentation_table_metadata",
        "version",
        "versions",
        "version_tables",
        "workflow_runs",
    }
)


def check_table_name(name: object, what: str = "table name") -> str:
    if not isinstance(name, str):
        raise InvalidInput(f"{what} must be a string")
    if len(name) > TABLE_NAME_MAX:
        raise InvalidInput(f"{what} {name[:60]!r} is longer than {TABLE_NAME_MAX} characters")
    if not TABLE_NAME_RE.fullmatch(name):
        raise InvalidInput(
            f"{what} {name!r} is not allowed: use lowercase letters, digits and _, "
            "starting with a letter"
        )
    if "__" in name:
        raise InvalidInput(
            f"{what} {name!r} may not contain '__' (it separates segmentation tables)"
        )
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        raise InvalidInput(f"{what} {name!r} is reserved")
    return name


@dataclass(frozen=True)
class NewTable:
    """What it takes to create an annotation table."""

    table_name: str
    schema_type: str
    aligned_volume: str
    user_id: str
    voxel_resolution_nm: tuple[float, float, float]
    description: str = ""
    notice_text: str | None = None
    reference_table: str | None = None
    read_permission: str = "PUBLIC"
    write_permission: str = "PRIVATE"
    pcg_table_name: str | None = None
    segmentation_source: str = ""
    flat_segmentation_source: str | None = None

    def validate(self) -> None:
        check_table_name(self.table_name)
        if self.pcg_table_name is not None and not TABLE_NAME_RE.fullmatch(self.pcg_table_name):
            raise InvalidInput(f"chunkedgraph table name {self.pcg_table_name!r} is not allowed")
        if self.pcg_table_name is not None:
            seg_name = f"{self.table_name}__{self.pcg_table_name}"
            if len(seg_name) > SEG_TABLE_NAME_MAX:
                raise InvalidInput(
                    f"segmentation table name {seg_name!r} would be {len(seg_name)} characters; "
                    f"at most {SEG_TABLE_NAME_MAX} are allowed"
                )
        for key, value in (
            ("read_permission", self.read_permission),
            ("write_permission", self.write_permission),
        ):
            if value not in PERMISSIONS:
                raise InvalidInput(f"{key} {value!r} must be one of {', '.join(PERMISSIONS)}")
        res = self.voxel_resolution_nm
        if (
            not isinstance(res, tuple | list)
            or len(res) != 3
            or not all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in res)
        ):
            raise InvalidInput("voxel resolution needs three positive numbers (nm per voxel)")
        if not isinstance(self.user_id, str) or not self.user_id:
            raise InvalidInput("a table needs an owner (user_id)")


@dataclass(frozen=True)
class TableInfo:
    """An annotation table's metadata as stored."""

    table_name: str
    schema: SchemaType
    aligned_volume: str
    user_id: str
    description: str
    notice_text: str | None
    reference_table: str | None
    flat_segmentation_source: str | None
    voxel_resolution_nm: tuple[float, float, float]
    read_permission: str
    write_permission: str
    valid: bool
    created_at: datetime
    last_modified_at: datetime
    segmentation_table: str | None = None
    pcg_table_name: str | None = None
    segmentation_source: str = ""
    last_updated_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def metadata_dict(self) -> dict[str, Any]:
        """The CAVE-style metadata dict (ISO strings for times)."""
        return {
            "table_name": self.table_name,
            "schema": self.schema.name,
            "schema_type": self.schema.name,
            "aligned_volume": self.aligned_volume,
            "user_id": self.user_id,
            "description": self.description,
            "notice_text": self.notice_text,
            "reference_table": self.reference_table,
            "flat_segmentation_source": self.flat_segmentation_source,
            "voxel_resolution_x": self.voxel_resolution_nm[0],
            "voxel_resolution_y": self.voxel_resolution_nm[1],
            "voxel_resolution_z": self.voxel_resolution_nm[2],
            "read_permission": self.read_permission,
            "write_permission": self.write_permission,
            "valid": self.valid,
            "created": self.created_at.isoformat(),
            "last_modified": self.last_modified_at.isoformat(),
            "pcg_table_name": self.pcg_table_name,
            "segmentation_source": self.segmentation_source,
            "last_updated": self.last_updated_at.isoformat() if self.last_updated_at else None,
        }
