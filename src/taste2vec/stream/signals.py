"""Derived signals: what readers see, computed from the stored state at an ``as_of`` time.

``as_of`` is an *event time* (by default the largest event time any partition has seen,
capped by the latest log append time: :func:`as_of`), never the wall clock, so the same
log gives the same signals on every run, and no client's clock can move it past the log's
own clock.

Churn risk is a documented **rule**, not a trained model (the batch layer will replace it
with a calibrated one): ``risk = 1 / (1 + exp(-z))`` with

    z = -2.5
        + 0.06 * min(days_since_last_engagement, 60)
        + 0.30 * min(skip_streak, 10)
        + 1.00 * paused_now
        + 0.03 * min(paused_days, 60)
        - 0.60 * clamp(rating_trend_per_week, -2, 2)      (0 when unknown)
        - 0.15 * min(lab_sessions_30d, 10)
        + 0.40 * (rating_mean < 3)                        (0 when no ratings)

and ``risk = 1.0`` once the subscription is cancelled (already churned). A user with no
engagement event counts days since their first event. :data:`CHURN_COEFFICIENTS` holds the
numbers; :data:`CHURN_RULE` names this version of the rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from taste2vec.stream.aggregates import (
    ARM_FIELDS,
    COFFEE_FIELDS,
    LAB_DAYS,
    TREND_DAYS,
    UserActivity,
)
from taste2vec.stream.windows import DAY_US, iso

CHURN_RULE = "rule-v1"
CHURN_COEFFICIENTS: dict[str, float] = {
    "intercept": -2.5,
    "days_since_last_engagement": 0.06,  # capped at 60 days
    "skip_streak": 0.30,  # capped at 10
    "paused_now": 1.00,
    "paused_days": 0.03,  # capped at 60 days
    "rating_trend_per_week": -0.60,  # clamped to [-2, 2]
    "lab_sessions_30d": -0.15,  # capped at 10
    "low_rating_mean": 0.40,  # rating mean below 3
}


def trend_per_week(days: dict[int, list[int]], ref_day: int | None) -> float | None:
    """Least-squares slope of the daily mean rating over the :data:`TREND_DAYS` days up to
    ``ref_day`` (the latest day with a rating), in rating points per week; None with fewer
    than two rated days. Computed from integer buckets in day order, so it is exact to
    recompute."""
    if ref_day is None:
        return None
    pts = [(d, b[1] / b[0]) for d, b in sorted(days.items()) if ref_day - TREND_DAYS < d <= ref_day]
    if len(pts) < 2:
        return None
    n = len(pts)
    mx = sum(d for d, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((d - mx) ** 2 for d, _ in pts)
    sxy = sum((d - mx) * (y - my) for d, y in pts)
    return 7.0 * sxy / sxx


def rating_stats(n: int, total: int, total_sq: int) -> dict[str, Any]:
    """Count, mean and (population) variance from integer sums (exact inputs)."""
    if n == 0:
        return {"count": 0, "mean": None, "variance": None}
    mean = total / n
    return {"count": n, "mean": mean, "variance": max(total_sq / n - mean * mean, 0.0)}


def churn_risk(features: dict[str, Any]) -> float:
    """The documented churn rule (module docstring) applied to a user's signals."""
    if features.get("subscription_status") == "cancelled":
        return 1.0
    c = CHURN_COEFFICIENTS
    days = features.get("days_since_last_engagement") or 0.0
    trend = features.get("rating_trend_per_week")
    mean = features.get("rating", {}).get("mean")
    z = (
        c["intercept"]
        + c["days_since_last_engagement"] * min(days, 60.0)
        + c["skip_streak"] * min(features.get("skip_streak", 0), 10)
        + c["paused_now"] * (1.0 if features.get("subscription_status") == "paused" else 0.0)
        + c["paused_days"] * min(features.get("paused_days") or 0.0, 60.0)
        + c["rating_trend_per_week"] * (0.0 if trend is None else max(-2.0, min(2.0, trend)))
        + c["lab_sessions_30d"] * min(features.get("lab_sessions_30d", 0), 10)
        + c["low_rating_mean"] * (1.0 if mean is not None and mean < 3 else 0.0)
    )
    return 1.0 / (1.0 + math.exp(-z))


def as_of(max_event_us: int | None, max_append_us: int | None) -> int | None:
    """The default ``as_of``: the largest event time seen, but never later than the
    latest log append time (the log's clock), so a client whose clock runs ahead (within
    the accepted skew) cannot move everyone's signals. None before any event.

    >>> as_of(10, 7), as_of(5, 7), as_of(5, None), as_of(None, 7)
    (7, 5, 5, None)
    """
    if max_event_us is None or max_append_us is None:
        return max_event_us
    return min(max_event_us, max_append_us)


