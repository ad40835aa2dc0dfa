"""PyChunkedGraph's read API, served from any ChunkedGraph (the embedded graph in practice), at
PyChunkedGraph's own paths and wire format: float-epoch timestamps, exact 64-bit ids, raw
little-endian uint64 ``roots_binary`` bodies, JSON bodies without a Content-Type (also on GET)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from flask import Blueprint, Response, jsonify, request

from fixative.api.wire import bool_arg, epoch, id_list, json_body, timestamp_arg
from fixative.chunkedgraph.port import ChunkedGraph
from fixative.clock import utc_now
from fixative.errors import InvalidInput

API_VERSIONS = [0, 1]
SERVER_VERSION = "2.21.1"  # what caveclient's version checks expect of PyChunkedGraph
V1 = "/segmentation/api/v1/table/<table_id>"

GraphLookup = Callable[[str], ChunkedGraph]
InfoLookup = Callable[[str], dict[str, Any]]


def segmentation_blueprint(graphs: GraphLookup, infos: InfoLookup | None = None) -> Blueprint:
    """Routes for ``/segmentation/...``; ``graphs(table_id)`` raises NotFound for unknown ids."""
    bp = Blueprint("segmentation", __name__)

    @bp.get("/segmentation/api/versions")
    def api_versions() -> Response:
        return jsonify(API_VERSIONS)

    @bp.get("/segmentation/api/version")
    def server_version() -> Response:
        return jsonify(SERVER_VERSION)

    @bp.get("/segmentation/table/<table_id>/info")
    def info(table_id: str) -> Response:
        graphs(table_id)
        body = infos(table_id) if infos is not None else {}
        return jsonify({**body, "app": {"supported_api_versions": API_VERSIONS}})

    @bp.post(f"{V1}/roots_binary")
    def roots_binary(table_id: str) -> Response:
        raw = request.get_data()
        if len(raw) % 8:
            raise InvalidInput("roots_binary body must be whole little-endian uint64 values")
        svids = np.frombuffer(raw, dtype="<u8")
        roots = graphs(table_id).get_roots(svids, timestamp_arg("timestamp"))
        body = np.ascontiguousarray(roots, dtype="<u8").tobytes()
        return Response(body, mimetype="application/octet-stream")

    @bp.post(f"{V1}/roots")
    def roots(table_id: str) -> Response:
        svids = id_list(json_body(), "node_ids")
        result = graphs(table_id).get_roots(svids, timestamp_arg("timestamp"))
        return jsonify({"root_ids": result.tolist()})

    @bp.get(f"{V1}/node/<int:node_id>/root")
    def node_root(table_id: str, node_id: int) -> Response:
        root = graphs(table_id).get_roots(
            np.array([node_id], np.uint64), timestamp_arg("timestamp")
        )
        return jsonify({"root_id": int(root[0])})

    @bp.get(f"{V1}/node/<int:node_id>/leaves")
    def leaves(table_id: str, node_id: int) -> Response:
        return jsonify({"leaf_ids": graphs(table_id).get_leaves(node_id).tolist()})

    @bp.post(f"{V1}/is_latest_roots")
    def is_latest(table_id: str) -> Response:
        ids = id_list(json_body(), "node_ids")
        flags = graphs(table_id).is_latest_roots(ids, timestamp_arg("timestamp"))
        return jsonify({"is_latest": [bool(f) for f in flags]})

    @bp.post(f"{V1}/root_timestamps")
    def root_timestamps(table_id: str) -> Response:
        ids = id_list(json_body(), "node_ids")
        stamps = graphs(table_id).get_root_timestamps(
            ids, latest=bool_arg("latest"), at=timestamp_arg("timestamp")
        )
        return jsonify({"timestamp": [epoch(t) for t in stamps]})

    @bp.get(f"{V1}/delta_roots")
    def delta_roots(table_id: str) -> Response:
        past = timestamp_arg("timestamp_past")
        if past is None:
            raise InvalidInput("delta_roots needs timestamp_past")
        old, new = graphs(table_id).get_delta_roots(past, timestamp_arg("timestamp_future"))
        return jsonify({"old_roots": old.tolist(), "new_roots": new.tolist()})

    @bp.get(f"{V1}/past_id_mapping")
    def past_id_mapping(table_id: str) -> Response:
        ids = id_list(json_body(), "root_ids")
        past = timestamp_arg("timestamp_past")
        if past is None:
            raise InvalidInput("past_id_mapping needs timestamp_past")
        future = timestamp_arg("timestamp_future") or utc_now()
        past_map, future_map = graphs(table_id).get_past_id_mapping(ids, past, future)
        return jsonify(
            {
                "past_id_map": {str(k): [int(i) for i in v] for k, v in past_map.items()},
                "future_id_map": {str(k): int(v) for k, v in future_map.items()},
            }
        )

    @bp.post(f"{V1}/lineage_graph_multiple")
    def lineage_multiple(table_id: str) -> Response:
        ids = id_list(json_body(), "root_ids")
        return jsonify(_lineage(graphs(table_id), ids))

    @bp.get(f"{V1}/root/<int:root_id>/lineage_graph")
    def lineage_one(table_id: str, root_id: int) -> Response:
        return jsonify(_lineage(graphs(table_id), np.array([root_id], np.uint64)))

    @bp.get(f"{V1}/oldest_timestamp")
    def oldest_timestamp(table_id: str) -> Response:
        return jsonify({"iso": graphs(table_id).get_oldest_timestamp().isoformat()})

    return bp


def _lineage(graph: ChunkedGraph, ids: npt.NDArray[np.uint64]) -> dict[str, Any]:
    """caveclient omits ``timestamp_future`` in one code path (it sends ``name=...``): unknown
    parameters are ignored and the future defaults to now."""
    past = timestamp_arg("timestamp_past")
    future = timestamp_arg("timestamp_future") or timestamp_arg("timestamp") or utc_now()
    return graph.get_lineage_graph(ids, past, future)
