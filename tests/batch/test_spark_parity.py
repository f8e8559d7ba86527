"""DuckDB and Spark compute the same features and labels from the same snapshot.

The same SQL text (``taste2vec.batch.features.user_features_sql``) over the same committed
Parquet files; integers and strings must be equal, floats within 1e-9 relative (the two
engines sum in different orders). Every column is exercised: a generated log with
disorder, duplicates and malformed payloads, plus the SIMULATED churn population.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from taste2vec.batch.features import (
    FEATURE_COLUMNS,
    duckdb_features,
    duckdb_labels,
    rows_equal,
    snapshot_time_range,
)
from taste2vec.batch.snapshot import export_snapshot
from taste2vec.batch.spark import spark_features, spark_labels
from taste2vec.sim.churn import simulate_subscribers
from taste2vec.sim.stream.generate import generate
from taste2vec.stream.log import open_log

pytestmark = [
    pytest.mark.xdist_group("spark"),
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
]

DAY = 86_400_000_000


@pytest.fixture(scope="module")
def snap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("parity")
    log = open_log(f"sqlite:///{home / 'events.db'}?partitions=4")
    log.append(generate(8000, seed=21, users=300, disorder_s=200, duplicates=0.02, malformed=0.01))
    log.append(simulate_subscribers(300, days=120, seed=5))
    export_snapshot(home / "snap", log=log)
    log.close()
    return home / "snap"


def test_features_are_identical_on_both_engines(spark: Any, snap: Path) -> None:
    lo, hi = snapshot_time_range(snap)
    for as_of in (lo + 20 * DAY, lo + 75 * DAY, hi):
        duck = duckdb_features(snap, as_of)
        sp = spark_features(spark, snap, as_of)
        assert len(duck) > 300
        assert [set(r) for r in sp[:1]] == [set(FEATURE_COLUMNS)]
        problems = rows_equal(duck, sp)
        assert not problems, problems
    # the columns are not trivially empty
    assert any(r["subscription_status"] == "paused" for r in duck)
    assert any(r["rating_trend_per_week"] for r in duck)
    assert any(r["skip_streak"] for r in duck)


def test_labels_are_identical_on_both_engines(spark: Any, snap: Path) -> None:
    lo, _ = snapshot_time_range(snap)
    cutoff = lo + 45 * DAY
    duck = duckdb_labels(snap, cutoff, 30)
    sp = spark_labels(spark, snap, cutoff, 30)
    assert duck == sp
    assert 0 < sum(duck.values()) < len(duck)
