"""Data workflows over the Store, SegmentationSource and ChunkedGraph ports: bulk upload, ingest
of new annotations, and root-id updates. Each splits into keyed chunks that can run again."""
