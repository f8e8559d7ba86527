"""What the crowd refit reads, in SQL: bounded by the catalogue and the sample size.

:meth:`CrowdMixin.crowd_feedback` returns a
:class:`~taste2vec.recommend.snapshot.CrowdFeedback` equal to
``CrowdFeedback.from_feedback(store.all_feedback(), max_users, catalogue)`` (the
catalogue being the ``coffees`` table), without reading every row into Python:

* **stats**: one aggregate. Per (user, coffee) the latest row by ``(timestamp, seq)`` (the
  Python code sorts arrival order stably by timestamp), its preference times 4 as an
  integer (liked 4, disliked -4, skipped -1, rated ``2 * (rating - 3)``), summed and
  counted per coffee. Preferences are multiples of 1/4, so the integer sum divided by 4
  is the float sum Python gets in any order: equal, not merely close.
* **sample**: the first ``max_users`` users by ``(user_hash, user_id)`` among those with
  feedback on a catalogue coffee, where ``feedback.user_hash`` is
  :func:`~taste2vec.recommend.bayes.crowd_hash` of the user (written with each row,
  backfilled by migration 0009) and ``user_id`` compares by code point (``COLLATE "C"``
  on PostgreSQL, SQLite's default BINARY), like Python strings. The
  ``(user_hash, user_id)`` index serves it; then only rows with ``user_hash`` up to the
  sample's last are read, ordered by ``(timestamp, seq)``.
* **n_users**: users with feedback on a catalogue coffee; counted only when the sample is
  full (a smaller sample is everyone).

Memory per refit: O(catalogue + the sample's feedback), whatever the table holds. The
database still scans the feedback table for the stats.

:meth:`CrowdMixin.sampled_feedback` picks users the same way for the online learner's
validation set (:class:`~taste2vec.learning.ValidationSet`, issue 11): every reaction of
the first ``max_users`` users by ``(user_hash, user_id)`` among those with at least
``min_feedback`` reactions (on any coffee), in arrival order.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, distinct, func, select

from taste2vec.errors import SchemaError
from taste2vec.recommend.bayes import crowd_hash
from taste2vec.recommend.snapshot import CrowdFeedback, FeedbackStats
from taste2vec.schema import Feedback
from taste2vec.store._base import StoreBase
from taste2vec.store._tables import CoffeeRow, FeedbackRow

__all__ = ["CrowdMixin", "preference", "user_hash"]

_FIXED = {"liked": 1.0, "disliked": -1.0, "skipped": -0.25}
_MAX_USERS = 1_000_000


def user_hash(user_id: str) -> int:
    """The value of ``feedback.user_hash`` for ``user_id``."""
    return crowd_hash(user_id)


def preference(signal: str, rating: int | None) -> float:
    """``Feedback.preference`` from the stored ``signal`` and ``rating`` columns."""
    fixed = _FIXED.get(signal)
    if fixed is not None:
        return fixed
    if signal != "rated" or rating is None:
        raise SchemaError(f"stored feedback with signal {signal!r} and rating {rating!r}")
    return (rating - 3) / 2.0


def _quarters() -> Any:
    """The latest preference times 4, as an integer SQL expression."""
    return case(
        (FeedbackRow.signal == "liked", 4),
        (FeedbackRow.signal == "disliked", -4),
        (FeedbackRow.signal == "skipped", -1),
        else_=2 * FeedbackRow.rating - 6,
    )


class CrowdMixin(StoreBase):
    """The crowd's statistics and sample for ``RecommendationEngine.set_crowd``."""

    def crowd_feedback(self, max_users: int) -> CrowdFeedback:
        """Everyone's per-coffee statistics and the first ``max_users`` users' feedback
        (``BayesConfig.max_users``); see the module docstring."""
        if isinstance(max_users, bool) or not isinstance(max_users, int):
            raise SchemaError(f"max_users must be an integer, got {max_users!r}")
        if not 1 <= max_users <= _MAX_USERS:
            raise SchemaError(f"max_users must be between 1 and {_MAX_USERS}, got {max_users}")
        stats = self.crowd_stats()
        prefs, n_users = self._crowd_sample(max_users)
        return CrowdFeedback(stats, prefs, n_users)

    def crowd_stats(self) -> FeedbackStats | None:
        """Per coffee, the sum and count of users' latest preferences (None: no feedback);
        equal to ``recommend.engine.feedback_stats(store.all_feedback())``."""
        latest = select(
            FeedbackRow.coffee_id.label("coffee"),
            _quarters().label("q"),
            func.row_number()
            .over(
                partition_by=(FeedbackRow.user_id, FeedbackRow.coffee_id),
                order_by=(FeedbackRow.timestamp.desc(), FeedbackRow.seq.desc()),
            )
            .label("rn"),
        ).subquery()
        stmt = (
            select(latest.c.coffee, func.sum(latest.c.q), func.count())
            .where(latest.c.rn == 1)
            .group_by(latest.c.coffee)
        )
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        with self._read() as session:
            for coffee, quarters, count in session.execute(stmt):
                sums[coffee] = int(quarters) / 4.0
                counts[coffee] = int(count)
        return FeedbackStats(sums, counts) if sums else None

    def sampled_feedback(self, max_users: int, min_feedback: int = 1) -> list[Feedback]:
        """Every reaction of the first ``max_users`` users by ``(user_hash, user_id)``
        among those with at least ``min_feedback`` reactions, in arrival order: what
        ``ValidationSet.from_feedback(..., min_feedback, max_users)`` keeps of
        ``all_feedback()``, read without the other users' rows reaching Python."""
        for name, value, top in (
            ("max_users", max_users, _MAX_USERS),
            ("min_feedback", min_feedback, _MAX_USERS),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise SchemaError(f"{name} must be an integer, got {value!r}")
            if not 1 <= value <= top:
                raise SchemaError(f"{name} must be between 1 and {top}, got {value}")
        user = FeedbackRow.user_id
        ordered = user.collate("C") if self.backend == "postgresql" else user
        pick = (
            select(FeedbackRow.user_hash, user)
            .group_by(FeedbackRow.user_hash, user)
            .having(func.count() >= min_feedback)
            .order_by(FeedbackRow.user_hash, ordered)
            .limit(max_users)
        )
        with self._read() as session:
            sample = session.execute(pick).all()
            if not sample:
                return []
            users = {u for _, u in sample}
            rows = session.execute(
                select(user, FeedbackRow.payload)
                .where(FeedbackRow.user_hash <= sample[-1][0])
                .order_by(FeedbackRow.seq)
                .execution_options(yield_per=1000)
            )
            return [Feedback.model_validate(payload) for u, payload in rows if u in users]

    def _crowd_sample(self, max_users: int) -> tuple[dict[str, dict[str, float]], int]:
        user = FeedbackRow.user_id
        ordered = user.collate("C") if self.backend == "postgresql" else user
        # EXISTS, not IN: SQLite then walks ix_feedback_user_hash in order and stops after
        # max_users users (with IN it scanned by coffee and sorted every user).
        eligible = select(CoffeeRow.id).where(CoffeeRow.id == FeedbackRow.coffee_id).exists()
        pick = (
            select(FeedbackRow.user_hash, user)
            .where(eligible)
            .group_by(FeedbackRow.user_hash, user)
            .order_by(FeedbackRow.user_hash, ordered)
            .limit(max_users)
        )
        with self._read() as session:
            sample = session.execute(pick).all()
            if not sample:
                return {}, 0
            users = {u for _, u in sample}
            last = sample[-1][0]
            rows = session.execute(
                select(user, FeedbackRow.coffee_id, FeedbackRow.signal, FeedbackRow.rating)
                .where(FeedbackRow.user_hash <= last)
                .order_by(FeedbackRow.timestamp, FeedbackRow.seq)
            )
            prefs: dict[str, dict[str, float]] = {u: {} for _, u in sample}
            for u, coffee, signal, rating in rows:
                if u in users:
                    prefs[u][coffee] = preference(signal, rating)
            n_users = len(sample)
            if n_users == max_users:
                n_users = session.scalar(select(func.count(distinct(user))).where(eligible)) or 0
        return prefs, n_users
