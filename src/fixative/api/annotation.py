"""The annotation service at CAVE's paths (``/annotation/api/v2/aligned_volume/{av}/...``):
create and list tables, table metadata and counts, and annotations posted (at most
``MAX_ANNOTATIONS`` per call; new ids returned), read by id, updated (old id -> new id) and
deleted. A write sent with an ``Idempotency-Key`` header is done once: a retry gets the
first answer. Every write checks the user's table write permission first and writes nothing when it
fails; after a write the ingest workflow is submitted so new rows get supervoxel and root ids."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from fixative.api.auth import Authorizer, current_principal
from fixative.api.wire import json_body, whole
from fixative.errors import InvalidInput, NotFound, PayloadTooLarge
from fixative.idempotency.once import Request as IdempotentRequest
from fixative.idempotency.once import run_once
from fixative.schemas.records import to_records
from fixative.store import NewTable, Store, TableInfo
from fixative.store.model import PERMISSIONS, TABLE_NAME_RE

MAX_ANNOTATIONS = 10_000
ID_LIMIT = 2**63


def decimal_up_to(n: int) -> str:
    """A regular expression for the decimals 1 to ``n``, no leading zeros."""
    digits = str(n)
    shorter = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    same = []
    for i, d in enumerate(digits):
        low = "1" if i == 0 else "0"
        if int(d) > int(low):
            same.append(f"{digits[:i]}[{low}-{int(d) - 1}][0-9]{{{len(digits) - i - 1}}}")
    return "(?:" + "|".join([*shorter, *same, digits]) + ")"


ANNOTATION_ID = decimal_up_to(ID_LIMIT - 1)
ANNOTATION_IDS_RE = re.compile(f"^{ANNOTATION_ID}(?:,{ANNOTATION_ID})*$")  # as caveclient sends
PREFIX = "/annotation/api/v2/aligned_volume/<aligned_volume>"
METADATA_KEYS = frozenset(
    {
        "description",
        "voxel_resolution_x",
        "voxel_resolution_y",
        "voxel_resolution_z",
        "read_permission",
        "write_permission",
        "user_id",
        "notice_text",
        "table_metadata",
        "flat_segmentation_source",
    }
)

TEXT_METADATA = ("description", "notice_text", "flat_segmentation_source")

AfterWrite = Callable[[str, str], None]  # (datastack, table) -> submit ingest


def _object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    return body


def _annotations(body: Any) -> list[Any]:
    body = _object(body, "the body")
    unknown = sorted(set(body) - {"annotations"})
    if unknown:
        raise InvalidInput(f"unknown key(s) in the body: {', '.join(unknown)}")
    rows = body.get("annotations")
    if not isinstance(rows, list):
        raise InvalidInput("'annotations' must be a list of annotation objects")
    if not rows:
        raise InvalidInput("'annotations' is empty")
    if len(rows) > MAX_ANNOTATIONS:
        raise PayloadTooLarge(
            f"{len(rows):,} annotations in one call; at most {MAX_ANNOTATIONS:,} are accepted"
        )
    for i, row in enumerate(rows):
        _refuse_nul(row, f"annotations[{i}]")
        if isinstance(row, dict) and row.get("id") is not None:  # a client id, or the row's
            row["id"] = _id(row["id"], f"annotations[{i}].id")
    return rows


def _refuse_nul(value: Any, where: str) -> None:
    """NUL characters cannot be stored in PostgreSQL text (it fails the whole request with a
    DataError), so both backends refuse them in the request instead. Walked without recursion:
    the nesting depth is the client's choice."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise InvalidInput(f"{where} holds a NUL character")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _table_name(name: object, what: str = "table_name") -> str:
    """A table name as the store allows it, checked on the whole string: ``$`` in the store's
    pattern also matches before a trailing newline, which would reach SQL as a 500."""
    if not isinstance(name, str) or TABLE_NAME_RE.fullmatch(name) is None:
        shown = repr(name)[:80]
        raise InvalidInput(
            f"{what} {shown} is not allowed: use lowercase letters, digits and _, "
            "starting with a letter"
        )
    return name


