"""Releases as files: a version's tables as Parquet files or Delta Lake tables, partitioned for
readers such as DuckDB, polars and Spark, with a manifest of every file (sizes, sha256, row
counts) and a README, in a local directory or an object store (``s3://``, ``gs://``)."""

from __future__ import annotations

from fixative.export.run import ExportPlan, export_version, plan_export
from fixative.export.spec import ExportRequest, PartitionSpec, parse_partition
from fixative.export.verify import Verified, verify_release

__all__ = [
    "ExportPlan",
    "ExportRequest",
    "PartitionSpec",
    "Verified",
    "export_version",
    "parse_partition",
    "plan_export",
    "verify_release",
]
