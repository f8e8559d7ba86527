"""SIMULATED subscribers: utility of a coffee, noisy feedback, and the ground truth.

**Utility.** For a person with hidden :class:`~taste2vec.sim.subscribers.tastes.Tastes` and a
coffee with family shares ``f`` and standardised sensory values ``z``::

    affinity = family_weights · f                                  in [-1, 1]
    distance = sqrt(mean_d ((z_d - ideal_d) / tolerance_d) ** 2)   >= 0
    u_true   = FAMILY_SCALE * affinity - SENSORY_SCALE * (distance - 1)

``u_true`` is in rating points around the neutral 3: a coffee one tolerance away from the
ideal with no family affinity is neutral. Each tasting observes
``y = 3 + u_true + noise + rating_bias`` with ``noise ~ N(0, tastes.noise)``.

**Feedback** (:meth:`SimulatedSubscriber.feedback`), one draw per tasting:

1. *skipped* with probability ``SKIP_BASE + SKIP_SLOPE * sigmoid(3 - y)``: people skip more
   often what they expect to dislike;
2. otherwise *rated* with probability ``tastes.rating_share``, the rating
   ``clip(round(y), 1, 5)``;
3. otherwise *liked* when ``y >= 3``, else *disliked*.

Only the :class:`~taste2vec.schema.Feedback` (id, user, coffee, signal, rating, timestamp)
leaves the simulator; user ids are opaque (``sim-00042``) and say nothing about the tastes.

**Onboarding answers**: asked to rate a coffee, the person always rates it
(:meth:`SimulatedSubscriber.rate`: ``clip(round(y), 1, 5)``, same noise); asked for their
favourite flavour families, they name the ones with the largest positive hidden weights
(:meth:`SimulatedSubscriber.favourite_families`). Only the answer (ratings as
:class:`~taste2vec.schema.Feedback`, family names as strings) leaves the simulator.

**Ground truth** (:func:`relevant_items`): the coffees whose noiseless ``u_true`` is in the
person's top :data:`RELEVANT_SHARE` of the catalogue (at least one coffee; ties by id).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from taste2vec.schema import Feedback, FeedbackSignal
from taste2vec.sim.subscribers.catalogue import SimCatalogue, SimulatedCoffee
from taste2vec.sim.subscribers.tastes import Tastes

__all__ = [
    "EPOCH",
    "FAMILY_SCALE",
    "RELEVANT_SHARE",
    "SENSORY_SCALE",
    "SKIP_BASE",
    "SKIP_SLOPE",
    "SimulatedSubscriber",
    "relevant_items",
]

FloatArray = npt.NDArray[np.float64]

FAMILY_SCALE = 2.0
SENSORY_SCALE = 1.0
SKIP_BASE = 0.05
SKIP_SLOPE = 0.2
RELEVANT_SHARE = 0.1
#: Default timestamp of simulated feedback (fixed, so runs are reproducible).
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, eq=False)
class SimulatedSubscriber:
    """A SIMULATED person: an opaque ``user_id`` and hidden ``tastes`` (simulator-only)."""

    user_id: str
    tastes: Tastes

    def _utility(self, family: FloatArray, sensory_z: FloatArray) -> FloatArray:
        t = self.tastes
        affinity = family @ t.family_weights
        gap = (sensory_z - t.ideal) / t.tolerance
        distance = np.sqrt(np.mean(gap**2, axis=-1))
        return np.asarray(FAMILY_SCALE * affinity - SENSORY_SCALE * (distance - 1.0))

    def true_utility(self, coffee: SimulatedCoffee) -> float:
        """Noiseless utility ``u_true`` of one coffee, in rating points around 3."""
        return float(self._utility(coffee.family, coffee.sensory_z))

    def true_utilities(self, catalogue: SimCatalogue) -> FloatArray:
        """Noiseless utility of every coffee, in catalogue order."""
        return self._utility(catalogue.family_matrix, catalogue.sensory_z_matrix)

    def _response(self, coffee: SimulatedCoffee, rng: np.random.Generator) -> float:
        """The noisy response on the rating scale: 3 + utility + noise + the rater's bias."""
        t = self.tastes
        return 3.0 + self.true_utility(coffee) + float(rng.normal(0.0, t.noise)) + t.rating_bias

    def feedback(
        self,
        coffee: SimulatedCoffee,
        rng: np.random.Generator,
        *,
        feedback_id: str | None = None,
        timestamp: datetime = EPOCH,
    ) -> Feedback:
        """One noisy reaction to ``coffee`` (see the module docstring for the rules)."""
        t = self.tastes
        y = self._response(coffee, rng)
        skip_p = SKIP_BASE + SKIP_SLOPE / (1.0 + math.exp(y - 3.0))
        draw_skip, draw_kind = rng.random(2)
        rating: int | None = None
        if draw_skip < skip_p:
            signal = FeedbackSignal.SKIPPED
        elif draw_kind < t.rating_share:
            signal, rating = FeedbackSignal.RATED, int(np.clip(round(y), 1, 5))
        else:
            signal = FeedbackSignal.LIKED if y >= 3.0 else FeedbackSignal.DISLIKED
        return Feedback(
            id=feedback_id or f"{self.user_id}-{coffee.id}",
            user=self.user_id,
            coffee=coffee.id,
            signal=signal,
            rating=rating,
            timestamp=timestamp,
        )

    def rate(
        self,
        coffee: SimulatedCoffee,
        rng: np.random.Generator,
        *,
        feedback_id: str | None = None,
        timestamp: datetime = EPOCH,
    ) -> Feedback:
        """A 1-5 rating of ``coffee`` when asked for one (onboarding): never skipped."""
        y = self._response(coffee, rng)
        return Feedback(
            id=feedback_id or f"{self.user_id}-{coffee.id}",
            user=self.user_id,
            coffee=coffee.id,
            signal=FeedbackSignal.RATED,
            rating=int(np.clip(round(y), 1, 5)),
            timestamp=timestamp,
        )

    def favourite_families(self, families: tuple[str, ...], n: int = 3) -> list[str]:
        """Up to ``n`` family names with the largest positive hidden weights, best first."""
        w = self.tastes.family_weights
        order = sorted(range(len(families)), key=lambda i: (-w[i], i))
        return [families[i] for i in order[:n] if w[i] > 0]


def relevant_items(person: SimulatedSubscriber, catalogue: SimCatalogue) -> frozenset[str]:
    """Coffee ids in the person's top :data:`RELEVANT_SHARE` by noiseless utility."""
    utilities = person.true_utilities(catalogue)
    n_relevant = max(1, math.ceil(RELEVANT_SHARE * len(catalogue)))
    ids = catalogue.ids
    order = sorted(range(len(ids)), key=lambda i: (-utilities[i], ids[i]))
    return frozenset(ids[i] for i in order[:n_relevant])
