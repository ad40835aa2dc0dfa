"""The real Neuroglancer (the web client the ``neuroglancer`` package carries, served on
loopback by its own server) in headless Chromium: the demo segmentation (its precomputed volume
served over loopback HTTP with CORS) and the synapses from Fixative's precomputed URL at a
version. Through the viewer's JavaScript objects: the layer loaded spatial chunks holding only
the version's synapses, none twice, and selecting a segment (the layer filtered by
``pre_pt_root_id``) loads exactly that segment's synapses from the relationship index. Only
loopback is reached; a screenshot is kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from ng_world import NgWorld

from fixative.segmentation.tensorstore import parse_source
from fixative.testing.browser import artifacts_dir

LINE = 1  # Neuroglancer's AnnotationType.LINE
LOADED = """() => {
  const layer = window.viewer.layerManager.getLayerByName('synapses');
  const states = layer && layer.layer.annotationStates.states;
  if (!states || states.length === 0 || !states[0].source) return null;
  const source = states[0].source;
  const ids = (c) => c.data ? Array.from(c.data.serializedAnnotations.typeToIds[LINE]) : null;
  const spatial = [], filtered = {};
  for (const s of source.spatiallyIndexedSources) {
    for (const [, c] of s.chunks) spatial.push(ids(c));
  }
  for (const s of source.segmentFilteredSources) {
    for (const [k, c] of s.chunks) filtered[k] = ids(c);
  }
  return JSON.stringify({spatial, filtered});
}""".replace("LINE", str(LINE))


@pytest.fixture(scope="module")
def neuroglancer_viewer() -> Iterator[Any]:
    import neuroglancer

    neuroglancer.set_server_bind_address("127.0.0.1")
    viewer = neuroglancer.Viewer()
    yield viewer
    neuroglancer.stop()


def _state(page: Any) -> dict[str, Any] | None:
    found = page.evaluate(LOADED)
    return None if found is None else json.loads(found)


def _wait(page: Any, predicate: str) -> dict[str, Any]:
    page.wait_for_function(
        f"() => {{ const s = ({LOADED})(); return s && ({predicate})(JSON.parse(s)); }}",
        timeout=120_000,
    )
    state = _state(page)
    assert state is not None
    return state


def test_neuroglancer_draws_the_synapses_and_a_segments_synapses(
    ng_world: NgWorld, browser: Any, neuroglancer_viewer: Any
) -> None:
    from neuroglancer.static_file_server import StaticFileServer

    import neuroglancer

    oracle = ng_world.oracle("synapses", 1)
    ids = {str(i) for i in oracle.column("id").to_pylist()}
    roots = oracle.column("pre_pt_root_id").to_pylist()
    root = max(set(roots), key=roots.count)
    want = {
        str(i) for i, r in zip(oracle.column("id").to_pylist(), roots, strict=True) if r == root
    }
    volume = parse_source(ng_world.manifest.segmentation_source)[1].removeprefix("file://")
    viewer = neuroglancer_viewer
    outside: list[str] = []
    with StaticFileServer(static_dir=volume, bind_address="127.0.0.1") as volume_url:
        with viewer.txn() as s:
            s.dimensions = neuroglancer.CoordinateSpace(
                names=["x", "y", "z"], units="nm", scales=[8, 8, 40]
            )
            s.layers["seg"] = neuroglancer.SegmentationLayer(source="precomputed://" + volume_url)
            s.layers["synapses"] = neuroglancer.AnnotationLayer(
                source="precomputed://" + ng_world.precomputed("synapses", 1)
            )
        page = browser.new_page(viewport={"width": 1000, "height": 800})

        def only_loopback(route: Any) -> None:
            if urlparse(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        try:
            page.route("**/*", only_loopback)
            page.goto(viewer.get_viewer_url())
            state = _wait(page, "s => s.spatial.some(c => c && c.length > 0)")
            chunks = [c for c in state["spatial"] if c is not None]
            drawn = [i for c in chunks for i in c]
            assert drawn
            assert set(drawn) <= ids
            assert len(drawn) == len(set(drawn))  # each annotation at one level, in one cell
            with viewer.txn() as s:
                layer = s.layers["synapses"]
                layer.linked_segmentation_layer = {
                    "pre_pt_root_id": "seg",
                    "post_pt_root_id": "seg",
                }
                layer.filter_by_segmentation = ["pre_pt_root_id"]
                s.layers["seg"].segments = [root]
            state = _wait(page, f"s => s.filtered['{root}'] != null")
            assert set(state["filtered"][str(root)]) == want
            page.screenshot(path=str(artifacts_dir("neuroglancer") / f"synapses_{root}.png"))
        finally:
            page.close()
    assert outside == []
