"""Per-arm metrics of one experiment, computed from its users' app events (issue 12).

Pure (no store or service imports): the controller reads the events from the store's
outbox (:meth:`taste2vec.store.Store.events_since`) and hands them to
:class:`ArmMetrics`, which keeps **per-user** sufficient statistics, so the numbers
:func:`taste2vec.experiments.stats.decide` needs (sums and sums of squares) are exact. The
stream worker's arm aggregates have totals only (no sum of squared box ratings, no
per-user counts), which is why they are not used here.

Definitions (an experiment ``E`` with salt ``s`` and treatment share ``p``):

* **exposed user**: a user with at least one ``recommendation_shown`` tagged
  ``experiment = E``; their arm is :func:`~taste2vec.experiments.assignment.arm_of`
  ``(s, user, p)`` (the tag on the event is checked against it; a mismatch is counted
  in ``mismatched`` and the event is left out). ``users`` per arm feeds the SRM gate.
* ``recommendation_ctr`` (proportion): of the arm's ``recommendation_shown`` requests,
  the share that got at least one ``recommendation_clicked`` naming that request.
  Each request is treated as an independent trial (see docs/experiments.md, known
  limits); ``ctr_per_user`` (mean of per-user CTRs, each exposed user one
  observation) is reported beside it as a check.
* ``user_satisfaction`` (mean): ``box_rated`` ratings (1-5) of exposed users, every
  rating one observation (n, sum, sum of squares).
* ``subscription_retention`` (proportion): of the arm's exposed users, the share with
  no ``subscription_cancelled`` after their first exposure.

**CUPED covariate** (:class:`PrePeriod`): each user's value of the same metric in the
window before the experiment started, from the same kinds of events: their CTR (clicked
of shown requests) for ``recommendation_ctr`` and ``ctr_per_user``, their mean box rating
for ``user_satisfaction``. A user without history in the window gets the mean of the
users who have one (the window's data only, so the covariate stays independent of the
arm and the adjusted difference unbiased); when nobody exposed has history, the metric
carries no covariate and ``decide`` runs without CUPED. ``recommendation_ctr`` is
per-request, so each request carries its user's pre-period CTR. Retention has none.

Latency and error counts per arm are not events: the caller supplies them (the
controller reads them from the store, where every serving process writes its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from taste2vec.experiments.assignment import CONTROL, TREATMENT, Arm, arm_of
from taste2vec.experiments.stats import ArmData, MetricSummary

__all__ = ["EVENT_TYPES", "ArmMetrics", "PrePeriod", "UserStats"]

EVENT_TYPES = (
    "recommendation_shown",
    "recommendation_clicked",
    "box_rated",
    "subscription_cancelled",
)


@dataclass
class UserStats:
    """One user's numbers in the experiment."""

    arm: Arm
    first_seen: datetime
    requests: set[str] = field(default_factory=set)
    clicked: set[str] = field(default_factory=set)
    ratings: list[int] = field(default_factory=list)
    cancelled: bool = False


