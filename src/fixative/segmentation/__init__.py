"""The segmentation port and its TensorStore adapter."""

from fixative.segmentation.port import SegmentationSource
from fixative.segmentation.tensorstore import TensorStoreSegmentation

__all__ = ["SegmentationSource", "TensorStoreSegmentation"]
