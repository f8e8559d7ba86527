"""The batch layer (issue 13): snapshots of the event log and the store as Parquet,
subscription features in DuckDB SQL (the same SQL on Spark at scale), and the churn model
trained on them. See docs/batch.md.

DuckDB, PyArrow and scikit-learn are imported only when a job runs; Spark only by
:mod:`taste2vec.batch.spark` (extra ``[spark]``).
"""

from __future__ import annotations

from taste2vec.batch.snapshot import Snapshot, SnapshotError, SnapshotResult, export_snapshot

__all__ = ["Snapshot", "SnapshotError", "SnapshotResult", "export_snapshot"]
