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

Latency and error counts per arm are not in the store: those guardrails get no data
(status ``missing``, never a breach) unless a caller supplies them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from taste2vec.experiments.assignment import CONTROL, TREATMENT, Arm, arm_of
from taste2vec.experiments.stats import ArmData, MetricSummary

__all__ = ["EVENT_TYPES", "ArmMetrics", "UserStats"]

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

    def arm_data(self) -> tuple[ArmData, ArmData]:
        """(control, treatment) with ``users``, ``recommendation_ctr``,
        ``user_satisfaction``, ``subscription_retention`` and ``ctr_per_user``."""
        return self._arm(CONTROL), self._arm(TREATMENT)

    def _arm(self, arm: Arm) -> ArmData:
        members = [s for s in self.users.values() if s.arm == arm]
        shown = sum(len(s.requests) for s in members)
        clicked = sum(len(s.clicked & s.requests) for s in members)
        ratings = [r for s in members for r in s.ratings]
        per_user = [len(s.clicked & s.requests) / len(s.requests) for s in members if s.requests]
        metrics: dict[str, MetricSummary] = {
            "recommendation_ctr": MetricSummary.from_counts(clicked, shown),
            "subscription_retention": MetricSummary.from_counts(
                sum(1 for s in members if not s.cancelled), len(members)
            ),
            "user_satisfaction": MetricSummary(
                len(ratings), float(sum(ratings)), float(sum(r * r for r in ratings))
            ),
            "ctr_per_user": MetricSummary(
                len(per_user), float(sum(per_user)), float(sum(x * x for x in per_user))
            ),
        }
        return ArmData(users=len(members), metrics=metrics)
