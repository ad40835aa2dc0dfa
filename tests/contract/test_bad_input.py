"""Every bad input raises a specific exception naming the problem, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from fixative.errors import Conflict, FixativeError, InvalidInput, NotFound
from fixative.store import NewTable, Store
from fixative.testing.annotations import synapse_record


def _new(name: str = "synapses", schema: str = "synapse", **kw: Any) -> NewTable:
    base: dict[str, Any] = {"pcg_table_name": "pcg"}
    base.update(kw)
    return NewTable(name, schema, "av", "alice", (8, 8, 40), **base)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Synapses", "not allowed"),
        ("syn-apses", "not allowed"),
        ("1synapses", "not allowed"),
        ('syn"; DROP TABLE x; --', "not allowed"),
        ("synapses\n", "not allowed"),  # "$" alone would let a trailing newline through
        ("a" * 41, "longer than 40"),
        ("syn__apses", "__"),
        ("annotation_table_metadata", "reserved"),
        ("sqlite_master", "reserved"),
        ("pg_class", "reserved"),
    ],
)
def test_bad_table_names(store: Store, name: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        store.create_table(_new(name))
    assert store.list_tables() == []


def test_bad_table_specs(store: Store) -> None:
    with pytest.raises(NotFound, match="unknown schema type 'synapze'"):
        store.create_table(_new(schema="synapze"))
    with pytest.raises(InvalidInput, match="read_permission"):
        store.create_table(_new(read_permission="EVERYONE"))
    with pytest.raises(InvalidInput, match="voxel resolution"):
        store.create_table(NewTable("s", "synapse", "av", "alice", (8, 0, 40)))
    with pytest.raises(InvalidInput, match="reference_table"):
        store.create_table(_new("refs", "reference_tag"))
    with pytest.raises(NotFound, match="reference table 'nope'"):
        store.create_table(_new("refs", "reference_tag", reference_table="nope"))
    with pytest.raises(InvalidInput, match="not a reference schema"):
        store.create_table(_new(reference_table="nope"))
    with pytest.raises(InvalidInput, match="63"):
        store.create_table(_new("a" * 40, pcg_table_name="b" * 30))
    assert store.list_tables() == []


def test_existing_table(store: Store) -> None:
    store.create_table(_new())
    with pytest.raises(Conflict, match="already exists"):
        store.create_table(_new())
    assert [t.table_name for t in store.list_tables()] == ["synapses"]


def test_unknown_table(store: Store) -> None:
    with pytest.raises(NotFound, match="'ghost'"):
        store.insert_annotations("ghost", [synapse_record((1, 1, 1), (2, 2, 2))])
    with pytest.raises(NotFound, match="'ghost'"):
        store.get_table("ghost")


_GOOD = synapse_record((1, 2, 3), (4, 5, 6))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**_GOOD, "sise": 3}, "unknown field.*'sise'"),
        ({k: v for k, v in _GOOD.items() if k != "pre_pt"}, "missing required field 'pre_pt'"),
        ({**_GOOD, "size": "big"}, "'size'"),
        ({**_GOOD, "size": True}, "'size'"),
        ({**_GOOD, "pre_pt": {"position": [1, 2]}}, "2 coordinates, expected 3"),
        ({**_GOOD, "pre_pt": {"position": [1, 2, 3, 4]}}, "4 coordinates, expected 3"),
        ({**_GOOD, "pre_pt": {"position": [1, 2.5, 3]}}, "pre_pt"),
        ({**_GOOD, "pre_pt": {"position": [1, "x", 3]}}, "pre_pt"),
        ({**_GOOD, "pre_pt": {"position": [1, 2, 2**40]}}, "32-bit"),
        ({**_GOOD, "pre_pt": [1, 2, 3]}, "expected an object"),
        ({**_GOOD, "pre_pt": {"position": [1, 2, 3], "supervoxel_id": 5}}, "looked up"),
        ({**_GOOD, "size": float("nan")}, "NaN"),
        ({**_GOOD, "id": -4}, "positive"),
        ({**_GOOD, "id": "seven"}, "'id'"),
    ],
)
def test_bad_annotations(store: Store, record: dict[str, Any], message: str) -> None:
    store.create_table(_new())
    before = store.get_table("synapses").last_modified_at
    with pytest.raises(InvalidInput, match=message):
        store.insert_annotations("synapses", [_GOOD, record])
    assert store.count_at("synapses", store.clock()) == 0
    assert store.get_table("synapses").last_modified_at == before


@pytest.mark.parametrize("payload", [{"a": 1}, "text", [1, 2], None])
def test_not_a_list_of_objects(store: Store, payload: Any) -> None:
    store.create_table(_new())
    with pytest.raises(FixativeError):
        store.insert_annotations("synapses", payload)
