"""Recommendation quality on SIMULATED subscribers: NDCG@k and Recall@k as feedback grows.

Protocol (:func:`evaluate`), deterministic under ``config.seed``:

1. Draw ``config.n_users`` subscribers
   (:func:`~taste2vec.sim.subscribers.tastes.generate_population`)
   with opaque ids ``sim-00000``, ``sim-00001``, ...
2. **Exploration policy: random coffees.** Each subscriber tastes coffees in their own
   random order of the catalogue and reacts once to each (:meth:`SimulatedSubscriber.feedback`).
   The events are drawn once; a checkpoint of ``n`` reveals each user's first ``n``. Every
   recommender sees exactly the same feedback, so the comparison is fair, and no
   recommender's picks influence what is revealed.
3. For each checkpoint ``n`` in ``config.checkpoints``, each recommender is fitted on the
   catalogue and all revealed feedback of all users, then asked for each user's top ``k``
   excluding the coffees that user reacted to. Scores are against
   :func:`~taste2vec.sim.subscribers.subscriber.relevant_items` minus those coffees; users left
   with no relevant coffee are not scored (``users scored`` in the table).
4. **Cold start:** a random ``config.cold_share`` of the users reveal nothing while the
   others reveal ``config.cold_warm_feedback`` each; only the cold users are scored.
5. **Onboarding** (``config.onboarding``, slice :data:`ONBOARDING_SLICE`): no user has any
   other feedback; each answers a short onboarding: rates the
   :func:`~taste2vec.recommend.features.archetype_coffees` (``config.onboarding_ratings``
   of them, chosen from the catalogue's structured attributes, the same for everyone) and
   names up to ``config.onboarding_families`` favourite flavour families. The ratings
   reach every recommender as feedback; the family names reach those with a
   ``set_onboarding(families by user)`` method (called with ``{}`` for the other slices).

Recommenders see only the :class:`~taste2vec.schema.Coffee` catalogue and
:class:`~taste2vec.schema.Feedback` objects; the hidden tastes never leave the simulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from taste2vec.errors import SchemaError
from taste2vec.recommend.protocol import Recommender, check_recommendations
from taste2vec.schema import Feedback
from taste2vec.sim.subscribers.catalogue import SimCatalogue
from taste2vec.sim.subscribers.ranking import ndcg_at_k, recall_at_k
from taste2vec.sim.subscribers.subscriber import EPOCH, SimulatedSubscriber, relevant_items
from taste2vec.sim.subscribers.tastes import generate_population

__all__ = [
    "COLD_SLICE",
    "ONBOARDING_SLICE",
    "HarnessConfig",
    "QualityResults",
    "QualityRow",
    "evaluate",
    "make_subscribers",
    "reveal_feedback",
]

#: The slice label of the cold-start evaluation.
COLD_SLICE = "cold"
#: The slice label of the onboarding evaluation (0 feedback plus the onboarding answer).
ONBOARDING_SLICE = "n=0+onboarding"


@dataclass(frozen=True)
class HarnessConfig:
    """Knobs of :func:`evaluate`; the defaults are the benchmark's."""

    n_users: int = 200
    seed: int = 13
    checkpoints: tuple[int, ...] = (0, 5, 20, 50)
    k: int = 10
    cold_share: float = 0.25
    cold_warm_feedback: int = 20
    archetype_share: float = 0.6
    onboarding: bool = True
    onboarding_ratings: int = 3
    onboarding_families: int = 3


@dataclass(frozen=True)
class QualityRow:
    """Mean metrics of one recommender on one slice (``feedback_per_user`` n, or the cold slice)."""

    slice: str
    recommender: str
    ndcg: float
    recall: float
    users_scored: int


@dataclass(frozen=True)
class QualityResults:
    """All rows of one :func:`evaluate` run, with what it ran on. SIMULATED subscribers."""

    catalogue: str
    n_coffees: int
    config: HarnessConfig
    rows: tuple[QualityRow, ...] = field(default=())

    def get(self, slice_: str, recommender: str) -> QualityRow:
        """The row for ``slice_`` (``"n=20"`` or :data:`COLD_SLICE`) and ``recommender``."""
        for row in self.rows:
            if row.slice == slice_ and row.recommender == recommender:
                return row
        raise KeyError((slice_, recommender))


def make_subscribers(catalogue: SimCatalogue, config: HarnessConfig) -> list[SimulatedSubscriber]:
    """The seeded population with opaque ids ``sim-00000``, ..."""
    tastes = generate_population(
        catalogue.families, config.n_users, config.seed, config.archetype_share
    )
    return [SimulatedSubscriber(f"sim-{i:05d}", t) for i, t in enumerate(tastes)]


