"""The batch feature job on Apache Spark (extra ``[spark]``): the same SQL text as DuckDB
(:func:`taste2vec.batch.features.user_features_sql`) over the same committed Parquet files
of a snapshot.

Local mode for the tests and one machine (``local[2]``); on a cluster, pass a session
built for it (``spark_features(session, snapshot, as_of_us)``) and a snapshot directory the
executors can read (a shared filesystem or an object store the snapshot was synced to).
Spark needs Java 17 (the one Flink already needs).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from taste2vec.batch.features import labels_sql, user_features_sql
from taste2vec.batch.snapshot import Snapshot, SnapshotError
from taste2vec.errors import MissingExtraError

__all__ = ["spark_features", "spark_labels", "spark_session"]


def spark_session(master: str = "local[2]", app: str = "taste2vec-batch") -> Any:
    """A Spark session for the batch jobs: UTC, no web UI, loopback driver, few shuffle
    partitions (small jobs). Raises MissingExtraError without pyspark."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # pyspark on pandas 3
            from pyspark.sql import SparkSession
    except ImportError:
        raise MissingExtraError("pyspark", "spark") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        session = (
            SparkSession.builder.master(master)
            .appName(app)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.ansi.enabled", "true")
            .getOrCreate()
        )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _events_view(spark: Any, snapshot: Snapshot | Path | str) -> None:
    snap = snapshot if isinstance(snapshot, Snapshot) else Snapshot.open(snapshot)
    files = [str(f) for f in snap.files("events")]
    if not files:
        raise SnapshotError(f"snapshot {snap.root} holds no events")
    spark.read.parquet(*files).createOrReplaceTempView("events")


def spark_features(
    spark: Any, snapshot: Snapshot | Path | str, as_of_us: int, *, max_clock_skew_s: float = 300.0
) -> list[dict[str, Any]]:
    """:func:`~taste2vec.batch.features.user_features_sql` on Spark: rows as dicts, sorted
    by user (what :func:`~taste2vec.batch.features.duckdb_features` returns)."""
    _events_view(spark, snapshot)
    sql = user_features_sql(as_of_us, max_clock_skew_s=max_clock_skew_s)
    return [row.asDict() for row in spark.sql(sql).collect()]


def spark_labels(
    spark: Any, snapshot: Snapshot | Path | str, cutoff_us: int, horizon_days: float
) -> dict[str, int]:
    _events_view(spark, snapshot)
    rows = spark.sql(labels_sql(cutoff_us, horizon_days)).collect()
    return {r["user_id"]: int(r["churned"]) for r in rows}
