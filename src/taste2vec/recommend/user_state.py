"""A user's taste vector in closed form, batch or one feedback at a time.

The user vector is a weighted sum of catalogue vectors in the engine's taste space
(:mod:`taste2vec.recommend.snapshot`), normalised::

    v = normalise( sum_feedback  w(signal) * decay(t) * x[coffee]
                 + sum_tastings  w_tasting * decay(t) * x[tasting] )

- ``w(signal)`` (:class:`UserVectorConfig`): liked +1 (pulls toward), disliked -1 (pushes
  away), rated ``r`` gives ``(r - 3) / 2``, skipped -0.25 (a small push away). Only the
  latest feedback per coffee counts (a new reaction replaces the old one).
- ``decay(t) = 2 ** (-(now - t) / half_life)`` (30 days by default).
- Tastings are the user's own logged records, embedded by the model with their context
  history, pulled toward with the smaller weight ``tasting_weight`` (0.5). When the tasting
  has an ``overall`` score the weight is scaled by ``(overall - 5) / 5``, so a cup the user
  scored 2/10 pushes away instead.

**Recency without rewriting the sum.** Every term is stored as
``w * 2 ** ((t - anchor) / half_life)`` against a fixed reference time ``anchor``; the
true decayed sum at any ``now`` is that sum times ``2 ** (-(now - anchor) / half_life)``,
a common factor that normalisation removes (decay on read). So one feedback is applied in
O(d): subtract the coffee's old term, add its new one (:meth:`UserState.apply`). When a
timestamp runs more than :data:`REBASE_HALF_LIVES` half-lives past the anchor, the anchor
moves (O(#items), rare) to keep the numbers finite. ``now`` therefore only drops feedback
from the future; :attr:`UserState.evidence` reports the decayed total weight at a time.

A state belongs to one engine snapshot (``version``); after a rebuild the engine recomputes
the feedback part from the kept per-item weights and drops the tasting part (re-embed the
tastings with the batch form to restore it).

**The linear taste model's sufficient statistics.** Next to the taste vector the state keeps,
over the same latest-feedback-per-coffee set, ``gram = sum g x x^T`` and
``moment = sum g y x`` over the coffees' feature rows ``x`` (:mod:`.features`) with ``y`` the
preference (:attr:`~taste2vec.schema.Feedback.preference`) and
``g = 2 ** ((t - anchor) / model_half_life)``. Reading them divides by the newest term's
growth, so each term weighs ``2 ** (-(t_newest - t) / model_half_life)``: the same common
factor trick. One feedback is a rank-one change, O(d^2), and the result equals a batch
refit from the same feedback (:mod:`.bayes` solves the posterior on read). Flavour
families from onboarding (:meth:`UserState.onboard`) are kept as a set of names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from taste2vec.schema import Feedback, FeedbackSignal, TasteRecord

__all__ = ["REBASE_HALF_LIVES", "UserState", "UserVectorConfig"]

FloatArray = npt.NDArray[np.float64]
#: Move the anchor when a term's exponent exceeds this many half-lives.
REBASE_HALF_LIVES = 200.0


@dataclass(frozen=True)
class UserVectorConfig:
    """Weights of the closed-form user vector (see the module docstring)."""

    half_life_days: float = 30.0
    liked: float = 1.0
    disliked: float = -1.0
    skipped: float = -0.25
    per_rating_point: float = 0.5  # rated r -> (r - 3) * per_rating_point
    tasting_weight: float = 0.5
    model_half_life_days: float = 365.0  # recency of the linear model's statistics

    def feedback_weight(self, fb: Feedback) -> float:
        """The signed weight of one feedback before decay."""
        if fb.signal is FeedbackSignal.LIKED:
            return self.liked
        if fb.signal is FeedbackSignal.DISLIKED:
            return self.disliked
        if fb.signal is FeedbackSignal.SKIPPED:
            return self.skipped
        return (float(fb.rating or 3) - 3.0) * self.per_rating_point

    def tasting_weight_of(self, record: TasteRecord) -> float:
        """The signed weight of one tasting before decay."""
        overall = record.metrics.overall
        scale = 1.0 if overall is None else (overall - 5.0) / 5.0
        return self.tasting_weight * scale


@dataclass
class UserState:
    """The unnormalised decayed sum, and what is needed to update it in O(d).

    ``items``: coffee id -> (weight before decay, timestamp) of the latest feedback;
    ``terms``: coffee id -> its current term scalar (weight x growth since the anchor).
    Mutable: :meth:`apply` changes it in place (the service keeps one per user).
    """

    version: int
    dim: int
    config: UserVectorConfig = field(default_factory=UserVectorConfig)
    anchor: datetime = datetime(2020, 1, 1, tzinfo=UTC)
    total: FloatArray = field(init=False)
    items: dict[str, tuple[float, datetime]] = field(default_factory=dict)
    terms: dict[str, float] = field(default_factory=dict)
    tastings: dict[str, tuple[float, datetime]] = field(default_factory=dict)
    n_features: int = 0
    gram: FloatArray = field(init=False)
    moment: FloatArray = field(init=False)
    model_terms: dict[str, tuple[float, float]] = field(default_factory=dict)  # (g, y)
    newest: datetime | None = None
    families: frozenset[str] = frozenset()
    # Bumped after every change (apply, add_tasting, onboard, reset): a reader that saw the
    # same ``edits`` saw the same state. ``memo`` is the engine's last answer for it.
    edits: int = field(default=0, compare=False, repr=False)
    memo: object = field(default=None, compare=False, repr=False)

    def _edited(self) -> None:
        self.memo = None
        self.edits += 1

    def __post_init__(self) -> None:
        self.total = np.zeros(self.dim, dtype=np.float64)
        self.gram = np.zeros((self.n_features, self.n_features), dtype=np.float64)
        self.moment = np.zeros(self.n_features, dtype=np.float64)

    def _growth(self, t: datetime) -> float:
        if not self.items and not self.tastings:
            self.anchor = t  # first term: anchor at it
        days = (t - self.anchor).total_seconds() / 86_400.0
        exponent = days / self.config.half_life_days
        model_exponent = days / self.config.model_half_life_days
        if max(abs(exponent), abs(model_exponent)) > REBASE_HALF_LIVES:
            self._rebase(t)
            return 1.0
        return math.pow(2.0, exponent)

    def _model_growth(self, t: datetime) -> float:
        """The linear model's growth of a term at ``t`` (call after :meth:`_growth`)."""
        days = (t - self.anchor).total_seconds() / 86_400.0
        return math.pow(2.0, days / self.config.model_half_life_days)

    def _rebase(self, t: datetime) -> None:
        days = (self.anchor - t).total_seconds() / 86_400.0
        factor = math.pow(2.0, max(days / self.config.half_life_days, -1000.0))
        model_factor = math.pow(2.0, max(days / self.config.model_half_life_days, -1000.0))
        self.anchor = t
        self.total *= factor
        self.terms = {c: a * factor for c, a in self.terms.items()}
        self.gram *= model_factor
        self.moment *= model_factor
        self.model_terms = {c: (g * model_factor, y) for c, (g, y) in self.model_terms.items()}

    def apply(
        self, fb: Feedback, vector: FloatArray | None, features: FloatArray | None = None
    ) -> bool:
        """Apply one feedback (``vector``: the coffee's taste vector, ``features``: its
        feature row; None if unknown). O(d^2).

        An older feedback than the one kept for that coffee is ignored (returns False).
        """
        kept = self.items.get(fb.coffee)
        if kept is not None and kept[1] > fb.timestamp:
            return False
        weight = self.config.feedback_weight(fb)
        term = weight * self._growth(fb.timestamp)
        self.items[fb.coffee] = (weight, fb.timestamp)
        old = self.terms.pop(fb.coffee, 0.0)
        if vector is not None:
            self.total += (term - old) * vector
            self.terms[fb.coffee] = term
        self._apply_model(fb.coffee, fb.preference, fb.timestamp, features)
        self._edited()
        return True

    def _apply_model(self, coffee: str, y: float, t: datetime, features: FloatArray | None) -> None:
        old = self.model_terms.pop(coffee, None)
        if features is None or features.shape != (self.n_features,):
            self.model_terms[coffee] = (0.0, y)  # kept for a rebuild that knows the coffee
            return
        if old is not None and old[0] != 0.0:
            g_old, y_old = old
            self.gram -= g_old * np.outer(features, features)
            self.moment -= g_old * y_old * features
        g = self._model_growth(t)
        self.gram += g * np.outer(features, features)
        self.moment += g * y * features
        self.model_terms[coffee] = (g, y)
        if self.newest is None or t > self.newest:
            self.newest = t

    def onboard(self, families: frozenset[str] | set[str] | tuple[str, ...]) -> None:
        """Remember the flavour families the user picked at onboarding (replaces them)."""
        self.families = frozenset(families)
        self._edited()

    def statistics(self) -> tuple[FloatArray, FloatArray]:
        """``(gram, moment)`` weighted relative to the newest feedback (see the docstring)."""
        if self.newest is None:
            return np.zeros_like(self.gram), np.zeros_like(self.moment)
        scale = 1.0 / self._model_growth_at(self.newest)
        return self.gram * scale, self.moment * scale

    def _model_growth_at(self, t: datetime) -> float:
        days = (t - self.anchor).total_seconds() / 86_400.0
        return math.pow(2.0, days / self.config.model_half_life_days)

    def add_tasting(self, record: TasteRecord, vector: FloatArray) -> None:
        """Add one tasting's term (``vector``: its taste vector); a repeated id is ignored."""
        if record.id in self.tastings:
            return
        weight = self.config.tasting_weight_of(record)
        growth = self._growth(record.timestamp)
        self.tastings[record.id] = (weight, record.timestamp)
        self.total += weight * growth * vector
        self._edited()

    def reset(
        self,
        version: int,
        lookup: Callable[[str], FloatArray | None],
        features: Callable[[str], FloatArray | None] | None = None,
        n_features: int | None = None,
    ) -> None:
        """Recompute the feedback part for snapshot ``version``; the tasting part is dropped.

        ``features`` (with the snapshot's ``n_features``) looks up the coffees' new feature
        rows for the linear model's statistics.
        """
        items = sorted(self.items.items(), key=lambda kv: kv[1][1])
        prefs = {c: y for c, (_, y) in self.model_terms.items()}
        self.version, self.items, self.terms, self.tastings = version, {}, {}, {}
        self.model_terms, self.newest = {}, None
        if n_features is not None:
            self.n_features = n_features
        self.total = np.zeros(self.dim, dtype=np.float64)
        self.gram = np.zeros((self.n_features, self.n_features), dtype=np.float64)
        self.moment = np.zeros(self.n_features, dtype=np.float64)
        for coffee, (weight, t) in items:
            growth = self._growth(t)
            self.items[coffee] = (weight, t)
            vec = lookup(coffee)
            if vec is not None:
                self.terms[coffee] = weight * growth
                self.total += weight * growth * vec
            if features is not None and coffee in prefs:
                self._apply_model(coffee, prefs[coffee], t, features(coffee))
        self._edited()

    def evidence(self, now: datetime) -> float:
        """The decayed sum of absolute weights at ``now`` (how much is known)."""
        h = self.config.half_life_days
        return float(
            sum(
                abs(w) * math.pow(2.0, -max((now - t).total_seconds(), 0.0) / 86_400.0 / h)
                for w, t in [*self.items.values(), *self.tastings.values()]
            )
        )

    def vector(self) -> FloatArray | None:
        """The normalised user vector, or None when nothing is known (or it all cancels)."""
        norm = float(np.linalg.norm(self.total))
        if not (self.terms or self.tastings) or norm < 1e-12:
            return None
        return self.total / norm
