"""Annotation-table administration at CAVE's paths:

- ``PUT /annotation/api/v2/aligned_volume/{av}/table`` with ``{"table_name", "metadata"}``:
  change description, notice text, permissions, owner or flat segmentation source; answers the
  new metadata (caveclient ``annotation.update_metadata``);
- ``DELETE /annotation/api/v2/aligned_volume/{av}/table/{t}``: soft delete (hidden, never
  served, rows kept); answers ``true`` (caveclient ``annotation.delete_table``);
- ``POST /materialize/api/v2/materialize/run/lookup_svid/datastack/{ds}/{t}`` with
  ``{"annotation_ids": [...]}`` (optional): look up the supervoxel (and root) ids of the table's
  new rows now, as an ingest run (caveclient ``materialize.lookup_supervoxel_ids``).

Changing or deleting a table takes its owner or a datastack admin; the lookup takes write
permission on the table."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from fixative.api.annotation import MAX_ANNOTATIONS, PREFIX, _id, _object
from fixative.api.auth import Authorizer, current_principal
from fixative.api.wire import json_body
from fixative.api.workflows import check_params, run_dict
from fixative.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from fixative.runner.port import TaskRunner
from fixative.runner.records import get_run
from fixative.store import Store, TableInfo
from fixative.store.model import TABLE_NAME_RE
from fixative.store.table_admin import MetadataChange, delete_table, update_table_metadata

UPDATABLE = frozenset(
    {
        "description",
        "flat_segmentation_source",
        "read_permission",
        "write_permission",
        "user_id",
        "notice_text",
    }
)
LOOKUP = "/materialize/api/v2/materialize/run/lookup_svid/datastack/<datastack>/<table>"


def metadata_change(meta: dict[str, Any]) -> MetadataChange:
    """The body's ``metadata`` as a change: only the keys caveclient sends, each a string (an
    integer ``user_id`` too, as caveclient documents it)."""
    unknown = sorted(set(meta) - UPDATABLE)
    if unknown:
        raise InvalidInput(f"metadata key(s) that cannot be changed: {', '.join(unknown)}")
    for key, value in meta.items():
        allowed = str | int if key == "user_id" else str
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise InvalidInput(f"metadata.{key} must be a string")
    notice = meta.get("notice_text")
    clear = notice is not None and notice.strip().lower() in ("", "none")
    user = meta.get("user_id")
    return MetadataChange(
        description=meta.get("description"),
        flat_segmentation_source=meta.get("flat_segmentation_source"),
        read_permission=meta.get("read_permission"),
        write_permission=meta.get("write_permission"),
        user_id=None if user is None else str(user),
        notice_text=None if clear else notice,
        clear_notice=clear,
    )


def _metadata(info: TableInfo) -> dict[str, Any]:
    return {"id": None, **info.metadata_dict(), "annotation_table": info.table_name}


def table_admin_blueprint(
    store: Store, authorizer: Authorizer, runner: TaskRunner | None
) -> Blueprint:
    bp = Blueprint("table_admin", __name__)

    def owned(aligned_volume: str, name: object) -> TableInfo:
        """The table, when this request's user owns it or administers its datastack."""
        datastack = authorizer.datastack_of_volume(aligned_volume)
        if not isinstance(name, str) or TABLE_NAME_RE.fullmatch(name) is None:
            raise NotFound(f"table {str(name)[:80]!r} does not exist")
        info = store.get_table(name)
        if info.aligned_volume != aligned_volume:
            raise NotFound(f"table {name!r} is not in aligned volume {aligned_volume!r}")
        principal = current_principal()
        if info.user_id != principal.user_id and principal.level_on(datastack) < 3:
            authorizer.require_read(datastack, info)  # a table one cannot see stays unseen
            raise Forbidden(
                f"only the owner of table {name!r} or a datastack admin may change or delete it"
            )
        return info

    @bp.put(f"{PREFIX}/table")
    def update_metadata(aligned_volume: str) -> Response:
        body = _object(json_body(), "the body")
        unknown = sorted(set(body) - {"table_name", "metadata"})
        if unknown:
            raise InvalidInput(f"unknown key(s) in the body: {', '.join(unknown)}")
        if "table_name" not in body:
            raise InvalidInput("the body needs 'table_name'")
        change = metadata_change(_object(body.get("metadata", {}), "'metadata'"))
        info = owned(aligned_volume, body["table_name"])
        return jsonify(_metadata(update_table_metadata(store, info.table_name, change)))

    @bp.delete(f"{PREFIX}/table/<table>")
    def remove_table(aligned_volume: str, table: str) -> Response:
        info = owned(aligned_volume, table)
        delete_table(store, info.table_name)
        return jsonify(True)

    if runner is None:
        return bp

    @bp.post(LOOKUP)
    def lookup_svid(datastack: str, table: str) -> Response:
        """Supervoxels of new rows are found by the table's ingest run (supervoxel ids never
        change, so rows already linked are as the lookup would leave them)."""
        settings = authorizer.settings
        settings.datastack(datastack)
        body = _object(json_body(), "the body")
        unknown = sorted(set(body) - {"annotation_ids"})
        if unknown:
            raise InvalidInput(f"unknown key(s) in the body: {', '.join(unknown)}")
        ids = body.get("annotation_ids")
        if ids is not None:
            if not isinstance(ids, list):
                raise InvalidInput("'annotation_ids' must be a list of ids")
            if len(ids) > MAX_ANNOTATIONS:
                raise PayloadTooLarge(f"at most {MAX_ANNOTATIONS:,} ids per call")
            ids = [_id(i, f"annotation_ids[{n}]") for n, i in enumerate(ids)]
        info = store.get_table(table)
        authorizer.require_write(datastack, info)
        check_params(store, settings, datastack, "ingest", {"table": table})
        if ids:
            store.get_annotations(table, ids)  # NotFound names an unknown id
        run_id = runner.submit("ingest", {"table": table}, datastack)
        return jsonify(run_dict(get_run(store, run_id)))

    return bp
