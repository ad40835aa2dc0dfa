"""Annotation schema types: fields, flattened column names and the split into annotation and
segmentation columns, compatible with EMAnnotationSchemas.

A point field ``pre_pt`` flattens to ``pre_pt_position`` (stored as ``pre_pt_position_x/_y/_z``
integer voxel coordinates), and, when bound to the segmentation, to ``pre_pt_supervoxel_id`` and
``pre_pt_root_id`` in the segmentation table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ScalarKind = Literal["int", "float", "str", "bool"]
AXES = ("x", "y", "z")


@dataclass(frozen=True)
class PointField:
    """A spatial point in voxels; ``bound`` points are linked to supervoxel and root ids."""

    name: str
    bound: bool
    required: bool = True
    description: str = ""

    @property
    def position(self) -> str:
        return f"{self.name}_position"

    @property
    def xyz_columns(self) -> tuple[str, str, str]:
        return (f"{self.position}_x", f"{self.position}_y", f"{self.position}_z")

    @property
    def supervoxel_column(self) -> str:
        return f"{self.name}_supervoxel_id"

    @property
    def root_column(self) -> str:
        return f"{self.name}_root_id"


@dataclass(frozen=True)
class ScalarField:
    name: str
    kind: ScalarKind
    required: bool = False
    description: str = ""
    choices: tuple[str, ...] | None = None


Field = PointField | ScalarField


@dataclass(frozen=True)
class SchemaType:
    """One annotation type. ``reference`` types carry ``target_id`` pointing into another table."""

    name: str
    description: str
    fields: tuple[Field, ...]
    reference: bool = False
    _by_name: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name: f for f in self.fields})

    @property
    def points(self) -> tuple[PointField, ...]:
        return tuple(f for f in self.fields if isinstance(f, PointField))

    @property
    def bound_points(self) -> tuple[PointField, ...]:
        return tuple(p for p in self.points if p.bound)

    @property
    def scalars(self) -> tuple[ScalarField, ...]:
        return tuple(f for f in self.fields if isinstance(f, ScalarField))

    @property
    def has_segmentation(self) -> bool:
        return bool(self.bound_points)

    def field(self, name: str) -> Field | None:
        return self._by_name.get(name)

    def data_columns(self) -> list[str]:
        """Flattened annotation columns, in declaration order, without CRUD columns."""
        cols: list[str] = ["target_id"] if self.reference else []
        for f in self.fields:
            cols.extend(f.xyz_columns if isinstance(f, PointField) else (f.name,))
        return cols

    def segmentation_columns(self) -> list[str]:
        cols: list[str] = []
        for p in self.bound_points:
            cols.extend((p.supervoxel_column, p.root_column))
        return cols

    def flat_names(self) -> list[str]:
        """Flattened names as EMAnnotationSchemas writes them (positions unsplit)."""
        cols: list[str] = ["target_id"] if self.reference else []
        for f in self.fields:
            if isinstance(f, PointField):
                cols.append(f.position)
                if f.bound:
                    cols.extend((f.supervoxel_column, f.root_column))
            else:
                cols.append(f.name)
        return cols
