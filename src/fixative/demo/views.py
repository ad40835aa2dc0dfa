"""The demo datastack's view ``connectivity``: one row per connected pair of neurons (pre and
post root ids), each neuron's cell name from ``cell_types`` (the first alphabetically while a
wrong merge still holds several cells) and the number of synapses between them. After
proofreading, its rows labelled by name are the published connectome exactly."""

from __future__ import annotations

from fixative.store import Store
from fixative.views.definitions import create_view, find_view
from fixative.views.model import NewView

CONNECTIVITY = "connectivity"
CONNECTIVITY_SQL = """\
SELECT s.pre_pt_root_id, s.post_pt_root_id,
       pre.cell_name AS pre_cell, post.cell_name AS post_cell, s.n_synapses
FROM (SELECT pre_pt_root_id, post_pt_root_id, count(*) AS n_synapses
      FROM synapses
      WHERE pre_pt_root_id > 0 AND post_pt_root_id > 0
      GROUP BY pre_pt_root_id, post_pt_root_id) AS s
LEFT JOIN (SELECT pt_root_id, min(cell_type) AS cell_name
           FROM cell_types GROUP BY pt_root_id) AS pre
       ON pre.pt_root_id = s.pre_pt_root_id
LEFT JOIN (SELECT pt_root_id, min(cell_type) AS cell_name
           FROM cell_types GROUP BY pt_root_id) AS post
       ON post.pt_root_id = s.post_pt_root_id"""
DESCRIPTION = "Connected pairs of neurons with their cell names and synapse counts"


def define_views(
    store: Store, datastack: str, aligned_volume: str, resolution_nm: tuple[float, float, float]
) -> None:
    """Define ``connectivity`` in ``datastack`` (kept when it is already there)."""
    if find_view(store, datastack, CONNECTIVITY) is not None:
        return
    new = NewView(
        datastack=datastack,
        name=CONNECTIVITY,
        sql=CONNECTIVITY_SQL,
        user_id="demo",
        voxel_resolution_nm=resolution_nm,
        description=DESCRIPTION,
        live_compatible=True,
    )
    create_view(store, aligned_volume, new)
