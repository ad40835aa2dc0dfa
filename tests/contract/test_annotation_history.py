"""History semantics of live annotation tables, on every backend."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest

from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.store import NewTable, Store
from fixative.testing.annotations import synapse_columns, synapse_record
from fixative.testing.clock import TickingClock


def _synapses(store: Store, name: str = "synapses") -> None:
    store.create_table(
        NewTable(name, "synapse", "demo_av", "alice", (8, 8, 40), pcg_table_name="demo_pcg")
    )


def _ids_at(store: Store, at: object) -> list[int]:
    return store.annotations_at("synapses", at).column("id").to_pylist()  # type: ignore[arg-type]


def test_history_at_every_instant(store: Store, clock: TickingClock) -> None:
    _synapses(store)
    before = clock.now - timedelta(seconds=1)
    ids = store.insert_annotations(
        "synapses", [synapse_record((1, 2, 3), (4, 5, 6), s) for s in (1.0, 2.0, 3.0)]
    ).tolist()
    t_insert = store.get_table("synapses").last_modified_at
    mapping = store.update_annotations(
        "synapses", [{"id": ids[0], **synapse_record((1, 2, 3), (4, 5, 6), 10.0)}]
    )
    t_update = store.get_table("synapses").last_modified_at
    store.delete_annotations("synapses", [ids[1]])
    t_delete = store.get_table("synapses").last_modified_at

    new_id = mapping[ids[0]]
    assert new_id not in ids
    assert t_insert < t_update < t_delete
    assert _ids_at(store, before) == []
    assert _ids_at(store, t_insert) == ids
    assert _ids_at(store, t_update - timedelta(microseconds=1)) == ids
    assert _ids_at(store, t_update) == [ids[1], ids[2], new_id]
    assert _ids_at(store, t_delete) == [ids[2], new_id]
    sizes = store.annotations_at("synapses", t_delete).column("size").to_pylist()
    assert sizes == [3.0, 10.0]
    assert store.count_at("synapses", t_update) == 3
    assert store.count_at("synapses", t_delete) == 2


def test_update_marks_old_row(store: Store) -> None:
    _synapses(store)
    (old,) = store.insert_annotations("synapses", [synapse_record((1, 1, 1), (2, 2, 2))])
    mapping = store.update_annotations(
        "synapses", [{"id": int(old), **synapse_record((1, 1, 1), (3, 3, 3))}]
    )
    rows = store.get_annotations("synapses", [int(old), mapping[int(old)]]).to_pylist()
    old_row, new_row = rows
    assert old_row["valid"] is False
    assert old_row["superceded_id"] == mapping[int(old)]
    assert old_row["deleted"] == new_row["created"]
    assert new_row["valid"] is True
    assert new_row["deleted"] is None
    assert new_row["post_pt_position_x"] == 3


def test_writes_bump_last_modified(store: Store) -> None:
    _synapses(store)
    first = store.get_table("synapses").last_modified_at
    (aid,) = store.insert_annotations("synapses", [synapse_record((1, 1, 1), (2, 2, 2))])
    second = store.get_table("synapses").last_modified_at
    store.delete_annotations("synapses", [int(aid)])
    third = store.get_table("synapses").last_modified_at
    assert first < second < third


def test_client_ids_are_kept_and_numbering_continues(store: Store) -> None:
    _synapses(store)
    ids = store.insert_annotations(
        "synapses",
        [
            {"id": 100, **synapse_record((1, 1, 1), (2, 2, 2))},
            synapse_record((1, 1, 1), (2, 2, 2)),
        ],
    )
    assert ids.tolist() == [100, 101]
    (next_id,) = store.insert_annotations("synapses", [synapse_record((1, 1, 1), (2, 2, 2))])
    assert next_id == 102


def test_duplicate_client_id_is_refused_and_nothing_written(store: Store) -> None:
    _synapses(store)
    store.insert_annotations("synapses", [{"id": 5, **synapse_record((1, 1, 1), (2, 2, 2))}])
    with pytest.raises(Conflict, match="5"):
        store.insert_annotations(
            "synapses",
            [
                {"id": 9, **synapse_record((1, 1, 1), (2, 2, 2))},
                {"id": 5, **synapse_record((1, 1, 1), (2, 2, 2))},
            ],
        )
    with pytest.raises(InvalidInput, match="more than once"):
        store.insert_annotations(
            "synapses",
            [{"id": 7, **synapse_record((1, 1, 1), (2, 2, 2))}] * 2,
        )
    assert store.count_at("synapses", store.clock()) == 1


def test_unknown_and_deleted_ids(store: Store) -> None:
    _synapses(store)
    (aid,) = store.insert_annotations("synapses", [synapse_record((1, 1, 1), (2, 2, 2))])
    with pytest.raises(NotFound, match="999"):
        store.delete_annotations("synapses", [999])
    with pytest.raises(NotFound, match="999"):
        store.get_annotations("synapses", [int(aid), 999])
    with pytest.raises(NotFound, match="999"):
        store.update_annotations("synapses", [{"id": 999, **synapse_record((1, 1, 1), (2, 2, 2))}])
    store.delete_annotations("synapses", [int(aid)])
    with pytest.raises(Conflict, match="already deleted"):
        store.delete_annotations("synapses", [int(aid)])
    with pytest.raises(Conflict):
        store.update_annotations(
            "synapses", [{"id": int(aid), **synapse_record((1, 1, 1), (2, 2, 2))}]
        )
    with pytest.raises(InvalidInput, match="positive"):
        store.delete_annotations("synapses", ["abc"])
    with pytest.raises(InvalidInput, match="needs the id"):
        store.update_annotations("synapses", [synapse_record((1, 1, 1), (2, 2, 2))])


def test_failed_update_writes_nothing(store: Store) -> None:
    _synapses(store)
    ids = store.insert_annotations(
        "synapses", [synapse_record((1, 1, 1), (2, 2, 2)) for _ in range(2)]
    ).tolist()
    before = store.get_table("synapses").last_modified_at
    with pytest.raises(NotFound):
        store.update_annotations(
            "synapses",
            [
                {"id": ids[0], **synapse_record((5, 5, 5), (6, 6, 6))},
                {"id": 12345, **synapse_record((5, 5, 5), (6, 6, 6))},
            ],
        )
    after = store.get_annotations("synapses", ids).to_pylist()
    assert [r["valid"] for r in after] == [True, True]
    assert store.get_table("synapses").last_modified_at == before
    assert store.count_at("synapses", store.clock()) == 2


def test_bulk_columns_roundtrip(store: Store) -> None:
    _synapses(store)
    data = synapse_columns(2_500, seed=3)
    ids = store.insert_annotations("synapses", data)
    assert ids.tolist() == list(range(1, 2_501))
    got = store.annotations_at("synapses", store.clock())
    for name in data.column_names:
        expected = data.column(name).to_numpy()
        assert np.array_equal(got.column(name).to_numpy(), expected), name


def test_text_and_null_columns(store: Store) -> None:
    store.create_table(NewTable("nuclei", "nucleus_detection", "av", "bob", (8, 8, 40)))
    records = [
        {"pt": {"position": [1, 2, 3]}, "volume": 2.5},
        {
            "pt": {"position": [4, 5, 6]},
            "volume": None,
            "bb_start": {"position": [0, 0, 0]},
            "bb_end": {"position": [9, 9, 9]},
        },
    ]
    store.insert_annotations("nuclei", records)
    rows = store.annotations_at("nuclei", store.clock()).to_pylist()
    assert rows[0]["volume"] == 2.5
    assert rows[0]["bb_start_position_x"] is None
    assert rows[1]["volume"] is None
    assert rows[1]["bb_end_position_z"] == 9
    store.create_table(NewTable("cells", "cell_type_local", "av", "bob", (8, 8, 40)))
    names = ["AVAL", "", "é-ünïcode", "x" * 300]
    store.insert_annotations(
        "cells",
        [
            {"pt": {"position": [i, i, i]}, "cell_type": n, "classification_system": "worm"}
            for i, n in enumerate(names)
        ],
    )
    got = store.annotations_at("cells", store.clock()).column("cell_type").to_pylist()
    assert got == names


def test_reference_table(store: Store) -> None:
    _synapses(store)
    ids = store.insert_annotations(
        "synapses", [synapse_record((1, 1, 1), (2, 2, 2)) for _ in range(2)]
    ).tolist()
    store.create_table(
        NewTable(
            "boutons",
            "presynaptic_bouton_type",
            "demo_av",
            "alice",
            (8, 8, 40),
            reference_table="synapses",
        )
    )
    (bid,) = store.insert_annotations("boutons", [{"target_id": ids[1], "bouton_type": "pancake"}])
    row = store.get_annotations("boutons", [int(bid)]).to_pylist()[0]
    assert row["target_id"] == ids[1]
    with pytest.raises(InvalidInput, match="target_id"):
        store.insert_annotations("boutons", [{"target_id": 777, "bouton_type": "pancake"}])
    with pytest.raises(InvalidInput, match="must be one of"):
        store.insert_annotations("boutons", [{"target_id": ids[0], "bouton_type": "waffle"}])
    assert store.get_table("boutons").segmentation_table is None


def test_spatial_box(store: Store) -> None:
    _synapses(store)
    store.insert_annotations(
        "synapses",
        [synapse_record((x, x, x), (x + 1, x + 1, x + 1)) for x in (5, 50, 500)],
    )
    table = store.table_object("synapses")
    import sqlalchemy as sa

    with store.read() as conn:
        found = (
            conn.execute(
                sa.select(table.c.id)
                .where(store.box_clause(table, "pre_pt", (0, 0, 0), (60, 60, 60)))
                .order_by(table.c.id)
            )
            .scalars()
            .all()
        )
    assert found == [1, 2]


def test_arrow_empty_insert(store: Store) -> None:
    _synapses(store)
    assert store.insert_annotations("synapses", []).tolist() == []
    empty = synapse_columns(0)
    assert store.insert_annotations("synapses", empty).size == 0
    with pytest.raises(InvalidInput, match="pre_pt"):
        store.insert_annotations("synapses", pa.table({"size": pa.array([], pa.float64())}))
