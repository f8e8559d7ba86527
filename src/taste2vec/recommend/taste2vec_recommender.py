"""The engine behind the :class:`~taste2vec.recommend.protocol.Recommender` seam.

:class:`Taste2VecRecommender` lets the quality harness (``bench/recommend_quality.py``)
compare the engine with the baselines. ``fit`` builds the engine when the catalogue
changes (embedding is the expensive part; refits on the same catalogue reuse it), sets the
crowd's per-coffee statistics from all feedback, and computes every user's closed-form
vector; ``recommend`` ranks with it. Users with no feedback get the engine's cold-start
query. Feedback is all the model sees: no hidden simulator state reaches it.

The defaults (``prior_weight``, ``half_life_days``) were chosen on SIMULATED subscribers
with seed 99, never on the benchmark's seed 13.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.recommend.engine import RecommendationEngine, feedback_stats
from taste2vec.recommend.user_state import UserState, UserVectorConfig
from taste2vec.schema import Coffee, Feedback

__all__ = ["Taste2VecRecommender"]


class Taste2VecRecommender:
    """Closed-form Taste2Vec user vectors over the engine (see the module docstring)."""

    def __init__(
        self,
        model: Taste2Vec,
        name: str = "taste2vec",
        config: UserVectorConfig | None = None,
        prior_weight: float = 0.5,
        index: str = "auto",
    ) -> None:
        self.name = name
        self.model = model
        self.config = config or UserVectorConfig()
        self.prior_weight = prior_weight
        self.index = index
        self.engine: RecommendationEngine | None = None
        self._catalogue: tuple[Coffee, ...] = ()
        self._states: dict[str, UserState] = {}

    def fit(self, catalogue: Sequence[Coffee], feedback: Sequence[Feedback]) -> None:
        """(Re)build the engine if the catalogue changed, then every user's vector."""
        if self.engine is None or tuple(catalogue) != self._catalogue:
            self.engine = RecommendationEngine(
                self.model,
                catalogue,
                index=self.index,
                config=self.config,
                prior_weight=self.prior_weight,
            )
            self._catalogue = tuple(catalogue)
        self.engine.set_feedback_stats(feedback_stats(feedback) if feedback else None)
        by_user: dict[str, list[Feedback]] = defaultdict(list)
        for fb in feedback:
            by_user[fb.user].append(fb)
        self._states = {user: self.engine.state(items) for user, items in by_user.items()}

    def recommend(self, user: str, k: int, exclude: set[str]) -> list[str]:
        """The engine's top ``k`` for the user's vector (cold users: the fallback)."""
        if self.engine is None:
            return []
        state = self._states.get(user)
        vec = state.vector() if state is not None else None
        n = len(state.items) if state is not None else 0
        recs = self.engine.recommend(vec, k, exclude, n_feedback=n)
        return [r.coffee_id for r in recs]
