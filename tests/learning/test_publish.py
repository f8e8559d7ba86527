"""The learner's publish hook: only gate-passing candidates reach it; its answer decides
whether the candidate is swapped in here."""

from __future__ import annotations

from taste2vec.learning.learner import (
    GateDecision,
    LearnerConfig,
    OnlineLearner,
    Publication,
    clone_model,
)
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import Coffee
from taste2vec.sim.learning.measure import noisy_copy


def _learner(tiny_model: Taste2Vec, catalogue: list[Coffee], validation, publish):  # type: ignore[no-untyped-def]
    return OnlineLearner(
        clone_model(tiny_model),
        catalogue,
        validation,
        config=LearnerConfig(gate_z=0.0),
        publish=publish,
    )


def test_a_published_candidate_is_not_served_here(
    tiny_model: Taste2Vec, better_model: Taste2Vec, catalogue: list[Coffee], sim_data
) -> None:  # type: ignore[no-untyped-def]
    _, validation = sim_data
    calls: list[tuple[Taste2Vec, GateDecision, OnlineLearner]] = []

    def publish(model: Taste2Vec, draft: GateDecision, learner: OnlineLearner) -> Publication:
        calls.append((model, draft, learner))
        return Publication("7", "challenger", swap=False)

    learner = _learner(tiny_model, catalogue, validation, publish)
    live = learner.holder.get()
    rejected = learner.promote(noisy_copy(live, 1.0))  # fails the gate: never published
    assert not rejected.passed and calls == []
    candidate = clone_model(better_model)
    decision = learner.promote(candidate)
    assert len(calls) == 1 and calls[0][0] is candidate and calls[0][2] is learner
    draft = calls[0][1]
    assert draft.candidate.auc > draft.live.auc  # the hook sees the gate's figures
    assert decision.published == Publication("7", "challenger", swap=False)
    assert decision.passed and not decision.promoted
    assert "version 7 as challenger" in decision.reason
    assert learner.holder.get() is live and learner.holder.version == 0  # nothing swapped
    assert (learner.stats.publications, learner.stats.promotions) == (1, 0)
    evidence = decision.evidence()
    assert evidence["candidate_auc"] == decision.candidate.auc
    assert evidence["auc_gain"] > 0


def test_a_publication_may_ask_for_the_swap(
    tiny_model: Taste2Vec, better_model: Taste2Vec, catalogue: list[Coffee], sim_data
) -> None:  # type: ignore[no-untyped-def]
    _, validation = sim_data

    def publish(model: Taste2Vec, draft: GateDecision, learner: OnlineLearner) -> Publication:
        return Publication("8", "champion", swap=True)

    learner = _learner(tiny_model, catalogue, validation, publish)
    candidate = clone_model(better_model)
    decision = learner.promote(candidate)
    assert decision.promoted and decision.published == Publication("8", "champion", swap=True)
    assert learner.holder.get() is candidate and learner.holder.version == 1


def test_a_failed_publication_keeps_the_live_model(
    tiny_model: Taste2Vec, better_model: Taste2Vec, catalogue: list[Coffee], sim_data
) -> None:  # type: ignore[no-untyped-def]
    _, validation = sim_data

    def publish(model: Taste2Vec, draft: GateDecision, learner: OnlineLearner) -> Publication:
        raise OSError("registry unreachable")

    learner = _learner(tiny_model, catalogue, validation, publish)
    live = learner.holder.get()
    decision = learner.promote(clone_model(better_model))
    assert not decision.passed and decision.published is None
    assert "publishing it failed: OSError: registry unreachable" in decision.reason
    assert learner.holder.get() is live and learner.holder.version == 0
    assert (learner.stats.publish_failures, learner.stats.publications) == (1, 0)