def reveal_feedback(
    subscribers: Sequence[SimulatedSubscriber], catalogue: SimCatalogue, n: int, seed: int
) -> list[list[Feedback]]:
    """Each subscriber's first ``n`` reactions, on coffees in their own seeded random order."""
    if n > len(catalogue):
        raise SchemaError(f"cannot reveal {n} reactions per user from {len(catalogue)} coffees")
    events = []
    for u, person in enumerate(subscribers):
        order_rng = np.random.default_rng([seed, u, 1])
        react_rng = np.random.default_rng([seed, u, 2])
        order = order_rng.permutation(len(catalogue))[:n]
        events.append(
            [
                person.feedback(
                    catalogue.items[j],
                    react_rng,
                    feedback_id=f"{person.user_id}-fb{step:04d}",
                    timestamp=EPOCH + timedelta(days=step, minutes=u),
                )
                for step, j in enumerate(order)
            ]
        )
    return events


def onboarding_answers(
    subscribers: Sequence[SimulatedSubscriber], catalogue: SimCatalogue, config: HarnessConfig
) -> tuple[list[list[Feedback]], dict[str, list[str]]]:
    """Each subscriber's onboarding ratings (as feedback) and favourite families."""
    from taste2vec.recommend.features import archetype_coffees

    picks = archetype_coffees(catalogue.coffees, catalogue.family_matrix, config.onboarding_ratings)
    pos = {c: j for j, c in enumerate(catalogue.ids)}
    ratings, families = [], {}
    for u, person in enumerate(subscribers):
        rng = np.random.default_rng([config.seed, u, 3])
        ratings.append(
            [
                person.rate(
                    catalogue.items[pos[c]],
                    rng,
                    feedback_id=f"{person.user_id}-onb{step:02d}",
                    timestamp=EPOCH + timedelta(minutes=u),
                )
                for step, c in enumerate(picks)
            ]
        )
        families[person.user_id] = person.favourite_families(
            catalogue.families, config.onboarding_families
        )
    return ratings, families


def _set_onboarding(rec: Recommender, families: dict[str, list[str]]) -> None:
    setter = getattr(rec, "set_onboarding", None)
    if callable(setter):
        setter(families)


def _slices(
    events: list[list[Feedback]], config: HarnessConfig
) -> Iterator[tuple[str, list[int], list[int]]]:
    """``(label, feedback count per user, users to score)`` for every slice."""
    everyone = list(range(len(events)))
    for n in config.checkpoints:
        yield f"n={n}", [n] * len(events), everyone
    if config.n_users > 1 and config.cold_share > 0:
        rng = np.random.default_rng([config.seed, 0xC01D])
        n_cold = min(max(1, round(config.cold_share * config.n_users)), config.n_users - 1)
        cold = sorted(int(i) for i in rng.choice(config.n_users, n_cold, replace=False))
        counts = [config.cold_warm_feedback] * len(events)
        for i in cold:
            counts[i] = 0
        yield COLD_SLICE, counts, cold


def evaluate(
    recommenders: Sequence[Recommender],
    catalogue: SimCatalogue,
    config: HarnessConfig | None = None,
    on_step: Callable[[str, str], None] | None = None,
) -> QualityResults:
    """Run the protocol of the module docstring; ``on_step(slice, recommender)`` for progress."""
    config = config or HarnessConfig()
    names = [r.name for r in recommenders]
    if len(set(names)) != len(names):
        raise SchemaError(f"recommender names must be unique, got {names}")
    subscribers = make_subscribers(catalogue, config)
    most = max([*config.checkpoints, config.cold_warm_feedback])
    events = reveal_feedback(subscribers, catalogue, most, config.seed)
    relevant = [relevant_items(s, catalogue) for s in subscribers]
    catalogue_ids = set(catalogue.ids)
    rows = []
    plan: list[tuple[str, list[list[Feedback]], list[int], dict[str, list[str]]]] = [
        (label, [events[u][:n] for u, n in enumerate(counts)], scored, {})
        for label, counts, scored in _slices(events, config)
    ]
    if config.onboarding:
        ratings, families = onboarding_answers(subscribers, catalogue, config)
        plan.append((ONBOARDING_SLICE, ratings, list(range(len(subscribers))), families))
    for label, per_user, scored, families in plan:
        revealed = [fb for user_events in per_user for fb in user_events]
        revealed.sort(key=lambda fb: (fb.timestamp, fb.id))
        seen = [{fb.coffee for fb in user_events} for user_events in per_user]
        for rec in recommenders:
            if on_step is not None:
                on_step(label, rec.name)
            _set_onboarding(rec, families)
            rec.fit(catalogue.coffees, revealed)
            ndcgs, recalls = [], []
            for u in scored:
                target = relevant[u] - seen[u]
                if not target:
                    continue
                ids = rec.recommend(subscribers[u].user_id, config.k, set(seen[u]))
                check_recommendations(rec.name, ids, config.k, seen[u], catalogue_ids)
                ndcgs.append(ndcg_at_k(ids, target, config.k))
                recalls.append(recall_at_k(ids, target, config.k))
            mean_ndcg = float(np.mean(ndcgs)) if ndcgs else float("nan")
            mean_recall = float(np.mean(recalls)) if recalls else float("nan")
            rows.append(QualityRow(label, rec.name, mean_ndcg, mean_recall, len(ndcgs)))
    return QualityResults(catalogue.name, len(catalogue), config, tuple(rows))
