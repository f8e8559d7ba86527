"""Per-subscriber features from a snapshot, in SQL: DuckDB (embedded default) or Spark.

One SQL text (:func:`user_features_sql`) runs on both engines; the few places where the
dialects differ do not occur in it (times are integer microseconds and days are integer
day numbers, precomputed by the snapshot, so no date functions are needed; null ordering
is always explicit). The result has one row per user (:data:`FEATURE_COLUMNS`), computed
**as of** an event time ``as_of_us`` from the deduplicated valid events with
``event_us <= as_of_us``.

The columns are the stream worker's user signals (``taste2vec.stream.signals``), with the
same definitions, so a model trained on them scores the live signals without skew:

- ``n_events``, ``n_feedback``, ``renewals``, ``lab_sessions_total``;
- ``rating_count``, ``rating_mean``, ``rating_variance`` (population) over
  ``feedback_given`` ratings, ``box_rated`` and ``lab_session``;
- ``rating_trend_per_week``: least-squares slope of the daily mean rating over the 28 days
  up to the latest rated day, times 7 (null with fewer than two rated days);
- ``skip_streak``: trailing run of ``skipped`` feedback in log order;
- ``subscription_status``, ``pause_streak``, ``paused_days``: from the subscription events
  that moved the status (in log order, an event whose time is not earlier than every
  earlier one's), as the worker applies them;
- ``days_since_last_engagement`` (from the first event when there is no engagement),
  ``lab_sessions_30d``, ``tenure_days`` (as-of time minus the first event).

Rules shared with the worker: an event more than ``max_clock_skew_s`` after its log append
time is refused, and the first delivery of an ``event_id`` counts. The worker also
dead-letters *late* events (every window of theirs already final); the batch job counts
them (it is a recomputation over everything the log holds), so on a log with late events
the two can differ for those users. Tested equal on logs without late events
(``tests/batch/test_features.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from taste2vec.batch.snapshot import Snapshot, SnapshotError
from taste2vec.stream.aggregates import ENGAGEMENT, LAB_DAYS, TREND_DAYS

__all__ = [
    "FEATURE_COLUMNS",
    "duckdb_features",
    "duckdb_labels",
    "labels_sql",
    "row_to_signals",
    "user_features_sql",
]

DAY_US = 86_400_000_000
FEATURE_COLUMNS = (
    "user_id",
    "n_events",
    "n_feedback",
    "renewals",
    "rating_count",
    "rating_mean",
    "rating_variance",
    "rating_trend_per_week",
    "skip_streak",
    "subscription_status",
    "pause_streak",
    "paused_days",
    "days_since_last_engagement",
    "lab_sessions_30d",
    "lab_sessions_total",
    "tenure_days",
)
_RATED = "('feedback_given', 'box_rated', 'lab_session')"


def _engagement() -> str:
    return "(" + ", ".join(f"'{t}'" for t in sorted(ENGAGEMENT)) + ")"


def _int(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SnapshotError(f"{what} must be an integer (microseconds), got {value!r}")
    return value


def _events_sql(as_of_us: int | None, skew_us: int) -> str:
    cutoff = "" if as_of_us is None else f" AND event_us <= {as_of_us}"
    # only integers we computed are interpolated (checked by _int): no injection path
    return f"""
valid AS (
    SELECT * FROM events
    WHERE error IS NULL AND event_id IS NOT NULL AND event_us <= append_us + {skew_us}{cutoff}
),
dedup AS (
    SELECT * FROM (
        SELECT valid.*, ROW_NUMBER() OVER (
            PARTITION BY event_id ORDER BY log_partition ASC, log_offset ASC) AS rn
        FROM valid
    ) AS numbered WHERE rn = 1
)"""  # noqa: S608


def user_features_sql(as_of_us: int, *, max_clock_skew_s: float = 300.0) -> str:
    """The feature query over a table or view named ``events`` (the snapshot's events
    table), as of ``as_of_us`` (event time, µs since the epoch)."""
    a = _int(as_of_us, "as_of_us")
    skew = int(max_clock_skew_s * 1_000_000)
    as_of_day = a // DAY_US
    return f"""
