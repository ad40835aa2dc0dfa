"""Checking a view's SQL (no database): what a view may say, what is refused and the message
that names the problem, the output columns' kinds, points, and the translation per backend."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from fixative.errors import InvalidInput
from fixative.query.columns import TableColumns, flat_columns
from fixative.schemas import get_schema
from fixative.store.model import TableInfo
from fixative.views.check import check_view_sql
from fixative.views.model import ViewInfo, schema_dict, view_table_columns

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _table(name: str, schema: str) -> TableColumns:
    info = TableInfo(
        name,
        get_schema(schema),
        "av",
        "alice",
        "",
        None,
        None,
        None,
        (8.0, 8.0, 40.0),
        "PUBLIC",
        "PRIVATE",
        True,
        NOW,
        NOW,
        segmentation_table=f"{name}__pcg",
    )
    return flat_columns(info)


KNOWN = {"synapses": _table("synapses", "synapse"), "cells": _table("cells", "cell_type_local")}


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        ("DROP TABLE synapses", "not DROP"),
        ("CREATE TABLE x (id int)", "not CREATE"),
        ("DELETE FROM synapses", "not DELETE"),
        ("UPDATE synapses SET size = 1", "not UPDATE"),
        ("INSERT INTO synapses (id) VALUES (1)", "not INSERT"),
        ("SELECT id FROM synapses; DROP TABLE synapses", "not 2 statements"),
        ("SELECT id FROM synapses; SELECT id FROM cells", "not 2 statements"),
        ("SELECT id FROM synapses -- ; DROP TABLE synapses", "comments"),
        ("SELECT id FROM synapses /* ; DROP TABLE cells */", "comments"),
        ("SELECT id FROM nowhere", "'nowhere'"),
        ("SELECT id FROM pg_catalog.pg_class", "pg_catalog.pg_class"),
        ("SELECT nothing FROM synapses", "'nothing'"),
        ("SELECT created FROM synapses", "'created'"),
        ("SELECT pg_sleep(10) AS s FROM synapses", "'pg_sleep'"),
        ("SELECT id FROM synapses WHERE pg_sleep(10) IS NULL", "'pg_sleep'"),
        ("SELECT random() AS r FROM synapses", "not allowed"),
        ("SELECT id FROM synapses FOR UPDATE", "LOCK"),
        ("SELECT id INTO copy FROM synapses", "INTO"),
        ("WITH d AS (DELETE FROM synapses RETURNING id) SELECT id FROM d", "DELETE"),
        ("SELECT id FROM synapses WHERE id = $1", "PARAMETER"),
        ("SELECT id, id FROM synapses", "'id' appears twice"),
        ("SELECT NULL FROM synapses", "CAST"),
        ("SELECT 1 AS one", "at least one annotation table"),
        ("SELECT row_number() OVER () AS n FROM synapses", "window functions"),
        ("SELEKT id FROM synapses", "not"),
        ("WITH cells AS (SELECT id FROM synapses) SELECT id FROM cells", "'cells', a table"),
        ("SELECT 'fixative_source_0' AS x FROM cells", "reserved"),
        ("", "one SELECT"),
    ],
)
def test_refused_with_the_problem_named(sql: str, needle: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_view_sql(sql, KNOWN)
    assert needle in caught.value.message


def test_joins_subqueries_and_aggregates_pass() -> None:
    sql = (
        "WITH big AS (SELECT pre_pt_root_id, size FROM synapses WHERE size > 10) "
        "SELECT b.pre_pt_root_id, c.cell_type, count(*) AS n, avg(b.size) AS mean_size, "
        "max(c.cell_type = 'AVAL') AS is_aval "
        "FROM big AS b JOIN cells AS c ON c.pt_root_id = b.pre_pt_root_id "
        "GROUP BY b.pre_pt_root_id, c.cell_type HAVING count(*) > 1 ORDER BY n DESC LIMIT 5"
    )
    checked = check_view_sql(sql, KNOWN)
    assert checked.tables == ("cells", "synapses")
    kinds = {c.name: c.kind for c in checked.columns}
    assert kinds == {
        "pre_pt_root_id": "int",
        "cell_type": "str",
        "n": "int",
        "mean_size": "float",
        "is_aval": "bool",
    }


def test_star_is_the_flat_columns_and_strings_may_hold_dashes() -> None:
    checked = check_view_sql("SELECT *, '--x' AS note FROM cells", KNOWN)
    names = [c.name for c in checked.columns]
    assert names == [c.name for c in KNOWN["cells"].columns] + ["note"]


def test_points_are_grouped_and_typed_for_the_schema() -> None:
    sql = "SELECT id, pt_position_x, pt_position_y, pt_position_z, cell_type FROM cells"
    checked = check_view_sql(sql, KNOWN)
    info = ViewInfo(1, "ds", "v", sql, "", None, (4.0, 4.0, 40.0), False, "a", NOW)
    table = view_table_columns(info, checked.columns)
    assert [p.position for p in table.info.schema.points] == ["pt_position"]
    assert schema_dict(table) == {
        "id": {"type": "integer"},
        "pt_position": {"type": "SpatialPoint"},
        "cell_type": {"type": "string"},
    }


def test_compiled_sql_runs_on_sqlite() -> None:
    sql = "SELECT cell_type, count(*) AS n FROM cells WHERE cell_type <> 'x' GROUP BY cell_type"
    checked = check_view_sql(sql, KNOWN)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE cells (id, cell_type, classification_system, pt_root_id)")
    db.executemany("INSERT INTO cells VALUES (?, ?, 'c', 1)", [(1, "a"), (2, "a"), (3, "b")])
    assert sorted(db.execute(checked.compiled("sqlite")).fetchall()) == [("a", 2), ("b", 1)]
    assert '"cells"."cell_type"' in checked.compiled("postgresql")


def test_tables_can_be_read_from_other_sources() -> None:
    """A version without copies reads each table from a derived table in its place."""
    sql = "WITH c AS (SELECT pt_root_id FROM cells) SELECT count(*) AS n FROM c, cells"
    checked = check_view_sql(sql, KNOWN)
    text = checked.compiled("sqlite", {"cells": "SELECT 7 AS pt_root_id"})
    assert text.count("(SELECT 7 AS pt_root_id)") == 2
    assert '"cells" AS' not in text.replace('(SELECT 7 AS pt_root_id) AS "cells"', "")
    db = sqlite3.connect(":memory:")
    assert db.execute(text).fetchall() == [(1,)]
