"""Reference recommenders that need no taste model: popularity, item-item kNN, random, ALS.

All of them read feedback as one preference per (user, coffee), the latest by timestamp
(:func:`preference_table`), valued by :attr:`~taste2vec.schema.Feedback.preference`:
liked 1, disliked -1, rated ``(r - 3) / 2``, skipped -0.25. "Positive" means > 0.
Feedback on coffees outside the catalogue is ignored. Ties are broken by popularity,
then by coffee id, so every recommender is deterministic.

:class:`ALSRecommender` needs the ``bench`` extra (``implicit``), imported lazily.

>>> from taste2vec.data.demo import load_demo_catalogue, demo_feedback
>>> rec = PopularityRecommender()
>>> rec.fit(load_demo_catalogue(), demo_feedback())
>>> len(rec.recommend("someone-new", k=3, exclude=set()))
3
"""

from __future__ import annotations

import importlib
import zlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from taste2vec.errors import MissingExtraError
from taste2vec.schema import Coffee, Feedback

__all__ = [
    "ALSRecommender",
    "ItemKNNRecommender",
    "PopularityRecommender",
    "RandomRecommender",
    "preference_table",
]

FloatArray = npt.NDArray[np.float64]


def preference_table(
    feedback: Sequence[Feedback], coffee_ids: set[str] | None = None
) -> dict[str, dict[str, float]]:
    """``{user: {coffee: preference}}`` from the latest feedback per pair (stable on ties)."""
    table: dict[str, dict[str, float]] = {}
    for fb in sorted(feedback, key=lambda f: f.timestamp):
        if coffee_ids is None or fb.coffee in coffee_ids:
            table.setdefault(fb.user, {})[fb.coffee] = fb.preference
    return table


class PopularityRecommender:
    """Most-liked first: the number of users whose latest preference is positive; ties by id."""

    name = "popularity"

    def __init__(self) -> None:
        self._order: list[str] = []

    def fit(self, catalogue: Sequence[Coffee], feedback: Sequence[Feedback]) -> None:
        """Count positive preferences per catalogue coffee."""
        ids = {c.id for c in catalogue}
        counts: Counter[str] = Counter()
        for prefs in preference_table(feedback, ids).values():
            counts.update(c for c, p in prefs.items() if p > 0)
        self._order = sorted(ids, key=lambda c: (-counts[c], c))

    @property
    def order(self) -> list[str]:
        """Every catalogue id, most popular first (empty before :meth:`fit`)."""
        return list(self._order)

    def recommend(self, user: str, k: int, exclude: set[str]) -> list[str]:
        """The ``k`` most popular coffees not in ``exclude``; the same for every user."""
        return [c for c in self._order if c not in exclude][:k]


class _ScoredRecommender:
    """Shared parts: the catalogue order, a popularity fallback, and top-k by score."""

    name = "scored"

    def __init__(self) -> None:
        self._popularity = PopularityRecommender()
        self._ids: list[str] = []
        self._pop_rank: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)

    def _fit_common(self, catalogue: Sequence[Coffee], feedback: Sequence[Feedback]) -> None:
        self._popularity.fit(catalogue, feedback)
        self._ids = sorted(c.id for c in catalogue)
        rank = {c: i for i, c in enumerate(self._popularity.order)}
        self._pop_rank = np.array([rank[c] for c in self._ids], dtype=np.int64)

    def _top(self, scores: FloatArray, k: int, exclude: set[str]) -> list[str]:
        """Highest score first, ties by popularity then id, skipping ``exclude``."""
        order = np.lexsort((self._pop_rank, -scores))
        out: list[str] = []
        for i in order:
            if len(out) >= k:
                break
            if self._ids[i] not in exclude:
                out.append(self._ids[i])
        return out


class ItemKNNRecommender(_ScoredRecommender):
    """Item-item cosine similarity on the user x coffee preference matrix.

    A user's score for a coffee is the sum of its similarities to the coffees the user
    rated positively. Users with no positive preference get :class:`PopularityRecommender`.
    """

    name = "item-knn"

    def __init__(self) -> None:
        super().__init__()
        self._similarity: FloatArray = np.zeros((0, 0))
        self._positives: dict[str, list[int]] = {}

    def fit(self, catalogue: Sequence[Coffee], feedback: Sequence[Feedback]) -> None:
        """Build the preference matrix and the item-item cosine similarities."""
        self._fit_common(catalogue, feedback)
        column = {c: j for j, c in enumerate(self._ids)}
        table = preference_table(feedback, set(column))
        matrix = np.zeros((len(table), len(self._ids)))
        self._positives = {}
        for row, (user, prefs) in enumerate(table.items()):
            for coffee, pref in prefs.items():
                matrix[row, column[coffee]] = pref
            self._positives[user] = [column[c] for c, p in prefs.items() if p > 0]
        norms = np.linalg.norm(matrix, axis=0)
        safe = np.where(norms > 0, norms, 1.0)
        unit = matrix / safe
        self._similarity = unit.T @ unit
        np.fill_diagonal(self._similarity, 0.0)

    def recommend(self, user: str, k: int, exclude: set[str]) -> list[str]:
        """Top ``k`` by summed similarity to the user's positive coffees."""
        positives = self._positives.get(user)
        if not positives:
            return self._popularity.recommend(user, k, exclude)
        scores = self._similarity[positives].sum(axis=0)
        return self._top(scores, k, exclude)