WITH {_events_sql(a, skew)},
base AS (
    SELECT user_id,
        COUNT(*) AS n_events,
        MIN(event_us) AS first_us,
        MAX(CASE WHEN type IN {_engagement()} THEN event_us END) AS last_engagement,
        SUM(CASE WHEN type = 'feedback_given' THEN 1 ELSE 0 END) AS n_feedback,
        SUM(CASE WHEN type = 'subscription_renewed' THEN 1 ELSE 0 END) AS renewals,
        SUM(CASE WHEN type IN {_RATED} AND rating IS NOT NULL THEN 1 ELSE 0 END) AS r_n,
        SUM(CASE WHEN type IN {_RATED} AND rating IS NOT NULL THEN rating ELSE 0 END) AS r_sum,
        SUM(CASE WHEN type IN {_RATED} AND rating IS NOT NULL THEN rating * rating ELSE 0 END)
            AS r_sq,
        SUM(CASE WHEN type = 'lab_session' THEN 1 ELSE 0 END) AS lab_total,
        SUM(CASE WHEN type = 'lab_session' AND event_day > {as_of_day - LAB_DAYS}
                 AND event_day <= {as_of_day} THEN 1 ELSE 0 END) AS lab_30d
    FROM dedup GROUP BY user_id
),
fb AS (
    SELECT user_id, log_offset, signal FROM dedup WHERE type = 'feedback_given'
),
last_nonskip AS (
    SELECT user_id, MAX(log_offset) AS o FROM fb WHERE signal <> 'skipped' GROUP BY user_id
),
skips AS (
    SELECT fb.user_id, COUNT(*) AS skip_streak
    FROM fb LEFT JOIN last_nonskip ON fb.user_id = last_nonskip.user_id
    WHERE fb.signal = 'skipped' AND (last_nonskip.o IS NULL OR fb.log_offset > last_nonskip.o)
    GROUP BY fb.user_id
),
sub AS (
    SELECT user_id, log_offset, event_us, SUBSTRING(type, 14) AS status,
        MAX(event_us) OVER (PARTITION BY user_id ORDER BY log_offset ASC
                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_max
    FROM dedup WHERE type LIKE 'subscription_%'
),
upd AS (
    SELECT user_id, log_offset, event_us, status FROM sub
    WHERE prev_max IS NULL OR event_us >= prev_max
),
last_upd AS (
    SELECT user_id, status FROM (
        SELECT upd.*, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY log_offset DESC) AS rn
        FROM upd
    ) AS numbered WHERE rn = 1
),
last_nonpause AS (
    SELECT user_id, MAX(log_offset) AS o FROM upd WHERE status <> 'paused' GROUP BY user_id
),
pauses AS (
    SELECT upd.user_id, COUNT(*) AS pause_streak, MIN(upd.event_us) AS paused_since
    FROM upd LEFT JOIN last_nonpause ON upd.user_id = last_nonpause.user_id
    WHERE upd.status = 'paused'
      AND (last_nonpause.o IS NULL OR upd.log_offset > last_nonpause.o)
    GROUP BY upd.user_id
),
rdays AS (
    SELECT user_id, event_day AS d, CAST(SUM(rating) AS DOUBLE) / COUNT(*) AS y
    FROM dedup WHERE type IN {_RATED} AND rating IS NOT NULL
    GROUP BY user_id, event_day
),
rlast AS (SELECT user_id, MAX(d) AS ref FROM rdays GROUP BY user_id),
rwin AS (
    SELECT rdays.user_id, rdays.d, rdays.y FROM rdays
    JOIN rlast ON rdays.user_id = rlast.user_id
    WHERE rdays.d > rlast.ref - {TREND_DAYS}
),
rmean AS (
    SELECT user_id, COUNT(*) AS n, AVG(CAST(d AS DOUBLE)) AS mx, AVG(y) AS my
    FROM rwin GROUP BY user_id
),
trend AS (
    SELECT rwin.user_id,
        CASE WHEN MAX(rmean.n) >= 2 THEN
            7.0 * SUM((rwin.d - rmean.mx) * (rwin.y - rmean.my))
                / SUM((rwin.d - rmean.mx) * (rwin.d - rmean.mx))
        END AS trend
    FROM rwin JOIN rmean ON rwin.user_id = rmean.user_id
    GROUP BY rwin.user_id
)
SELECT
    base.user_id AS user_id,
    base.n_events AS n_events,
    base.n_feedback AS n_feedback,
    base.renewals AS renewals,
    base.r_n AS rating_count,
    CASE WHEN base.r_n > 0 THEN CAST(base.r_sum AS DOUBLE) / base.r_n END AS rating_mean,
    CASE WHEN base.r_n > 0 THEN GREATEST(
        CAST(base.r_sq AS DOUBLE) / base.r_n
        - (CAST(base.r_sum AS DOUBLE) / base.r_n) * (CAST(base.r_sum AS DOUBLE) / base.r_n),
        0.0) END AS rating_variance,
    trend.trend AS rating_trend_per_week,
    COALESCE(skips.skip_streak, 0) AS skip_streak,
    last_upd.status AS subscription_status,
    COALESCE(pauses.pause_streak, 0) AS pause_streak,
    CASE WHEN last_upd.status = 'paused' THEN
        CAST(GREATEST({a} - pauses.paused_since, 0) AS DOUBLE) / {DAY_US}.0 END AS paused_days,
    CAST(GREATEST({a} - COALESCE(base.last_engagement, base.first_us), 0) AS DOUBLE)
        / {DAY_US}.0 AS days_since_last_engagement,
    base.lab_30d AS lab_sessions_30d,
    base.lab_total AS lab_sessions_total,
    CAST(GREATEST({a} - base.first_us, 0) AS DOUBLE) / {DAY_US}.0 AS tenure_days
