"""SIMULATED subscribers and the recommendation-quality harness built on them.

No public dataset has per-user coffee ratings, so per-user behaviour is simulated, and
every number produced here is labelled "SIMULATED subscribers". Each simulated person has
explicit hidden tastes (:mod:`.tastes`: flavour-family weights, an ideal sensory point with
tolerances, noise and rating bias); a documented utility turns them into noisy feedback on
real catalogue coffees (:mod:`.subscriber`). Only :class:`~taste2vec.schema.Feedback`
objects leave the simulator: the hidden tastes never reach a model.

- :mod:`.catalogue`: the catalogue as the simulator sees it (family and sensory vectors).
- :mod:`.tastes`: hidden tastes, the four archetypes, the seeded population generator.
- :mod:`.subscriber`: utility, feedback, and the ground truth :func:`relevant_items`.
- :mod:`.ranking`: NDCG@k and Recall@k.
- :mod:`.evaluate` and :mod:`.report`: the harness and its markdown table.

>>> from taste2vec.data.demo import load_demo_catalogue
>>> from taste2vec.sim.recommend.baselines import PopularityRecommender
>>> catalogue = catalogue_from_coffees(load_demo_catalogue(), name="demo")
>>> config = HarnessConfig(n_users=20, checkpoints=(0, 5))
>>> results = evaluate([PopularityRecommender()], catalogue, config)
>>> 0.0 <= results.get("n=5", "popularity").ndcg <= 1.0
True
"""

from __future__ import annotations

from taste2vec.sim.subscribers.catalogue import (
    SENSORY_DIMS,
    SimCatalogue,
    SimulatedCoffee,
    catalogue_from_coffees,
    catalogue_from_reviews,
)
from taste2vec.sim.subscribers.evaluate import (
    COLD_SLICE,
    ONBOARDING_SLICE,
    HarnessConfig,
    QualityResults,
    QualityRow,
    evaluate,
    make_subscribers,
    onboarding_answers,
    reveal_feedback,
)
from taste2vec.sim.subscribers.ranking import ndcg_at_k, recall_at_k
from taste2vec.sim.subscribers.report import render_markdown
from taste2vec.sim.subscribers.subscriber import SimulatedSubscriber, relevant_items
from taste2vec.sim.subscribers.tastes import (
    ARCHETYPES,
    Tastes,
    archetype_tastes,
    generate_population,
    random_tastes,
)

__all__ = [
    "ARCHETYPES",
    "COLD_SLICE",
    "ONBOARDING_SLICE",
    "SENSORY_DIMS",
    "HarnessConfig",
    "QualityResults",
    "QualityRow",
    "SimCatalogue",
    "SimulatedCoffee",
    "SimulatedSubscriber",
    "Tastes",
    "archetype_tastes",
    "catalogue_from_coffees",
    "catalogue_from_reviews",
    "evaluate",
    "generate_population",
    "make_subscribers",
    "onboarding_answers",
    "ndcg_at_k",
    "random_tastes",
    "recall_at_k",
    "relevant_items",
    "render_markdown",
    "reveal_feedback",
]
