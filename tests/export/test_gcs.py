"""``gs://`` targets: the URL's options reach pyarrow's GCS client (an emulator's endpoint,
``scheme``, ``anonymous``), and bad ones are refused before anything is written."""

from __future__ import annotations

import pytest

from fixative.errors import InvalidInput
from fixative.export.target import open_target


def test_gcs_target_options() -> None:
    url = "gs://bucket/prefix/v1?endpoint_override=127.0.0.1:1&scheme=http&anonymous=true"
    target = open_target(url)
    assert target.root == "bucket/prefix/v1"
    assert target.uri(target.root) == "gs://bucket/prefix/v1"
    with pytest.raises(InvalidInput, match="anonymous"):
        open_target("gs://bucket/prefix?anonymous=maybe")