class ArmMetrics:
    """Accumulates events of one experiment; :meth:`arm_data` gives ``decide``'s input.

    Feed events in any order with :meth:`add` (``user``, ``type``, event JSON, when
    stored); clicks, ratings and cancellations of users not (yet) exposed wait in
    ``pending`` until the user's first exposure arrives.
    """

    def __init__(self, experiment: str, salt: str, treatment_share: float) -> None:
        self.experiment = experiment
        self.salt = salt
        self.share = treatment_share
        self.users: dict[str, UserStats] = {}
        self.pending: dict[str, list[tuple[str, Mapping[str, Any], datetime]]] = {}
        self.mismatched = 0
        self.events = 0

    def add(self, user: str, kind: str, payload: Mapping[str, Any], at: datetime) -> None:
        self.events += 1
        if kind == "recommendation_shown":
            if payload.get("experiment") != self.experiment:
                return
            arm = arm_of(self.salt, user, self.share)
            if payload.get("arm") != arm:
                self.mismatched += 1
                return
            stats = self.users.get(user)
            if stats is None:
                stats = self.users[user] = UserStats(arm, at)
                for waiting in self.pending.pop(user, ()):
                    self._apply(stats, *waiting)
            stats.first_seen = min(stats.first_seen, at)
            request = payload.get("request")
            if isinstance(request, str):
                stats.requests.add(request)
            return
        stats = self.users.get(user)
        if stats is None:
            self.pending.setdefault(user, []).append((kind, payload, at))
            return
        self._apply(stats, kind, payload, at)

    @staticmethod
    def _apply(stats: UserStats, kind: str, payload: Mapping[str, Any], at: datetime) -> None:
        if kind == "recommendation_clicked":
            request = payload.get("request")
            if isinstance(request, str):
                stats.clicked.add(request)
        elif kind == "box_rated":
            rating = payload.get("rating")
            if isinstance(rating, int) and 1 <= rating <= 5:
                stats.ratings.append(rating)
        elif kind == "subscription_cancelled" and at >= stats.first_seen:
            stats.cancelled = True

    def extend(self, events: Iterable[tuple[str, str, Mapping[str, Any], datetime]]) -> None:
        for user, kind, payload, at in events:
            self.add(user, kind, payload, at)

    def arm_data(self, pre: PrePeriod | None = None) -> tuple[ArmData, ArmData]:
        """(control, treatment) with ``users``, ``recommendation_ctr``,
        ``user_satisfaction``, ``subscription_retention`` and ``ctr_per_user``; with
        ``pre``, the CTR and satisfaction metrics carry each user's pre-period value
        (CUPED's covariate, see the module docstring)."""
        ctr_x = sat_x = None
        if pre is not None:
            ctr_x = pre.covariate(self.users, pre.ctr)
            sat_x = pre.covariate(self.users, pre.satisfaction)
        return self._arm(CONTROL, ctr_x, sat_x), self._arm(TREATMENT, ctr_x, sat_x)

    def _arm(
        self, arm: Arm, ctr_x: dict[str, float] | None, sat_x: dict[str, float] | None
    ) -> ArmData:
        members = {u: s for u, s in self.users.items() if s.arm == arm}
        shown = sum(len(s.requests) for s in members.values())
        clicked = sum(len(s.clicked & s.requests) for s in members.values())
        ratings = [r for s in members.values() for r in s.ratings]
        per_user = {
            u: len(s.clicked & s.requests) / len(s.requests)
            for u, s in members.items()
            if s.requests
        }
        ctr = MetricSummary.from_counts(clicked, shown)
        sat = MetricSummary(len(ratings), float(sum(ratings)), float(sum(r * r for r in ratings)))
        ys = list(per_user.values())
        ctr_user = MetricSummary(len(ys), float(sum(ys)), float(sum(y * y for y in ys)))
        if ctr_x is not None:
            # per request: n_u requests of user u each carry x_u; clicks_u of them y = 1
            ctr = _with_covariate(
                ctr,
                (
                    (len(s.requests), ctr_x[u], float(len(s.clicked & s.requests)))
                    for u, s in members.items()
                ),
            )
            ctr_user = _with_covariate(ctr_user, ((1, ctr_x[u], y) for u, y in per_user.items()))
        if sat_x is not None:
            sat = _with_covariate(
                sat, ((len(s.ratings), sat_x[u], float(sum(s.ratings))) for u, s in members.items())
            )
        metrics: dict[str, MetricSummary] = {
            "recommendation_ctr": ctr,
            "subscription_retention": MetricSummary.from_counts(
                sum(1 for s in members.values() if not s.cancelled), len(members)
            ),
            "user_satisfaction": sat,
            "ctr_per_user": ctr_user,
        }
        return ArmData(users=len(members), metrics=metrics)


def _with_covariate(
    summary: MetricSummary, rows: Iterable[tuple[int, float, float]]
) -> MetricSummary:
    """``summary`` with the pre-period sums of ``rows``: (observations of one user, the
    user's covariate x, the sum of those observations' y)."""
    pre_total = pre_sq = cross = 0.0
    for n, x, y_sum in rows:
        pre_total += n * x
        pre_sq += n * x * x
        cross += x * y_sum
    return replace(summary, pre_total=pre_total, pre_total_sq=pre_sq, cross_total=cross)


class PrePeriod:
    """Each user's metrics before the experiment started (CUPED's covariate).

    Feed it the events stored in the pre-period window (any experiment tag or none) with
    :meth:`add`; :meth:`ctr` and :meth:`satisfaction` give one user's value (None
    without history)."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.shown: dict[str, set[str]] = {}
        self.clicked: dict[str, set[str]] = {}
        self.ratings: dict[str, list[int]] = {}
        self.events = 0

    def add(self, user: str, kind: str, payload: Mapping[str, Any]) -> None:
        self.events += 1
        request = payload.get("request")
        if kind == "recommendation_shown" and isinstance(request, str):
            self.shown.setdefault(user, set()).add(request)
        elif kind == "recommendation_clicked" and isinstance(request, str):
            self.clicked.setdefault(user, set()).add(request)
        elif kind == "box_rated":
            rating = payload.get("rating")
            if isinstance(rating, int) and 1 <= rating <= 5:
                self.ratings.setdefault(user, []).append(rating)

    def ctr(self, user: str) -> float | None:
        shown = self.shown.get(user)
        if not shown:
            return None
        return len(self.clicked.get(user, set()) & shown) / len(shown)

    def satisfaction(self, user: str) -> float | None:
        ratings = self.ratings.get(user)
        return sum(ratings) / len(ratings) if ratings else None

    @staticmethod
    def covariate(
        users: Iterable[str], value: Callable[[str], float | None]
    ) -> dict[str, float] | None:
        """x per user: ``value(user)``, or the mean of the users with one for those
        without; None when nobody has history (no covariate)."""
        found = {u: value(u) for u in users}
        known = [x for x in found.values() if x is not None]
        if not known:
            return None
        mean = sum(known) / len(known)
        return {u: (mean if x is None else x) for u, x in found.items()}

    def users_with_history(self) -> dict[str, int]:
        return {"ctr": len(self.shown), "satisfaction": len(self.ratings)}
