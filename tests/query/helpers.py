"""Small helpers shared by the query tests."""

from __future__ import annotations

from typing import Any

from fixative.query.engine import QueryResult


def rows_of(result: QueryResult) -> list[dict[str, Any]]:
    """Every row of a result as a dict, checking each batch against the declared schema."""
    out: list[dict[str, Any]] = []
    try:
        for batch in result.batches:
            assert batch.schema == result.schema
            out.extend(batch.to_pylist())
    finally:
        result.close()
    return out
