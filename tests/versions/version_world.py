"""A small live database for the version tests: synapses and nuclei bound to a chunkedgraph
table, tags referencing the nuclei, segmentation rows filled directly with known ids, and an
oracle computing what a version at T must hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fixative.store import NewTable, Store
from fixative.store import tables as t
from fixative.testing.annotations import synapse_columns
from fixative.testing.clock import TickingClock
from fixative.versions import VersionOptions, create_version
from fixative.versions.flat import plan_table
from fixative.versions.target import VersionTarget, target_for

PCG = "pcg"
TABLES = ("nuclei", "synapses", "tags")


@dataclass
class VersionWorld:
    store: Store
    clock: TickingClock
    datastack: str
    version_dir: Path

    @property
    def target(self) -> VersionTarget:
        return target_for(self.store, self.version_dir)

    def options(self, **kw: Any) -> VersionOptions:
        """Flat copies unless ``kind`` says otherwise: these tests check the copy itself."""
        return VersionOptions(version_dir=self.version_dir, **{"kind": "flat", **kw})

    def build(self, n_synapses: int = 60, n_nuclei: int = 20) -> None:
        res = (8.0, 8.0, 40.0)
        self.store.create_table(NewTable("synapses", "synapse", "av", "u", res, pcg_table_name=PCG))
        self.store.create_table(
            NewTable("nuclei", "nucleus_detection", "av", "u", res, pcg_table_name=PCG)
        )
        self.store.create_table(
            NewTable("tags", "reference_tag", "av", "u", res, reference_table="nuclei")
        )
        self.store.insert_annotations("synapses", synapse_columns(n_synapses, seed=3, extent=500))
        self.store.insert_annotations("nuclei", [self.nucleus(i) for i in range(n_nuclei)])
        self.store.insert_annotations(
            "tags", [{"target_id": i + 1, "tag": f"tag {i}"} for i in range(n_nuclei // 2)]
        )

    @staticmethod
    def nucleus(i: int) -> dict[str, Any]:
        record: dict[str, Any] = {"pt": {"position": [10 * i, 5 * i, i]}, "volume": 1.5 * i}
        if i % 2:
            record["bb_start"] = {"position": [10 * i - 3, 5 * i - 3, i]}
            record["bb_end"] = {"position": [10 * i + 3, 5 * i + 3, i + 1]}
        return record

    def segment(self, at: datetime, *, skip_synapses: int = 0) -> None:
        """Segmentation rows for every annotation row lacking one (but the last ``skip_synapses``
        synapses), roots as of ``at``: supervoxel = 10 * id + k, root = 1000 * id + k + epoch."""
        epoch = int(at.timestamp() * 1000) % 997
        with self.store.write() as conn:
            for name in ("synapses", "nuclei"):
                live = self.store._table_object(conn, name)
                seg = self.store._table_object(conn, f"{name}__{PCG}")
                ids = sorted(conn.execute(sa.select(live.c.id)).scalars())
                have = set(conn.execute(sa.select(seg.c.id)).scalars())
                todo = [i for i in ids if i not in have]
                if name == "synapses" and skip_synapses:
                    todo = todo[:-skip_synapses]
                rows = [self._seg_row(seg, i, epoch) for i in todo]
                if rows:
                    conn.execute(seg.insert(), rows)
                conn.execute(
                    seg.update().values(
                        {
                            c: seg.c.id * 1000 + k + epoch
                            for k, c in enumerate(seg.c.keys())
                            if c.endswith("_root_id")
                        }
                    )
                )
            meta = t.segmentation_table_metadata
            conn.execute(meta.update().values(last_updated=at))

    @staticmethod
    def _seg_row(seg: sa.Table, i: int, epoch: int) -> dict[str, int]:
        row = {"id": i}
        for k, c in enumerate(seg.c.keys()):
            if c.endswith("_supervoxel_id"):
                row[c] = 10 * i + k
            elif c.endswith("_root_id"):
                row[c] = 1000 * i + k + epoch
        return row

    def version_at(self, at: datetime, **kw: Any) -> Any:
        return create_version(self.store, self.datastack, at, None, self.options(**kw))

    def oracle(self, name: str, at: datetime) -> list[tuple[Any, ...]]:
        """Rows visible at ``at`` joined with their segmentation rows, in flat column order."""
        with self.store.read() as conn:
            plan = plan_table(self.store, conn, self.store.get_table(name))
            live = self.store._table_object(conn, name)
            visible = sa.and_(
                live.c.created <= at, sa.or_(live.c.deleted.is_(None), live.c.deleted > at)
            )
            rows = {r.id: r._mapping for r in conn.execute(sa.select(live).where(visible))}
            seg_rows: dict[int, Any] = {}
            if plan.segmentation_table:
                seg = self.store._table_object(conn, plan.segmentation_table)
                seg_rows = {r.id: r._mapping for r in conn.execute(sa.select(seg))}
        out = []
        for i in sorted(rows):
            merged = {**rows[i], **seg_rows.get(i, {})}
            out.append(tuple(merged[c] for c in plan.column_names()))
        return out

    def version_rows(self, engine: sa.Engine, name: str) -> list[tuple[Any, ...]]:
        with self.store.read() as conn:
            cols = plan_table(self.store, conn, self.store.get_table(name)).column_names()
        select = ", ".join(f'"{c}"' for c in cols)
        with engine.connect() as conn:
            return [
                tuple(r) for r in conn.exec_driver_sql(f'SELECT {select} FROM "{name}" ORDER BY id')
            ]