def user_signals(user: str, u: UserActivity, as_of_us: int) -> dict[str, Any]:
    """A user's signals as of ``as_of_us`` (event time). Keys are stable (the API serves them)."""
    as_of_day = as_of_us // DAY_US
    ref = u.last_engagement if u.last_engagement is not None else u.first_us
    since = None if ref is None else max(as_of_us - ref, 0) / DAY_US
    paused_days = None
    if u.status == "paused" and u.paused_since is not None:
        paused_days = max(as_of_us - u.paused_since, 0) / DAY_US
    lab_30d = sum(b[0] for d, b in u.lab_days.items() if as_of_day - LAB_DAYS < d <= as_of_day)
    taste = None if u.vec is None else [x / u.vec_w for x in u.vec]
    out: dict[str, Any] = {
        "user": user,
        "as_of": iso(as_of_us),
        "n_events": u.n_events,
        "first_event": None if u.first_us is None else iso(u.first_us),
        "last_event": None if u.last_us is None else iso(u.last_us),
        "tastings_vector": taste,
        "n_tastings_vectors": u.n_vec,
        "rating": rating_stats(u.r_n, u.r_sum, u.r_sq),
        "rating_trend_per_week": trend_per_week(u.r_days, u.r_last),
        "n_feedback": u.n_feedback,
        "skip_streak": u.skip_streak,
        "subscription_status": u.status,
        "pause_streak": u.pause_streak,
        "paused_days": paused_days,
        "renewals": u.renewals,
        "experiments": dict(sorted(u.arms.items())),
        "last_engagement": None if u.last_engagement is None else iso(u.last_engagement),
        "days_since_last_engagement": since,
        "lab_sessions_total": u.n_lab,
        "lab_sessions_30d": lab_30d,
    }
    out["churn_risk"] = churn_risk(out)
    out["churn_rule"] = CHURN_RULE
    return out


def merge_coffee(coffee: str, partials: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """A coffee's stats from its per-partition partials (JSON form of ``CoffeePartial``)."""
    counts = [0] * len(COFFEE_FIELDS)
    days: dict[int, list[int]] = {}
    last: int | None = None
    found = False
    for p in partials:
        found = True
        counts = [a + b for a, b in zip(counts, p["counts"], strict=True)]
        for d, (n, s) in p["days"].items():
            bucket = days.setdefault(int(d), [0, 0])
            bucket[0] += n
            bucket[1] += s
        if p["last"] is not None and (last is None or p["last"] > last):
            last = p["last"]
    if not found:
        return None
    c = dict(zip(COFFEE_FIELDS, counts, strict=True))
    return {
        "coffee": coffee,
        "n_feedback": c["n_feedback"],
        "n_likes": c["n_likes"],
        "n_dislikes": c["n_dislikes"],
        "n_skips": c["n_skips"],
        "n_clicks": c["n_clicks"],
        "like_rate": c["n_likes"] / c["n_feedback"] if c["n_feedback"] else None,
        "rating": rating_stats(c["n_ratings"], c["sum_rating"], c["sum_rating_sq"]),
        "rating_trend_per_week": trend_per_week(days, last),
        "last_rating_day": None if last is None else iso(last * DAY_US)[:10],
    }


def arm_metrics(key: str, counts: list[int]) -> dict[str, Any]:
    """An experiment arm's metrics from its merged counts (:data:`ARM_FIELDS`).

    CTR = clicks / shown (recommendation events carrying the arm); satisfaction = mean
    ``box_rated`` rating carrying the arm; retention = share of the arm's subscribers
    (users whose first subscription event carrying this experiment named this arm) whose
    latest subscription event (by event time) is not a cancellation; renewal_rate = share
    of them with at least one renewal."""
    c = dict(zip(ARM_FIELDS, counts, strict=True))
    experiment, _, arm = key.partition("/")
    return {
        "experiment": experiment,
        "arm": arm,
        **c,
        "ctr": c["clicks"] / c["shown"] if c["shown"] else None,
        "satisfaction": c["sum_box_rating"] / c["n_box_ratings"] if c["n_box_ratings"] else None,
        "retention": (c["subscribers"] - c["cancelled"]) / c["subscribers"]
        if c["subscribers"]
        else None,
        "renewal_rate": c["renewed"] / c["subscribers"] if c["subscribers"] else None,
    }
