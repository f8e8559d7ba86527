"""Online learning, the slow path: fine-tune Taste2Vec from feedback and hot-swap it safely.

The instant path (the service) turns each reaction into a new taste vector in closed form.
This package is the slow path that makes the *model* better from the same reactions:

- :mod:`.replay`: :class:`ReplayBuffer`, reservoir sampling stratified per user;
- :mod:`.objective`: the preference loss (pairwise BPR on leave-pair-out user vectors);
- :mod:`.validation`: the fixed :class:`ValidationSet` and its ranking AUC;
- :mod:`.learner`: :class:`OnlineLearner` (train a copy, gate it, promote it);
- :mod:`.holder`: :class:`ModelHolder`, the live model behind an atomic reference;
- :mod:`.background`: :class:`BackgroundLearner`, the thread that runs it all;
- :mod:`.lease`: :class:`LearnerLease` / :class:`LeasedLearner`, so that with several
  replicas sharing a store only one learner acts;
- ``taste2vec.sim.learning.measure`` (bench tooling, outside the runtime):
  ``measure_personalisation``, the proof on SIMULATED subscribers
  (``python -m taste2vec.sim.learning.measure --model artifacts/model``).

Wiring, in the service::

    holder = ModelHolder(model)                        # requests call holder.get()
    learner = OnlineLearner(holder, catalogue, validation)
    background = BackgroundLearner(learner, every_n=64, every_s=60)
    background.start()                                 # feedback: background.observe(fb)
    ...
    background.stop()
"""

from __future__ import annotations

from taste2vec.learning.background import BackgroundLearner
from taste2vec.learning.holder import ModelHolder, Versioned
from taste2vec.learning.learner import (
    GateDecision,
    LearnerConfig,
    LearnerStats,
    OnlineLearner,
    Publication,
    Publisher,
    StepResult,
    clone_model,
)
from taste2vec.learning.lease import LearnerLease, LeasedLearner
from taste2vec.learning.objective import ObjectiveConfig, coffee_record, preference_loss
from taste2vec.learning.replay import ReplayBuffer
from taste2vec.learning.validation import RankingScore, ValidationSet

__all__ = [
    "BackgroundLearner",
    "GateDecision",
    "LearnerConfig",
    "LearnerLease",
    "LeasedLearner",
    "LearnerStats",
    "ModelHolder",
    "ObjectiveConfig",
    "OnlineLearner",
    "Publication",
    "Publisher",
    "RankingScore",
    "ReplayBuffer",
    "StepResult",
    "ValidationSet",
    "Versioned",
    "clone_model",
    "coffee_record",
    "preference_loss",
]