def _id(value: Any, where: str) -> int:
    """An annotation id: a positive int64 (a larger one failed in PostgreSQL as a 500). JSON's
    565.0 is the integer 565, as JSON Schema says."""
    number = whole(value)
    if number is None or not 0 < number < ID_LIMIT:
        raise InvalidInput(f"{where}: {str(value)[:40]!r} is not an annotation id (1 to 2**63-1)")
    return number


def _ids_arg() -> list[int]:
    raw = request.args.get("annotation_ids", "")
    if not raw:
        raise InvalidInput("give annotation_ids=1,2,3")
    if ANNOTATION_IDS_RE.fullmatch(raw) is None:
        raise InvalidInput(
            f"annotation_ids={raw[:80]!r} must be comma-separated ids from 1 to 2**63-1"
        )
    ids = [int(part) for part in raw.split(",")]
    if len(ids) > MAX_ANNOTATIONS:
        raise PayloadTooLarge(f"at most {MAX_ANNOTATIONS:,} ids per call")
    return ids


def _resolution(meta: dict[str, Any]) -> tuple[float, float, float]:
    values = []
    for axis in "xyz":
        v = meta.get(f"voxel_resolution_{axis}")
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise InvalidInput(f"metadata.voxel_resolution_{axis} must be a number (nm)")
        values.append(float(v))
    return (values[0], values[1], values[2])


