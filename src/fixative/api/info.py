"""The info service (``/info/...``): datastacks and aligned volumes from the settings, in the
shape caveclient's ``InfoServiceClient`` reads. ``local_server`` is this server's own base URL,
so one address serves info, materialize and the chunkedgraph."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from fixative.api.services import HttpServices
from fixative.config import DatastackSettings
from fixative.errors import NotFound

# caveclient gates image-mirror calls on info-service >= 4.3.1. Our own package version (0.x)
# would fail every such check, so the info service reports the reference server's version.
INFO_SERVER_VERSION = "4.3.3"
PREFIX = "/info/api/v2"


def base_url() -> str:
    """The URL this request reached the server at, without a trailing slash."""
    return request.host_url.rstrip("/")


class Catalogue:
    """Aligned volumes (numbered 1.. in name order) and datastacks from the settings."""

    def __init__(self, services: HttpServices) -> None:
        self.datastacks = services.settings.datastacks
        names = sorted({ds.aligned_volume for ds in self.datastacks})
        self.volume_ids = {name: i + 1 for i, name in enumerate(names)}

    def datastack(self, name: str) -> DatastackSettings:
        for ds in self.datastacks:
            if ds.name == name:
                return ds
        raise NotFound(f"datastack {name!r} does not exist")

    def volume(self, name: str) -> dict[str, Any]:
        if name not in self.volume_ids:
            raise NotFound(f"aligned volume {name!r} does not exist")
        return {
            "id": self.volume_ids[name],
            "name": name,
            "display_name": name,
            "description": "",
            "image_source": "",  # no EM imagery is configured; the volume is segmentation
        }

    def volume_by_id(self, volume_id: int) -> dict[str, Any]:
        for name, i in self.volume_ids.items():
            if i == volume_id:
                return self.volume(name)
        raise NotFound(f"aligned volume id {volume_id} does not exist")

    def full(self, name: str, base: str) -> dict[str, Any]:
        ds = self.datastack(name)
        res = ds.viewer_resolution
        return {
            "id": [d.name for d in self.datastacks].index(ds.name) + 1,
            "datastack": ds.name,
            "name": ds.name,
            "description": ds.description,
            "aligned_volume": self.volume(ds.aligned_volume),
            "local_server": base,
            "segmentation_source": f"graphene://{base}/segmentation/table/{ds.pcg_table_name}",
            "synapse_table": ds.synapse_table,
            "soma_table": ds.soma_table,
            "analysis_database": None,
            "viewer_site": None,
            "skeleton_source": None,
            "proofreading_status_table": None,
            "proofreading_review_table": None,
            "cell_identification_table": None,
            "viewer_resolution_x": res[0],
            "viewer_resolution_y": res[1],
            "viewer_resolution_z": res[2],
        }


def info_blueprint(services: HttpServices) -> Blueprint:
    bp = Blueprint("info", __name__)

    @bp.get("/info/version")
    def version() -> Response:
        return jsonify(INFO_SERVER_VERSION)

    @bp.get(f"{PREFIX}/datastack/full/<name>")
    def datastack_full(name: str) -> Response:
        return jsonify(Catalogue(services).full(name, base_url()))

    @bp.get(f"{PREFIX}/datastacks")
    def datastacks() -> Response:
        return jsonify([ds.name for ds in services.settings.datastacks])

    @bp.get(f"{PREFIX}/aligned_volume")
    def aligned_volumes() -> Response:
        return jsonify(list(Catalogue(services).volume_ids))

    @bp.get(f"{PREFIX}/aligned_volume/<name>")
    def aligned_volume(name: str) -> Response:
        return jsonify(Catalogue(services).volume(name))

    @bp.get(f"{PREFIX}/aligned_volume/id/<int:volume_id>")
    def aligned_volume_by_id(volume_id: int) -> Response:
        return jsonify(Catalogue(services).volume_by_id(volume_id))

    @bp.get(f"{PREFIX}/aligned_volume/<name>/datastacks")
    def volume_datastacks(name: str) -> Response:
        Catalogue(services).volume(name)
        return jsonify(
            [ds.name for ds in services.settings.datastacks if ds.aligned_volume == name]
        )

    return bp
