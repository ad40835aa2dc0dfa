"""A slow query cannot hold the server: PostgreSQL version sessions carry a statement timeout,
and a cancelled statement is a clear 422, not a hang or a 500."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from query_world import QueryWorld

from fixative.errors import Unprocessable
from fixative.query.pgstream import PostgresVersion
from fixative.versions import list_versions


def test_statement_timeout_cancels_slow_statements(shared: QueryWorld) -> None:
    if shared.store.dialect_name != "postgresql":
        pytest.skip("SQLite versions have no statement timeout")
    info = list_versions(shared.store, shared.datastack)[0]
    database = PostgresVersion(shared.store, info, timeout_s=0.2)
    try:
        assert database.scalar(sa.select(sa.literal(7))) == 7  # quick statements run
        slow = sa.select(sa.func.count()).select_from(sa.select(sa.func.pg_sleep(2)).subquery())
        with pytest.raises(Unprocessable, match="query_timeout_s"):
            database.scalar(slow)
        assert database.scalar(sa.select(sa.literal(8))) == 8  # the session still serves
    finally:
        database.dispose()
