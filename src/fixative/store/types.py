"""Column types shared by both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, UserDefinedType

SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes: ``timestamptz`` on PostgreSQL; on SQLite a fixed-width text
    ``YYYY-MM-DD HH:MM:SS.ffffff`` whose lexical order is time order."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(26))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected an aware datetime, got {value!r}")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.strftime(SQLITE_TIME_FORMAT)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.strptime(value, SQLITE_TIME_FORMAT).replace(tzinfo=UTC)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime(SQLITE_TIME_FORMAT)


class PointZ(UserDefinedType[Any]):
    """PostGIS ``geometry(POINTZ)``; only ever a generated column, never written directly."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "geometry(POINTZ)"


# Primary keys: BIGINT on PostgreSQL, the rowid alias INTEGER on SQLite.
IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