FROM base
LEFT JOIN skips ON base.user_id = skips.user_id
LEFT JOIN last_upd ON base.user_id = last_upd.user_id
LEFT JOIN pauses ON base.user_id = pauses.user_id
LEFT JOIN trend ON base.user_id = trend.user_id
ORDER BY user_id ASC
"""  # noqa: S608


def labels_sql(cutoff_us: int, horizon_days: float, *, max_clock_skew_s: float = 300.0) -> str:
    """Per user: ``churned`` = 1 when a ``subscription_cancelled`` event falls in
    ``(cutoff, cutoff + horizon]`` (all events of the snapshot are read, not only those
    before the cutoff)."""
    c = _int(cutoff_us, "cutoff_us")
    end = c + int(horizon_days * DAY_US)
    skew = int(max_clock_skew_s * 1_000_000)
    return f"""
WITH {_events_sql(None, skew)}
SELECT user_id,
    MAX(CASE WHEN type = 'subscription_cancelled' AND event_us > {c} AND event_us <= {end}
             THEN 1 ELSE 0 END) AS churned
FROM dedup GROUP BY user_id ORDER BY user_id ASC
"""  # noqa: S608  # noqa: S608


def _duckdb(snapshot: Snapshot) -> Any:
    import duckdb

    con = duckdb.connect()
    files = snapshot.files("events")
    if not files:
        raise SnapshotError(f"snapshot {snapshot.root} holds no events")
    paths = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet([{paths}])")  # noqa: S608
    return con


def _rows(con: Any, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _snapshot(snap: Snapshot | Path | str) -> Snapshot:
    return snap if isinstance(snap, Snapshot) else Snapshot.open(snap)


def snapshot_time_range(snap: Snapshot | Path | str) -> tuple[int, int]:
    """(min, max) valid event time in the snapshot, µs."""
    con = _duckdb(_snapshot(snap))
    try:
        lo, hi = con.execute(
            "SELECT MIN(event_us), MAX(event_us) FROM events WHERE error IS NULL"
        ).fetchone()
    finally:
        con.close()
    if lo is None:
        raise SnapshotError("the snapshot holds no valid events")
    return int(lo), int(hi)


def duckdb_features(
    snap: Snapshot | Path | str, as_of_us: int, *, max_clock_skew_s: float = 300.0
) -> list[dict[str, Any]]:
    """:func:`user_features_sql` on DuckDB over the snapshot's committed event files."""
    con = _duckdb(_snapshot(snap))
    try:
        return _rows(con, user_features_sql(as_of_us, max_clock_skew_s=max_clock_skew_s))
    finally:
        con.close()


def duckdb_labels(
    snap: Snapshot | Path | str, cutoff_us: int, horizon_days: float
) -> dict[str, int]:
    con = _duckdb(_snapshot(snap))
    try:
        return {
            r["user_id"]: int(r["churned"]) for r in _rows(con, labels_sql(cutoff_us, horizon_days))
        }
    finally:
        con.close()


def row_to_signals(row: Mapping[str, Any]) -> dict[str, Any]:
    """A feature row in the shape of the stream worker's user signals (the keys
    :func:`taste2vec.stream.signals.churn_features` reads)."""
    return {
        "n_events": row["n_events"],
        "n_feedback": row["n_feedback"],
        "renewals": row["renewals"],
        "rating": {
            "count": row["rating_count"],
            "mean": row["rating_mean"],
            "variance": row["rating_variance"],
        },
        "rating_trend_per_week": row["rating_trend_per_week"],
        "skip_streak": row["skip_streak"],
        "subscription_status": row["subscription_status"],
        "pause_streak": row["pause_streak"],
        "paused_days": row["paused_days"],
        "days_since_last_engagement": row["days_since_last_engagement"],
        "lab_sessions_30d": row["lab_sessions_30d"],
        "lab_sessions_total": row["lab_sessions_total"],
        "tenure_days": row["tenure_days"],
    }


def rows_equal(
    a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]], rel: float = 1e-9
) -> list[str]:
    """Differences between two feature row lists (same users, same columns; floats equal
    within ``rel``): an empty list when they agree."""
    problems: list[str] = []
    if len(a) != len(b):
        problems.append(f"{len(a)} rows vs {len(b)}")
    for ra, rb in zip(a, b, strict=False):
        for col in FEATURE_COLUMNS:
            x, y = ra.get(col), rb.get(col)
            if isinstance(x, float) or isinstance(y, float):
                if x is None or y is None or not math.isclose(x, y, rel_tol=rel, abs_tol=1e-12):
                    problems.append(f"{ra.get('user_id')}.{col}: {x!r} vs {y!r}")
            elif x != y:
                problems.append(f"{ra.get('user_id')}.{col}: {x!r} vs {y!r}")
        if len(problems) > 20:
            break
    return problems
