"""The chunkedgraph port and its adapters (embedded, PyChunkedGraph HTTP)."""

from fixative.chunkedgraph.port import ChunkedGraph, Operation

__all__ = ["ChunkedGraph", "Operation"]