class RandomRecommender:
    """A fixed random order per user (seeded by ``seed`` and the user id): the chance level."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._ids: list[str] = []

    def fit(self, catalogue: Sequence[Coffee], feedback: Sequence[Feedback]) -> None:
        """Remember the catalogue ids; feedback is ignored."""
        self._ids = sorted(c.id for c in catalogue)

    def recommend(self, user: str, k: int, exclude: set[str]) -> list[str]:
        """``k`` coffees in this user's random order, skipping ``exclude``."""
        rng = np.random.default_rng([self.seed, zlib.crc32(user.encode())])
        return [
            self._ids[i] for i in rng.permutation(len(self._ids)) if self._ids[i] not in exclude
        ][:k]


def _import_implicit() -> tuple[Any, Any, Any]:
    """``(implicit.als, scipy.sparse, threadpoolctl)``, or :class:`MissingExtraError`."""
    try:
        return (
            importlib.import_module("implicit.als"),
            importlib.import_module("scipy.sparse"),
            importlib.import_module("threadpoolctl"),
        )
    except ImportError as exc:
        raise MissingExtraError("implicit", "bench") from exc


class ALSRecommender(_ScoredRecommender):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) from ``implicit``, ``bench`` extra.

    A positive preference ``p`` becomes confidence ``1 + alpha * p`` that the user likes the
    coffee; a neutral or negative one becomes confidence ``1 + alpha * |p|`` that they do
    not (``implicit`` reads negative entries that way). Scores are user . item factors.
    Users with no feedback get :class:`PopularityRecommender`. Training runs with
    ``num_threads`` threads and BLAS limited to one thread (faster, no ``implicit``
    warning, deterministic under ``seed``). The defaults were picked by a small grid on the
    demo catalogue with SIMULATED subscribers under seed 99 (not the benchmark's seed 13);
    small catalogues and few users want few factors and strong regularisation.
    """

    name = "implicit-als"

    def __init__(
        self,
        factors: int = 8,
        regularization: float = 5.0,
        alpha: float = 10.0,
        iterations: int = 20,
        seed: int = 0,
        num_threads: int = 1,
    ) -> None:
        super().__init__()
        self._als, self._sparse, self._threadpoolctl = _import_implicit()
        self.factors, self.regularization, self.alpha = factors, regularization, alpha
        self.iterations, self.seed, self.num_threads = iterations, seed, num_threads
        self._rows: dict[str, int] = {}
        self._user_factors: FloatArray = np.zeros((0, factors))
        self._item_factors: FloatArray = np.zeros((0, factors))

    def _confidence(self, table: dict[str, dict[str, float]]) -> Any:
        column = {c: j for j, c in enumerate(self._ids)}
        rows, cols, values = [], [], []
        for row, prefs in enumerate(table.values()):
            for coffee, pref in prefs.items():
                rows.append(row)
                cols.append(column[coffee])
                sign = 1.0 if pref > 0 else -1.0
                values.append(sign * (1.0 + self.alpha * abs(pref)))
        shape = (len(table), len(self._ids))
        return self._sparse.csr_matrix(
            (np.array(values, dtype=np.float32), (rows, cols)), shape=shape
        )

    def fit(self, catalogue: Sequence[Coffee], feedback: Sequence[Feedback]) -> None:
        """Fit ALS factors on the confidence matrix (no model when there is no feedback)."""
        self._fit_common(catalogue, feedback)
        table = preference_table(feedback, set(self._ids))
        self._rows = {user: row for row, user in enumerate(table)}
        if not table:
            return
        with self._threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
            model = self._als.AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.num_threads,
                use_gpu=False,
            )
            model.fit(self._confidence(table), show_progress=False)
        self._user_factors = np.asarray(model.user_factors, dtype=np.float64)
        self._item_factors = np.asarray(model.item_factors, dtype=np.float64)

    def recommend(self, user: str, k: int, exclude: set[str]) -> list[str]:
        """Top ``k`` by the factor dot product; popularity for users without feedback."""
        row = self._rows.get(user)
        if row is None:
            return self._popularity.recommend(user, k, exclude)
        return self._top(self._item_factors @ self._user_factors[row], k, exclude)
