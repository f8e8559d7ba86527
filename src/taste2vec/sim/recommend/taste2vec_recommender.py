"""The engine behind the :class:`~taste2vec.recommend.protocol.Recommender` seam.

:class:`Taste2VecRecommender` lets the quality harness (``bench/recommend_quality.py``)
compare the engine with the baselines. ``fit`` builds the engine when the catalogue
changes (embedding is the expensive part; refits on the same catalogue reuse it), sets the
crowd's per-coffee statistics from all feedback, and computes every user's closed-form
vector; ``recommend`` ranks with it. Users with no feedback get the engine's cold-start
query. Feedback is all the model sees: no hidden simulator state reaches it.

The defaults (``prior_weight``, ``half_life_days``) were chosen on SIMULATED subscribers
with seed 99, never on the benchmark's seed 13.

``user_model="bayes"`` (default) ranks with the engine's per-user Bayesian linear model
over the coffees' features, its prior fitted on everyone's feedback
(:meth:`RecommendationEngine.set_crowd`); ``"vector"`` with the closed-form taste vector.
:meth:`set_onboarding` gives users' onboarding answers (flavour families they picked);
onboarding ratings arrive as ordinary feedback.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.recommend.bayes import BayesConfig
from taste2vec.recommend.engine import RecommendationEngine
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
        user_model: str = "bayes",
        bayes: BayesConfig | None = None,
        residual_weight: float = 1.0,
    ) -> None:
        self.name = name
        self.model = model
        self.config = config or UserVectorConfig()
        self.prior_weight = prior_weight
        self.index = index
        self.user_model = user_model
        self.bayes = bayes
        self.residual_weight = residual_weight
        self.engine: RecommendationEngine | None = None
        self._catalogue: tuple[Coffee, ...] = ()
        self._states: dict[str, UserState] = {}
        self._onboarding: dict[str, tuple[str, ...]] = {}

    def set_onboarding(self, families: Mapping[str, Sequence[str]]) -> None:
        """Users' onboarding answers (flavour families), used from the next :meth:`fit`."""
        self._onboarding = {u: tuple(f) for u, f in families.items()}

    def fit(self, catalogue: Sequence[Coffee], feedback: Sequence[Feedback]) -> None:
        """(Re)build the engine if the catalogue changed, then every user's vector."""
        if self.engine is None or tuple(catalogue) != self._catalogue:
            self.engine = RecommendationEngine(
                self.model,
                catalogue,
                index=self.index,
                config=self.config,
                prior_weight=self.prior_weight,
                bayes=self.bayes,
                residual_weight=self.residual_weight,
                user_model=self.user_model,
            )
            self._catalogue = tuple(catalogue)
        self.engine.set_crowd(feedback)
        by_user: dict[str, list[Feedback]] = defaultdict(list)
        for fb in feedback:
            by_user[fb.user].append(fb)
        self._states = {user: self.engine.state(items) for user, items in by_user.items()}
        for user, families in self._onboarding.items():
            state = self._states.get(user) or self._states.setdefault(user, self.engine.new_state())
            self.engine.onboard(state, families)

    def recommend(self, user: str, k: int, exclude: set[str]) -> list[str]:
        """The engine's top ``k`` for the user's vector (cold users: the fallback)."""
        if self.engine is None:
            return []
        state = self._states.get(user) or self.engine.new_state()
        vec = state.vector()
        n = len(state.items)
        recs = self.engine.recommend(vec, k, exclude, n_feedback=n, state=state)
        return [r.coffee_id for r in recs]
