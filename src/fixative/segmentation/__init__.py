"""The segmentation port and its TensorStore adapter."""

from fixative.segmentation.port import SegmentationSource

__all__ = ["SegmentationSource"]
