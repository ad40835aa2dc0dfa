"""Exporting a view: its rows at a version (or, a ``live_compatible`` view, at an instant) as
one table of the release, named after the view.

The view's checked SELECT, compiled to the backend's dialect, is read as a derived table in
the version's database exactly as ``query_view`` reads it (``fixative.views.query``): at a copied
version the SELECT runs over the version tables; at a history version, or live at an instant,
each table it reads is the live table and its root-id history at the instant
(``HistoryRelation``). Each output is cast to the type the view's check inferred, as
``query_view`` casts it, so both give the same types. The rows stream through the same
statements as a table's, never held whole.

A view has no ``id``: its rows are ordered by every output column (after the partition key),
NULLs last, so a rerun writes the same files."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from fixative.errors import NotFound, Unprocessable
from fixative.export.source import VersionSource
from fixative.query.columns import flat_columns
from fixative.query.compile import HistoryRelation
from fixative.store.base import Store
from fixative.versions.model import VersionInfo, quote
from fixative.views.check import SQL_TYPE_OF_KIND, check_view_sql
from fixative.views.definitions import get_view
from fixative.views.model import view_table_columns
from fixative.views.query import DIALECTS, CheckedTarget


def checked_view(store: Store, datastack: str, name: str, tables: set[str]) -> CheckedTarget:
    """The stored view checked against today's tables; NotFound for an unknown view or one
    reading a table that ``tables`` (the version's, the live database's) does not hold."""
    info = get_view(store, datastack, name)
    known = {t.table_name: flat_columns(t) for t in store.list_tables()}
    checked = check_view_sql(info.sql, known)
    missing = [t for t in checked.tables if t not in tables]
    if missing:
        raise NotFound(
            f"view {name!r} reads {', '.join(missing)}, which the exported version of "
            f"datastack {datastack!r} does not hold"
        )
    return CheckedTarget(info, checked, view_table_columns(info, checked.columns))


def check_live(view: CheckedTarget) -> None:
    if not view.info.live_compatible:
        raise Unprocessable(
            f"view {view.info.name!r} is not live_compatible: export it at a version"
        )


def _history_sources(store: Store, view: CheckedTarget, info: VersionInfo) -> dict[str, str]:
    """Each table the view reads as a version made at the instant holds it."""
    at = info.history_at
    assert at is not None
    dialect = DIALECTS[store.dialect_name]()
    out = {}
    for i, name in enumerate(view.checked.tables):
        table = flat_columns(store.get_table(name))
        rel = HistoryRelation(table, f"h{i}", dialect.name, at)
        select = sa.select(*(rel.col(c.name) for c in table.columns))
        out[name] = str(select.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    return out


def view_relation(store: Store, view: CheckedTarget, info: VersionInfo) -> str:
    """``FROM`` text for the view at ``info``: plain SQL without parameters, each output cast
    to its inferred type, under the view's name."""
    sources = _history_sources(store, view, info) if info.history_at is not None else None
    sql = view.checked.compiled(store.dialect_name, sources)
    cast = ", ".join(
        f"CAST(v.{quote(c.name)} AS {SQL_TYPE_OF_KIND[c.kind]}) AS {quote(c.name)}"
        for c in view.table.columns
    )
    return f"(SELECT {cast} FROM ({sql}) AS v) AS {quote(view.info.name)}"


def view_sort(view: CheckedTarget, key: str | None) -> tuple[str, ...]:
    """The columns a view's rows are ordered by: the partition key, then every output."""
    names = [c.name for c in view.table.columns]
    return tuple(dict.fromkeys([*([key] if key else []), *names]))


def view_description(view: CheckedTarget) -> dict[str, Any]:
    """What the manifest says of the view a table holds."""
    return {
        "name": view.info.name,
        "sql": view.info.sql,
        "description": view.info.description,
        "tables": list(view.checked.tables),
        "live_compatible": view.info.live_compatible,
    }


class ViewSource:
    """A source that reads the view under its name, every other name as ``source`` does."""

    def __init__(self, source: VersionSource, name: str, relation: str) -> None:
        self._source, self._name, self._relation = source, name, relation
        self.dialect_name = source.dialect_name

    @property
    def streams(self) -> int:
        return self._source.streams

    def batches(self, sql: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        return self._source.batches(sql, schema)

    def read_ahead(self, statements: Sequence[str], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        return self._source.read_ahead(statements, schema)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self._source.rows(sql)

    def close(self) -> None:
        self._source.close()

    def relation(self, table: str) -> str:
        return self._relation if table == self._name else self._source.relation(table)
