"""The version catalogue, on the shared metadata (migration ``0003`` creates it).

- ``versions``: one row per version of a datastack, numbered 1, 2, ... per datastack and never
  reused (failed and expired rows stay). ``time_stamp`` is the instant T the version holds;
  ``builder`` names the process that builds it (``host:pid``) so an interrupted build can be found;
  ``database`` is the version database's name as built (migration ``0007``; null on older rows,
  which were all named ``{datastack}__mat{N}``). ``pinned`` versions are never expired;
  ``pin_name`` names one (a release, a paper), unique per datastack (migration ``0010``).
  ``kind``: ``flat`` (a database copy) or ``history`` (no copy: read from the live tables and
  their root-id histories at ``time_stamp``; ``database`` is NULL) (migration ``0012``).
- ``version_tables``: the tables of a version with their row counts, written in the same
  transaction that makes the version AVAILABLE. It holds a few rows per version, so it has no
  index of its own (an index here would also show as a difference wherever the metadata is
  compared without this module imported).
"""

from __future__ import annotations

import sqlalchemy as sa

from fixative.store.tables import metadata
from fixative.store.types import IdType, UtcDateTime

versions = sa.Table(
    "versions",
    metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column("datastack", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("time_stamp", UtcDateTime, nullable=False),
    sa.Column("created", UtcDateTime, nullable=False),
    sa.Column("expires_on", UtcDateTime),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("valid", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_merged", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("parent_version", sa.BigInteger),
    sa.Column("error", sa.Text),
    sa.Column("builder", sa.String(128)),
    sa.Column("database", sa.String(63)),
    sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("pin_name", sa.String(128)),
    sa.Column("kind", sa.String(16), nullable=False, server_default=sa.text("'flat'")),
    sa.UniqueConstraint("datastack", "version", name="uq_versions_datastack_version"),
    sa.UniqueConstraint("datastack", "pin_name", name="uq_versions_datastack_pin_name"),
)

version_tables = sa.Table(
    "version_tables",
    metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column("version_id", sa.BigInteger, nullable=False),
    sa.Column("table_name", sa.String(64), nullable=False),
    sa.Column("schema_type", sa.String(64), nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("valid", sa.Boolean, nullable=False),
    sa.Column("created", UtcDateTime, nullable=False),
)

ALL_TABLES = (versions, version_tables)
