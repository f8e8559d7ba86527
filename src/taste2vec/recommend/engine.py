"""The Taste2Vec recommendation engine: closed-form online learning over a vector index.

>>> engine = RecommendationEngine(Taste2Vec.load("artifacts/model"), coffees)  # doctest: +SKIP
>>> state = engine.state(feedback, tastings, now)  # doctest: +SKIP
>>> engine.update(state, new_feedback)  # O(d), the next call sees it  # doctest: +SKIP
>>> engine.recommend(state.vector(), k=5, exclude=seen)  # doctest: +SKIP

**Scores.** A coffee's score is the cosine between its taste vector and the query
(:mod:`.snapshot` defines taste space), plus, for users with a vector, the item prior
(the coffee's mean preference over all users, shrunk by
:data:`~taste2vec.recommend.snapshot.PRIOR_SHRINK`; set with :meth:`set_feedback_stats`)
times ``prior_weight * prior_half / (prior_half + n_feedback)``: the crowd's opinion
counts most for a user who told us little. Ties go to catalogue order.

**Query.** The user vector (:mod:`.user_state`); for a cold user (``None``) the snapshot's
cold-start query (the population's taste, else the best-scored coffees' direction). With a
``context``, the query becomes ``normalise((1 - c) q + c x_ctx)``, where ``x_ctx`` is the
taste vector of a record with empty notes and the user's recent contexts plus this one as
history, and ``c = context_weight`` (0.15): small enough that taste dominates, large enough
that morning-at-home and evening-with-friends reorder close candidates.

**Stock.** Only coffees with stock > 0 are indexed; when they run out (all excluded or none
stocked) the remaining slots are filled from the whole catalogue.

**Rebuilds.** :meth:`rebuild` builds a new snapshot on the side and swaps one reference;
every call reads the reference once, so concurrent readers never see half a rebuild.

**The linear taste model** (``user_model="bayes"``, the default when a
:class:`~.user_state.UserState` is passed to :meth:`recommend` as ``state``): a coffee's
score is ``x_j . w_user + gamma(n) * residual_j (+ context term)``, where ``x_j`` is its
feature row (:mod:`.features`: families, metrics given or predicted from the notes and
their squares, roast, process, origin, Taste2Vec components), ``w_user`` the posterior
mean of the per-user Bayesian linear model (:mod:`.bayes`) whose prior
:meth:`set_crowd` fits on everyone's feedback, ``residual_j`` the crowd's preference for
the coffee beyond what the features explain, and
``gamma(n) = residual_weight * prior_half / (prior_half + n)``. With a context the score
adds ``context_weight`` times the cosine between the coffee's taste vector and the
context's. A user with no feedback and no onboarding answer is ranked by the crowd's
cold ranking instead (``CrowdPrior.cold``, :mod:`.bayes`) when one was fitted.
``user_model="vector"`` keeps the closed-form taste vector ranking above.
Explanations, the "like the X you liked" reason and the profile use the taste vector in
both cases.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.recommend.bayes import BayesConfig, fit_crowd_prior, posterior_mean
from taste2vec.recommend.explain import SimilarItem, reason_text
from taste2vec.recommend.index import IndexKind
from taste2vec.recommend.snapshot import (
    CrowdFeedback,
    FeedbackStats,
    Snapshot,
    build_snapshot,
    normalise,
)
from taste2vec.recommend.user_state import UserState, UserVectorConfig
from taste2vec.schema import SENSORY_METRICS, Coffee, Context, Feedback, TasteRecord

__all__ = [
    "LIKE_THRESHOLD",
    "Profile",
    "Recommendation",
    "RecommendationEngine",
    "feedback_stats",
]

FloatArray = npt.NDArray[np.float64]
#: "like the X you liked" is said when X's taste vector has at least this cosine with the
#: recommended coffee's.
LIKE_THRESHOLD = 0.5
_versions = itertools.count(1)


@dataclass(frozen=True)
class Recommendation:
    """One recommended coffee, its score, a sentence saying why, and the facts behind it."""

    coffee_id: str
    score: float
    explanation: str
    reasons: dict[str, Any]


@dataclass(frozen=True)
class Profile:
    """A user's taste: sensory radar (0-10), flavour families, and position on the map."""

    radar: dict[str, float]
    top_families: list[tuple[str, float]]
    map_xy: tuple[float, float]


