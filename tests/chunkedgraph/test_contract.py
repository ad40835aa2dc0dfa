"""The shared ChunkedGraph contract, run against the embedded graph: the instance that made the
edits, one reopened from the database, and one opened before the edits that must catch up."""

from __future__ import annotations

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.chunkedgraph.port import ChunkedGraph
from fixative.store import Store
from fixative.testing.chunkedgraph_contract import ChunkedGraphContract


class TestEmbedded(ChunkedGraphContract):
    pass


class TestReopened(ChunkedGraphContract):
    def adapter(self, graph: EmbeddedChunkedGraph, store: Store) -> ChunkedGraph:
        reopened = EmbeddedChunkedGraph.open(store, graph.table_id)
        assert reopened is not graph
        return reopened
