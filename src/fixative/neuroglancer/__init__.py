"""Precomputed annotations for Neuroglancer (``neuroglancer_annotations_v1``), built per request
from indexed queries: ``layout`` (what a table looks like as annotations, and its binary
encoding), ``grid`` (the multi-level spatial index), ``chunks`` (each file of the directory tree
from queries through the query engine) and ``cache`` (kept answers of immutable versions)."""
