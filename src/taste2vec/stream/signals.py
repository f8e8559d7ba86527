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

**A trained churn model replaces the rule** when one is given: :func:`user_signals` and
:class:`~taste2vec.stream.state.StreamReader` take a :class:`ChurnScorer` (a protocol:
``name`` and ``score(signals)``), injected by the layers above (the service passes the
registry's ``taste2vec-churn`` champion; this layer never imports the registry).
``churn_rule`` then names the model version, e.g. ``taste2vec-churn/3``; without a scorer,
or when the scorer fails, the rule above is the fallback and ``churn_rule`` stays
``rule-v1``. :class:`LogisticChurnModel` is the trained model's runtime: a standardised
logistic regression over :func:`churn_features` (:data:`CHURN_FEATURES`) followed by an
isotonic calibration map, read from plain JSON (no pickle), trained by
``taste2vec.batch.churn``.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from taste2vec.stream.windows import DAY_US, iso

if TYPE_CHECKING:
    from taste2vec.stream.aggregates import UserActivity

log = logging.getLogger(__name__)

TREND_DAYS = 28  # rating trends use the last 28 days of daily means
LAB_DAYS = 30  # Lab usage frequency: sessions in the last 30 days

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


#: The trained churn model's inputs, computed from a user's signals by :func:`churn_features`
#: (the batch layer computes the same signals from a snapshot: ``taste2vec.batch.features``).
CHURN_FEATURES: tuple[str, ...] = (
    "days_since_last_engagement",  # capped at 60
    "skip_streak",  # capped at 10
    "paused_now",
    "paused_days",  # capped at 60
    "rating_trend_per_week",  # clamped to [-2, 2], 0 when unknown
    "trend_known",
    "lab_sessions_30d",  # capped at 10
    "rating_mean",  # 3 when there is no rating
    "has_ratings",
    "log_rating_count",
    "rating_variance",  # 0 when there is no rating
    "pause_streak",  # capped at 5
    "log_renewals",
    "log_feedback",
    "log_events",
    "tenure_days",  # capped at 365
)


def _us_of(text: str) -> int:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (int(t.timestamp()) * 1_000_000) + t.microsecond


def churn_features(sig: Mapping[str, Any]) -> list[float]:
    """The :data:`CHURN_FEATURES` vector of a user's signals (the dict of
    :func:`user_signals`, or the batch layer's row in that shape). ``tenure_days`` is read
    when present, else computed from ``first_event`` and ``as_of``."""
    rating = sig.get("rating") or {}
    mean = rating.get("mean")
    count = rating.get("count") or 0
    trend = sig.get("rating_trend_per_week")
    tenure = sig.get("tenure_days")
    if tenure is None and sig.get("first_event") and sig.get("as_of"):
        tenure = max(_us_of(sig["as_of"]) - _us_of(sig["first_event"]), 0) / 86_400_000_000
    return [
        min(float(sig.get("days_since_last_engagement") or 0.0), 60.0),
        float(min(sig.get("skip_streak") or 0, 10)),
        1.0 if sig.get("subscription_status") == "paused" else 0.0,
        min(float(sig.get("paused_days") or 0.0), 60.0),
        0.0 if trend is None else max(-2.0, min(2.0, float(trend))),
        0.0 if trend is None else 1.0,
        float(min(sig.get("lab_sessions_30d") or 0, 10)),
        3.0 if mean is None else float(mean),
        1.0 if count else 0.0,
        math.log1p(count),
        float(rating.get("variance") or 0.0),
        float(min(sig.get("pause_streak") or 0, 5)),
        math.log1p(sig.get("renewals") or 0),
        math.log1p(sig.get("n_feedback") or 0),
        math.log1p(sig.get("n_events") or 0),
        min(float(tenure or 0.0), 365.0),
    ]


@runtime_checkable
class ChurnScorer(Protocol):
    """Scores a user's churn risk from their signals (see the module docstring)."""

    @property
    def name(self) -> str:
        """What ``churn_rule`` reports, e.g. ``taste2vec-churn/3``."""
        ...

    def score(self, signals: Mapping[str, Any]) -> float:
        """Risk in [0, 1] for a user whose subscription is not cancelled."""
        ...


MODEL_FORMAT = "taste2vec-churn-logistic/1"


class LogisticChurnModel:
    """A calibrated logistic-regression churn model, from plain JSON::

        {"format": "taste2vec-churn-logistic/1", "features": [...CHURN_FEATURES],
         "mean": [...], "scale": [...], "coef": [...], "intercept": z0,
         "calibration": {"x": [...], "y": [...]}}

    ``z = intercept + coef . ((features - mean) / scale)``; the risk is the isotonic map
    ``calibration`` (piecewise linear through the points, clipped at the ends) applied to
    ``z``. Raises ``ValueError`` for a document that does not have this shape."""

    def __init__(self, doc: Mapping[str, Any], name: str = "churn-model") -> None:
        if not isinstance(doc, Mapping) or doc.get("format") != MODEL_FORMAT:
            raise ValueError(f"not a churn model document (format {MODEL_FORMAT} expected)")
        if list(doc.get("features", [])) != list(CHURN_FEATURES):
            raise ValueError("the churn model was trained on other features than this code's")
        n = len(CHURN_FEATURES)
        self.mean = [float(v) for v in doc["mean"]]
        self.scale = [float(v) for v in doc["scale"]]
        self.coef = [float(v) for v in doc["coef"]]
        self.intercept = float(doc["intercept"])
        cal = doc["calibration"]
        self.cx = [float(v) for v in cal["x"]]
        self.cy = [float(v) for v in cal["y"]]
        if not (len(self.mean) == len(self.scale) == len(self.coef) == n):
            raise ValueError(f"the churn model needs {n} means, scales and coefficients")
        if not self.cx or len(self.cx) != len(self.cy) or self.cx != sorted(self.cx):
            raise ValueError("the churn model's calibration points are not an increasing map")
        if any(s <= 0 for s in self.scale) or not all(0.0 <= y <= 1.0 for y in self.cy):
            raise ValueError("the churn model has a non-positive scale or a risk outside [0, 1]")
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def decision(self, x: Sequence[float]) -> float:
        return self.intercept + sum(
            c * (v - m) / s for c, v, m, s in zip(self.coef, x, self.mean, self.scale, strict=True)
        )

    def calibrate(self, z: float) -> float:
        xs, ys = self.cx, self.cy
        if z <= xs[0]:
            return ys[0]
        if z >= xs[-1]:
            return ys[-1]
        i = bisect.bisect_right(xs, z)
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        return y0 if x1 == x0 else y0 + (y1 - y0) * (z - x0) / (x1 - x0)

    def score(self, signals: Mapping[str, Any]) -> float:
        return self.calibrate(self.decision(churn_features(signals)))


def score_churn(signals: Mapping[str, Any], scorer: ChurnScorer | None) -> tuple[float, str]:
    """(risk, what scored it): the scorer's risk and name, or the rule and
    :data:`CHURN_RULE` without a scorer or when it fails (logged). A cancelled
    subscription is 1.0 either way."""
    if scorer is None:
        return churn_risk(dict(signals)), CHURN_RULE
    if signals.get("subscription_status") == "cancelled":
        return 1.0, scorer.name
    try:
        risk = float(scorer.score(signals))
        if math.isfinite(risk):
            return min(max(risk, 0.0), 1.0), scorer.name
        log.warning("churn scorer %s returned %r; using %s", scorer.name, risk, CHURN_RULE)
    except Exception:
        log.exception("churn scorer %s failed; using %s", scorer.name, CHURN_RULE)
    return churn_risk(dict(signals)), CHURN_RULE


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


def user_signals(
    user: str, u: UserActivity, as_of_us: int, churn_scorer: ChurnScorer | None = None
) -> dict[str, Any]:
    """A user's signals as of ``as_of_us`` (event time). Keys are stable (the API serves them).
    ``churn_risk`` comes from ``churn_scorer`` when given (else the rule; see
    :func:`score_churn`), and ``churn_rule`` names what scored it."""
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
    out["churn_risk"], out["churn_rule"] = score_churn(out, churn_scorer)
    return out