def annotation_blueprint(
    store: Store, authorizer: Authorizer, after_write: AfterWrite
) -> Blueprint:
    bp = Blueprint("annotation", __name__)
    settings = authorizer.settings

    def table_of(aligned_volume: str, name: str) -> tuple[str, TableInfo]:
        datastack = authorizer.datastack_of_volume(aligned_volume)
        if TABLE_NAME_RE.fullmatch(name) is None:
            raise NotFound(f"table {name[:80]!r} does not exist")
        info = store.get_table(name)
        if info.aligned_volume != aligned_volume:
            raise NotFound(f"table {name!r} is not in aligned volume {aligned_volume!r}")
        return datastack, info

    def readable(aligned_volume: str, name: str) -> tuple[str, TableInfo]:
        datastack, info = table_of(aligned_volume, name)
        authorizer.require_read(datastack, info)
        return datastack, info

    def writable(aligned_volume: str, name: str) -> tuple[str, TableInfo]:
        datastack, info = table_of(aligned_volume, name)
        authorizer.require_write(datastack, info)
        return datastack, info

    @bp.get(f"{PREFIX}/table")
    def list_tables(aligned_volume: str) -> Response:
        datastack = authorizer.datastack_of_volume(aligned_volume)
        tables = authorizer.readable(datastack, store.list_tables(aligned_volume))
        return jsonify([t.table_name for t in tables])

    @bp.post(f"{PREFIX}/table")
    def create_table(aligned_volume: str) -> Response:
        datastack = authorizer.datastack_of_volume(aligned_volume)
        ds = settings.datastack(datastack)
        body = _object(json_body(), "the body")
        unknown = sorted(set(body) - {"schema_type", "table_name", "metadata"})
        if unknown:
            raise InvalidInput(f"unknown key(s) in the body: {', '.join(unknown)}")
        meta = _object(body.get("metadata", {}), "'metadata'")
        extra = sorted(set(meta) - METADATA_KEYS)
        if extra:
            raise InvalidInput(f"unknown metadata key(s): {', '.join(extra)}")
        table_meta = _object(meta.get("table_metadata") or {}, "'metadata.table_metadata'")
        principal = current_principal()
        owner = principal.user_id
        if meta.get("user_id") not in (None, owner) and principal.level_on(datastack) < 3:
            raise InvalidInput("only a datastack admin may create a table for another user")
        schema_type = body.get("schema_type")
        if not isinstance(schema_type, str):
            raise InvalidInput("'schema_type' must name a schema")
        from fixative.schemas.registry import get_schema

        schema = get_schema(schema_type)
        read_permission = meta.get("read_permission", "PUBLIC")
        write_permission = meta.get("write_permission", "PRIVATE")
        for key, value in (("read", read_permission), ("write", write_permission)):
            if value not in PERMISSIONS:
                raise InvalidInput(f"{key}_permission must be one of {', '.join(PERMISSIONS)}")
        for key in TEXT_METADATA:  # stored as text: a list or an object here was a 500
            if not isinstance(meta.get(key), str | None):
                raise InvalidInput(f"metadata.{key} must be a string")
        if isinstance(meta.get("user_id"), bool) or not isinstance(
            meta.get("user_id"), str | int | None
        ):
            raise InvalidInput("metadata.user_id must be a string or an integer")
        reference = table_meta.get("reference_table") or None
        if reference is not None:
            _table_name(reference, "metadata.table_metadata.reference_table")
        spec = NewTable(
            table_name=_table_name(body.get("table_name")),
            schema_type=schema_type,
            aligned_volume=aligned_volume,
            user_id=str(meta.get("user_id") or owner),
            voxel_resolution_nm=_resolution(meta),
            description=str(meta.get("description") or ""),
            notice_text=meta.get("notice_text"),
            reference_table=reference,
            read_permission=read_permission,
            write_permission=write_permission,
            pcg_table_name=ds.pcg_table_name if schema.has_segmentation else None,
            segmentation_source=ds.segmentation_source,
            flat_segmentation_source=meta.get("flat_segmentation_source"),
        )
        if spec.reference_table:  # a reference table may only point at a table one can read
            readable(aligned_volume, spec.reference_table)
        created = store.create_table(spec)
        return jsonify(f"table {created.table_name} created")

    @bp.get(f"{PREFIX}/table/<table>")
    def table_metadata(aligned_volume: str, table: str) -> Response:
        _, info = readable(aligned_volume, table)
        return jsonify({"id": None, **info.metadata_dict(), "annotation_table": info.table_name})

    @bp.get(f"{PREFIX}/table/<table>/count")
    def table_count(aligned_volume: str, table: str) -> Response:
        readable(aligned_volume, table)
        return jsonify(store.count_at(table, store.clock()))

    def once(write: Callable[[], Any]) -> Response:
        """``write()`` answered as JSON; with an ``Idempotency-Key`` header, a retry of the
        same request gets the first answer back and writes nothing."""
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return jsonify(write())
        asked = IdempotentRequest.of(
            current_principal().user_id, key, request.method, request.path, request.get_data()
        )
        answer = run_once(store, asked, write)
        response = jsonify(answer.body)
        response.status_code = answer.status
        if answer.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    @bp.post(f"{PREFIX}/table/<table>/annotations")
    def post_annotations(aligned_volume: str, table: str) -> Response:
        datastack, _ = writable(aligned_volume, table)
        rows = _annotations(json_body())
        response = once(lambda: [int(i) for i in store.insert_annotations(table, rows)])
        if "Idempotent-Replayed" not in response.headers:
            after_write(datastack, table)
        return response

    @bp.get(f"{PREFIX}/table/<table>/annotations")
    def get_annotations(aligned_volume: str, table: str) -> Response:
        _, info = readable(aligned_volume, table)
        found = store.get_annotations(table, _ids_arg())
        return jsonify(to_records(info.schema, found))

    @bp.put(f"{PREFIX}/table/<table>/annotations")
    def update_annotations(aligned_volume: str, table: str) -> Response:
        datastack, _ = writable(aligned_volume, table)
        rows = _annotations(json_body())
        for n, row in enumerate(rows):
            if isinstance(row, dict) and "id" in row:
                row["id"] = _id(row["id"], f"annotations[{n}].id")
        response = once(
            lambda: {
                str(old): int(new) for old, new in store.update_annotations(table, rows).items()
            }
        )
        if "Idempotent-Replayed" not in response.headers:
            after_write(datastack, table)
        return response

    @bp.delete(f"{PREFIX}/table/<table>/annotations")
    def delete_annotations(aligned_volume: str, table: str) -> Response:
        writable(aligned_volume, table)
        body = _object(json_body(), "the body")
        ids = body.get("annotation_ids")
        if not isinstance(ids, list) or not ids:
            raise InvalidInput("'annotation_ids' must be a non-empty list of ids")
        if len(ids) > MAX_ANNOTATIONS:
            raise PayloadTooLarge(f"at most {MAX_ANNOTATIONS:,} ids per call")
        ids = [_id(i, f"annotation_ids[{n}]") for n, i in enumerate(ids)]
        return once(lambda: [int(i) for i in store.delete_annotations(table, ids)])

    return bp
