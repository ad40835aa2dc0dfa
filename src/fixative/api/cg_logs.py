"""The chunkedgraph reads analysts use to follow a neuron through proofreading, at
PyChunkedGraph's v1 paths and in its shapes (caveclient's ``ChunkedGraphClient`` method in
brackets):

- ``root/{id}/change_log`` (``get_change_log``): a summary of the root's edits;
- ``root/{id}/tabular_change_log`` and ``tabular_change_log_many`` (``get_tabular_change_log``):
  one row per edit, as pandas' ``DataFrame.to_json()`` writes a table (timestamps in ms);
  the many-root form answers each root's table as such a JSON *string*, as PyChunkedGraph does;
- ``root/{id}/merge_log`` (``get_merge_log``), ``operation_details`` (``get_operation_details``),
  ``user_operations`` (``get_user_operations``; datastack admins only, as PyChunkedGraph),
  ``node/{id}/children`` (``get_children``) and
  ``valid_nodes`` (``is_valid_nodes``; JSON body on GET, or raw uint64 with ``is_binary``).

A graph without an edit history (a flat segmentation) answers 404 for them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
from flask import Blueprint, Response, jsonify, request

from fixative.api.wire import bool_arg, id_list, json_body, timestamp_arg
from fixative.chunkedgraph.port import ChunkedGraph, EditHistory
from fixative.chunkedgraph.records import floor_ms
from fixative.errors import InvalidInput, NotFound

V1 = "/segmentation/api/v1/table/<table_id>"
MAX_OPERATIONS = 10_000
_OP_ID = "[1-9][0-9]{0,17}"  # 1 to 10**18 - 1: within int64
OPERATION_IDS_PATTERN = rf"\[ *(?:{_OP_ID} *(?:, *{_OP_ID} *)*)?\]"  # as caveclient writes it
OPERATION_IDS_RE = re.compile(OPERATION_IDS_PATTERN)
USER_ID_MAX = 128
TABULAR = (
    "operation_id",
    "timestamp",
    "user_id",
    "before_root_ids",
    "after_root_ids",
    "is_merge",
    "in_neuron",
    "is_relevant",
    "user_name",
    "user_affiliation",
)

GraphLookup = Callable[[str], ChunkedGraph]
AdminCheck = Callable[[str], None]


def frame_json(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """``rows`` as ``pandas.DataFrame.to_json()`` writes them: ``{column: {"0": value}}``,
    datetimes as epoch milliseconds, ``columns`` in order."""
    table = {
        c: {str(i): floor_ms(v) if isinstance(v, datetime) else v for i, v in enumerate(values)}
        for c in columns
        for values in [[r[c] for r in rows]]
    }
    return json.dumps(table, separators=(",", ":"))


def tabular_json(rows: list[dict[str, Any]], filtered: bool, named: bool) -> str:
    """A root's tabular change log with PyChunkedGraph's columns: the two flags only when
    unfiltered; ``user_name`` and ``user_affiliation`` when any root of the answer has rows
    (users are named by their id: there is no user directory here)."""
    columns = TABULAR[:6] + (() if filtered else TABULAR[6:8]) + (TABULAR[8:] if named else ())
    full = [{**r, "user_name": r["user_id"], "user_affiliation": ""} for r in rows]
    return frame_json(full, columns)


def tabular_answer(logs: dict[int, list[dict[str, Any]]], filtered: bool) -> dict[str, str]:
    named = any(logs.values())
    return {str(k): tabular_json(v, filtered, named) for k, v in logs.items()}


def _operation_ids() -> list[int]:
    raw = request.args.get("operation_ids", "[]")
    if OPERATION_IDS_RE.fullmatch(raw) is None:
        raise InvalidInput(
            f"operation_ids={raw[:80]!r} must be a JSON list of operation ids, as [1, 2, 3]"
        )
    ids = [int(i) for i in json.loads(raw)]
    if len(ids) > MAX_OPERATIONS:
        raise InvalidInput(f"at most {MAX_OPERATIONS:,} operation ids per call")
    return ids


def _user_arg() -> str | None:
    user = request.args.get("user_id") or None
    if user is not None and len(user) > USER_ID_MAX:
        raise InvalidInput(f"user_id is longer than {USER_ID_MAX} characters")
    return user


def cg_logs_blueprint(graphs: GraphLookup, admins_only: AdminCheck | None = None) -> Blueprint:
    """``admins_only(table_id)`` refuses a user who administers none of the graph's
    datastacks (PyChunkedGraph serves ``user_operations`` to admins only); None: no check."""
    bp = Blueprint("cg_logs", __name__)

    def history(table_id: str) -> EditHistory:
        graph = graphs(table_id)
        if not isinstance(graph, EditHistory):
            raise NotFound(f"chunkedgraph {table_id!r} has no edit history (a flat segmentation)")
        return graph

    @bp.get(f"{V1}/root/<int:root_id>/change_log")
    def change_log(table_id: str, root_id: int) -> Response:
        filtered = bool_arg("filtered", default=False)
        past = timestamp_arg("timestamp")
        return jsonify(history(table_id).get_change_log(root_id, filtered, past))

    @bp.get(f"{V1}/root/<int:root_id>/tabular_change_log")
    def tabular_change_log(table_id: str, root_id: int) -> Response:
        filtered = bool_arg("filtered", default=True)
        logs = history(table_id).get_tabular_change_logs([root_id], filtered)
        body = tabular_answer(logs, filtered)[str(root_id)]
        return Response(body, mimetype="application/json")

    @bp.get(f"{V1}/tabular_change_log_many")
    def tabular_change_log_many(table_id: str) -> Response:
        filtered = bool_arg("filtered", default=True)
        roots = id_list(json_body(), "root_ids")
        logs = history(table_id).get_tabular_change_logs(roots, filtered)
        return jsonify(tabular_answer(logs, filtered))

    @bp.get(f"{V1}/root/<int:root_id>/merge_log")
    def merge_log(table_id: str, root_id: int) -> Response:
        return jsonify(history(table_id).get_merge_log(root_id))

    @bp.get(f"{V1}/operation_details")
    def operation_details(table_id: str) -> Response:
        details = history(table_id).get_operation_details(_operation_ids())
        return jsonify({str(k): v for k, v in details.items()})

    @bp.get(f"{V1}/user_operations")
    def user_operations(table_id: str) -> Response:
        if admins_only is not None:
            admins_only(table_id)
        user = _user_arg()
        since = timestamp_arg("start_time")
        until = timestamp_arg("end_time")
        undone = bool_arg("include_undone")
        found = history(table_id).get_user_operations(user, since, until, undone)
        rows = [{"operation_id": op, "timestamp": at} for op, at in found]
        body = frame_json(rows, ("operation_id", "timestamp"))
        return Response(body, mimetype="application/json")

    @bp.get(f"{V1}/node/<int:node_id>/children")
    def children(table_id: str, node_id: int) -> Response:
        return jsonify({"children_ids": history(table_id).get_children(node_id).tolist()})

    @bp.get(f"{V1}/valid_nodes")
    def valid_nodes(table_id: str) -> Response:
        if bool_arg("is_binary"):
            raw = request.get_data()
            if len(raw) % 8:
                raise InvalidInput(
                    "a binary valid_nodes body must be whole little-endian uint64 values"
                )
            ids = np.frombuffer(raw, dtype="<u8").astype(np.uint64)
        else:
            ids = id_list(json_body(), "node_ids")
        since: datetime | None = timestamp_arg("start_timestamp")
        until: datetime | None = timestamp_arg("end_timestamp")
        valid = history(table_id).get_valid_nodes(ids, since, until)
        return jsonify({"valid_roots": valid.tolist()})

    return bp