def feedback_stats(feedback: Iterable[Feedback]) -> FeedbackStats:
    """Per coffee, the sum and count of users' latest preferences (latest by timestamp)."""
    latest: dict[tuple[str, str], Feedback] = {}
    for fb in sorted(feedback, key=lambda f: f.timestamp):
        latest[(fb.user, fb.coffee)] = fb
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for (_, coffee), fb in latest.items():
        sums[coffee] = sums.get(coffee, 0.0) + fb.preference
        counts[coffee] = counts.get(coffee, 0) + 1
    return FeedbackStats(sums, counts)


def _top_k(scores: FloatArray, mask: npt.NDArray[np.bool_], k: int) -> list[int]:
    """The (up to) ``k`` indices where ``mask`` holds, best score first, ties to the lower
    index: a partition then a sort of the few kept, not a sort of the catalogue."""
    idx = np.flatnonzero(mask)
    if k <= 0 or len(idx) == 0:
        return []
    vals = scores[idx]
    if len(idx) > k:
        kth = np.partition(vals, len(vals) - k)[len(vals) - k]  # the k-th largest
        keep = vals >= kth  # ties with it included, so the tie-break below is exact
        idx, vals = idx[keep], vals[keep]
    order = np.lexsort((idx, -vals))[:k]
    return [int(j) for j in idx[order]]


def _rows(
    snap: Snapshot, positives: list[tuple[int, int | None]]
) -> npt.NDArray[np.floating[Any]] | None:
    """The taste vectors of the user's liked coffees (``positives``), one row each."""
    if not positives:
        return None
    rows: npt.NDArray[np.floating[Any]] = snap.taste[[p for p, _ in positives]]
    return rows


def _positive(value: float) -> tuple[bool, int | None]:
    """``(is positive, rating)`` for a ``liked`` entry: ints are 1-5 ratings, floats prefs."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value >= 4, value
    return value > 0, None


class RecommendationEngine:
    """Recommend, explain and profile from one swappable :class:`Snapshot`."""

    def __init__(
        self,
        model: Taste2Vec,
        coffees: Sequence[Coffee],
        index: IndexKind | str = "auto",
        config: UserVectorConfig | None = None,
        context_weight: float = 0.15,
        prior_weight: float = 0.5,
        prior_half: float = 10.0,
        bayes: BayesConfig | None = None,
        residual_weight: float = 1.0,
        user_model: str = "bayes",
    ) -> None:
        if user_model not in ("bayes", "vector"):
            raise ValueError(f"user_model must be 'bayes' or 'vector', got {user_model!r}")
        self.index_kind = index
        self.config = config or UserVectorConfig()
        self.context_weight = context_weight
        self.prior_weight = prior_weight
        self.prior_half = prior_half
        self.bayes = bayes or BayesConfig()
        self.residual_weight = residual_weight
        self.user_model = user_model
        self._stats: FeedbackStats | None = None
        #: The crowd sample (at most ``bayes.max_users`` users) the prior is fitted on.
        self._crowd = CrowdFeedback(None, {}, 0)
        self._lock = threading.Lock()  # serialises writers; readers never take it
        self._snapshot = build_snapshot(model, coffees, next(_versions), index, bayes=self.bayes)

    # ------------------------------------------------------------------ snapshot

    @property
    def snapshot(self) -> Snapshot:
        """The current snapshot (read it once per operation)."""
        return self._snapshot

    def rebuild(self, model: Taste2Vec, coffees: Sequence[Coffee]) -> None:
        """Build a new snapshot on the side, then swap it in atomically."""
        with self._lock:
            snap = build_snapshot(
                model, coffees, next(_versions), self.index_kind, self._stats, self.bayes
            )
            self._snapshot = self._with_crowd(snap)

    def set_feedback_stats(self, stats: FeedbackStats | None) -> None:
        """Set the crowd's per-coffee preferences (population query and item prior)."""
        with self._lock:
            self._stats = stats
            self._snapshot = self._snapshot.with_stats(stats)

    def set_crowd(self, crowd: CrowdFeedback | Iterable[Feedback]) -> None:
        """Learn from the crowd: the item prior and population query
        (:meth:`set_feedback_stats`) and the linear model's prior (:mod:`.bayes`).

        ``crowd``: a :class:`~.snapshot.CrowdFeedback` (a service reads it with
        ``Store.crowd_feedback(engine.bayes.max_users)``: memory bounded by the catalogue
        and the sample, however much feedback is stored), or feedback in memory (a
        simulation, a test: sampled with ``CrowdFeedback.from_feedback`` against the
        current catalogue). The engine keeps only the sample."""
        if not isinstance(crowd, CrowdFeedback):
            crowd = CrowdFeedback.from_feedback(crowd, self.bayes.max_users, self._snapshot.pos)
        if len(crowd.prefs) > self.bayes.max_users:
            raise ValueError(
                f"the crowd sample holds {len(crowd.prefs)} users, more than "
                f"BayesConfig.max_users ({self.bayes.max_users})"
            )
        with self._lock:
            self._stats = crowd.stats
            self._crowd = crowd
            self._snapshot = self._with_crowd(self._snapshot.with_stats(crowd.stats))

    def _with_crowd(self, snap: Snapshot) -> Snapshot:
        crowd = self._crowd
        prefs = {
            user: {snap.pos[c]: p for c, p in items.items() if c in snap.pos}
            for user, items in crowd.prefs.items()
        }
        # A full sample stands for more users (how many: ``n_users``); a smaller one is
        # everyone eligible, counted here against this snapshot's catalogue.
        n_users = crowd.n_users if len(crowd.prefs) >= self.bayes.max_users else None
        x = snap.features.matrix
        prior = fit_crowd_prior(x, snap.features.names, prefs, self.bayes, n_users)
        return snap.with_crowd(prior)

    def project(self, vec: npt.ArrayLike) -> tuple[float, float]:
        """The 2-D map position of a taste vector."""
        return self._snapshot.project(vec)

    # ------------------------------------------------------------------ user vectors

    def new_state(self) -> UserState:
        """An empty user state for the current snapshot."""
        snap = self._snapshot
        return UserState(
            snap.version,
            snap.taste.shape[1],
            self.config,
            n_features=snap.features.matrix.shape[1],
        )

    def _coffee_vec(self, snap: Snapshot, coffee: str) -> FloatArray | None:
        j = snap.pos.get(coffee)
        return None if j is None else snap.taste[j].astype(np.float64)

    def _coffee_features(self, snap: Snapshot, coffee: str) -> FloatArray | None:
        j = snap.pos.get(coffee)
        return None if j is None else snap.features.matrix[j]

    def update(self, state: UserState, feedback: Feedback) -> UserState:
        """Apply one feedback in O(d^2), in place; returns ``state`` (refreshed if stale)."""
        snap = self._snapshot
        state = self._refresh(snap, state)
        state.apply(
            feedback,
            self._coffee_vec(snap, feedback.coffee),
            self._coffee_features(snap, feedback.coffee),
        )
        return state

    def onboard(self, state: UserState, families: Sequence[str]) -> UserState:
        """Set the flavour families the user picked at onboarding (unknown names ignored)."""
        known = set(self._snapshot.model.lexicon.families)
        state.onboard(frozenset(f for f in families if f in known))
        return state

    def weights(self, state: UserState) -> FloatArray:
        """The posterior mean of the user's linear taste model (the crowd prior when cold)."""
        snap = self._snapshot
        state = self._refresh(snap, state)
        return self._weights(snap, state)

    def _weights(self, snap: Snapshot, state: UserState) -> FloatArray:
        gram, moment = state.statistics()
        pseudo = {}
        for family in state.families:
            col = f"fam:{family}"
            if col in snap.features.names:
                pseudo[snap.features.names.index(col)] = (
                    self.bayes.onboarding_strength,
                    self.bayes.onboarding_weight,
                )
        return posterior_mean(snap.crowd, gram, moment, pseudo)

    def add_tastings(
        self,
        state: UserState,
        tastings: Sequence[TasteRecord],
        histories: Sequence[Sequence[Context]] | None = None,
        vectors: tuple[Taste2Vec, np.ndarray] | None = None,
    ) -> UserState:
        """Embed ``tastings`` (one model call) and add them to ``state``.

        ``vectors``: a model and its embeddings of ``tastings`` (one row each, computed
        with ``histories``), used instead of the model call when that model is the
        snapshot's (else ignored)."""
        snap = self._snapshot
        state = self._refresh(snap, state)
        keep = [i for i, t in enumerate(tastings) if t.id not in state.tastings]
        new = [tastings[i] for i in keep]
        if new:
            if vectors is not None and vectors[0] is snap.model:
                raw = np.asarray(vectors[1])[keep]
            else:
                hist = None if histories is None else [histories[i] for i in keep]
                raw = snap.model.embed(new, hist)
            vecs = snap.to_taste(raw)
            for record, vec in zip(new, vecs, strict=True):
                state.add_tasting(record, vec)
        return state

    def state(
        self,
        feedback: Sequence[Feedback],
        tastings: Sequence[TasteRecord] = (),
        now: datetime | None = None,
        histories: Sequence[Sequence[Context]] | None = None,
    ) -> UserState:
        """The batch closed form: a fresh state from all of a user's feedback and tastings.

        Feedback and tastings after ``now`` are ignored. No model call for feedback.
        """
        state = self.new_state()
        for fb in sorted(feedback, key=lambda f: (f.timestamp, f.id)):
            if now is None or fb.timestamp <= now:
                self.update(state, fb)
        if tastings:
            keep = [i for i, t in enumerate(tastings) if now is None or t.timestamp <= now]
            hist = None if histories is None else [histories[i] for i in keep]
            self.add_tastings(state, [tastings[i] for i in keep], hist)
        return state

    def user_vector(
        self,
        feedback: Sequence[Feedback],
        tastings: Sequence[TasteRecord] = (),
        now: datetime | None = None,
        histories: Sequence[Sequence[Context]] | None = None,
    ) -> FloatArray | None:
        """The normalised closed-form user vector, or None when nothing is known."""
        return self.state(feedback, tastings, now, histories).vector()

    def _refresh(self, snap: Snapshot, state: UserState) -> UserState:
        """Recompute a state made for an older snapshot (feedback kept, tastings dropped)."""
        if state.version != snap.version:
            state.reset(
                snap.version,
                lambda coffee: self._coffee_vec(snap, coffee),
                lambda coffee: self._coffee_features(snap, coffee),
                snap.features.matrix.shape[1],
            )
        return state

    # ------------------------------------------------------------------ recommend

    def _query(
        self,
        snap: Snapshot,
        user_vec: npt.ArrayLike | None,
        context: Context | None,
        history: Sequence[TasteRecord],
    ) -> FloatArray:
        if user_vec is not None:
            q = normalise(np.asarray(user_vec, dtype=np.float64).reshape(-1))
        else:
            q = snap.population if snap.population is not None else snap.quality_query
        if context is not None and self.context_weight > 0:
            past = [r.context for r in sorted(history, key=lambda r: r.timestamp) if r.context]
            x_ctx = snap.context_taste((*past[-7:], context))
            q = normalise((1.0 - self.context_weight) * q + self.context_weight * x_ctx)
        return q

    def recommend(
        self,
        user_vec: npt.ArrayLike | None,
        k: int,
        exclude: set[str] | frozenset[str] = frozenset(),
        context: Context | None = None,
        history: Sequence[TasteRecord] = (),
        liked: Sequence[tuple[str, float]] = (),
        n_feedback: int = 0,
        state: UserState | None = None,
    ) -> list[Recommendation]:
        """Up to ``k`` coffees not in ``exclude``, best first, each with its reasons.

        ``liked``: the user's reactions as ``(coffee id, value)``; an ``int`` value is a
        1-5 rating (4 and 5 count as positive), a ``float`` a preference in [-1, 1] (> 0
        counts). The most similar positive one is named in the explanation.
        ``n_feedback``: how many reactions the user gave (weakens the item prior).
        ``state``: the user's state; with ``user_model="bayes"`` it ranks by the linear
        taste model (module docstring), otherwise ``user_vec`` ranks by cosine.
        """
        snap = self._snapshot
        if state is not None and self.user_model == "bayes" and snap.coffees:
            return self._recommend_linear(
                snap, state, user_vec, k, exclude, context, history, liked, n_feedback
            )
        q = self._query(snap, user_vec, context, history)
        gamma = 0.0
        if user_vec is not None and snap.prior is not None and self.prior_weight > 0:
            gamma = self.prior_weight * self.prior_half / (self.prior_half + max(n_feedback, 0))
        fetch = k if gamma == 0 else max(5 * k, 50)
        hits = snap.index.search(q, fetch, exclude)
        if len(hits) < k:  # in-stock coffees ran out: fill from the whole catalogue
            taken = set(exclude) | {c for c, _ in hits}
            hits += snap.full_index.search(q, k - len(hits), taken)
        scored = []
        for coffee, cos in hits:
            j = snap.pos[coffee]
            bonus = gamma * float(snap.prior[j]) if gamma and snap.prior is not None else 0.0
            scored.append((cos + bonus, j, cos, bonus))
        scored.sort(key=lambda s: (-s[0], s[1]))
        positives = self._positives(snap, liked)
        liked_taste = _rows(snap, positives)
        return [
            self._explain(snap, j, score, cos, bonus, positives, liked_taste)
            for score, j, cos, bonus in scored[:k]
        ]

    def _recommend_linear(
        self,
        snap: Snapshot,
        state: UserState,
        user_vec: npt.ArrayLike | None,
        k: int,
        exclude: set[str] | frozenset[str],
        context: Context | None,
        history: Sequence[TasteRecord],
        liked: Sequence[tuple[str, float]],
        n_feedback: int,
    ) -> list[Recommendation]:
        state = self._refresh(snap, state)
        # The answer without context is a function of the snapshot, the state (its
        # ``edits``) and the arguments: the last one is kept on the state and reused.
        memo_key: tuple[Any, ...] | None = None
        if context is None:
            memo_key = (
                snap,
                state.edits,
                k,
                frozenset(exclude),
                tuple(liked),
                n_feedback,
                None if user_vec is None else np.asarray(user_vec, np.float64).tobytes(),
            )
            memo = state.memo
            if isinstance(memo, tuple) and memo[0] is snap and memo[1:-1] == memo_key[1:]:
                return list(memo[-1])
        gamma = self.residual_weight * self.prior_half / (self.prior_half + max(n_feedback, 0))
        bonus = gamma * snap.crowd.residual
        if snap.crowd.cold is not None and state.newest is None and not state.families:
            bonus = np.zeros_like(bonus)  # no evidence: the crowd's cold ranking (.bayes)
            scores = snap.crowd.cold.copy()
        else:
            scores = snap.features.matrix @ self._weights(snap, state) + bonus
        if context is not None and self.context_weight > 0:
            past = [r.context for r in sorted(history, key=lambda r: r.timestamp) if r.context]
            x_ctx = snap.context_taste((*past[-7:], context))
            scores = scores + self.context_weight * (snap.taste @ x_ctx)
        allowed = np.ones(len(scores), dtype=bool)
        for coffee in exclude:  # O(excluded), not O(catalogue)
            if (j := snap.pos.get(coffee)) is not None:
                allowed[j] = False
        picked = _top_k(scores, allowed & snap.in_stock, k)
        if len(picked) < k:  # in-stock coffees ran out: fill from the whole catalogue
            allowed[picked] = False
            picked += _top_k(scores, allowed, k - len(picked))
        query = None if user_vec is None else normalise(np.asarray(user_vec, np.float64).ravel())
        positives = self._positives(snap, liked)
        liked_taste = _rows(snap, positives)
        answer = [
            self._explain(
                snap,
                j,
                float(scores[j]),
                0.0 if query is None else float(snap.taste[j] @ query),
                float(bonus[j]),
                positives,
                liked_taste,
            )
            for j in picked
        ]
        if memo_key is not None:
            state.memo = (*memo_key, tuple(answer))
        return answer

    def _positives(
        self, snap: Snapshot, liked: Sequence[tuple[str, float]]
    ) -> list[tuple[int, int | None]]:
        out = []
        for coffee, value in liked:
            ok, rating = _positive(value)
            if ok and (j := snap.pos.get(coffee)) is not None:
                out.append((j, rating))
        return out

    def _explain(
        self,
        snap: Snapshot,
        j: int,
        score: float,
        cos: float,
        bonus: float,
        positives: list[tuple[int, int | None]],
        liked_taste: npt.NDArray[np.floating[Any]] | None,
    ) -> Recommendation:
        """``liked_taste``: the taste rows of ``positives`` (:func:`_rows`), gathered once
        per answer rather than once per coffee explained."""
        similar: SimilarItem | None = None
        if positives and liked_taste is not None:
            sims = liked_taste @ snap.taste[j]
            best = int(sims.argmax())
            sim = float(sims[best])
            if sim >= LIKE_THRESHOLD:
                p, rating = positives[best]
                c = snap.coffees[p]
                similar = SimilarItem(c.id, c.name, round(sim, 3), rating)
        facts = snap.facts[j]
        reasons: dict[str, Any] = {
            "families": list(facts.families),
            "salient_metrics": dict(facts.metrics),
            "similarity": round(cos, 4),
            "prior_bonus": round(bonus, 4),
            "map_xy": [round(v, 4) for v in snap.map_xy[j].tolist()],
        }
        if similar is not None:
            reasons["similar_to"] = {
                "coffee_id": similar.coffee_id,
                "name": similar.name,
                "similarity": similar.similarity,
                "rating": similar.rating,
            }
        return Recommendation(
            snap.coffees[j].id, round(score, 6), reason_text(facts, similar), reasons
        )

    # ------------------------------------------------------------------ profile

    def profile(self, user_vec: npt.ArrayLike | None) -> Profile:
        """Radar from the sensory head, families from the family head, and map position.

        The taste direction is mapped back to a model embedding at the catalogue's typical
        distance from its centroid; ``None`` profiles the catalogue centroid.
        """
        snap = self._snapshot
        taste = (
            np.zeros(snap.taste.shape[1])
            if user_vec is None
            else normalise(np.asarray(user_vec, dtype=np.float64).reshape(-1))
        )
        emb = snap.to_model(taste)[None, :].astype(np.float32)
        sensory, fams = snap.model.predict_heads(emb)
        radar = {m: round(float(v), 2) for m, v in zip(SENSORY_METRICS, sensory[0], strict=True)}
        families = sorted(
            (
                (f, round(float(p), 4))
                for f, p in zip(snap.model.lexicon.families, fams[0], strict=True)
            ),
            key=lambda fp: -fp[1],
        )
        return Profile(radar, families, snap.project(taste))
