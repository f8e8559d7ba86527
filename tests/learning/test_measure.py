"""The proof on SIMULATED subscribers: learning moves ranking up, the gate stops broken models.

The effect is small on this simulator (the content embedding is already close to what the
closed-form user vector can use; see docs in ``taste2vec.sim.learning.measure``), so the hard
assertions are the ones the design guarantees: every promotion raises the validation AUC,
broken candidates never pass, the caller's model is untouched. The honest test slice is
only required not to get materially worse here; the measured gains across seeds on the
trained model are reported by ``python -m taste2vec.sim.learning.measure``.
"""

from __future__ import annotations

import pytest
import torch

from taste2vec.learning.learner import LearnerConfig
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import Coffee
from taste2vec.sim.learning.measure import PersonalisationConfig, measure_personalisation

pytestmark = pytest.mark.slow


def test_learning_improves_validation_and_the_gate_rejects_broken_models(
    tiny_model: Taste2Vec, catalogue: list[Coffee]
) -> None:
    before = {k: v.clone() for k, v in tiny_model.net.state_dict().items()}
    config = PersonalisationConfig(n_users=200, learner=LearnerConfig(lr=1e-3))
    report = measure_personalisation(tiny_model, catalogue, config)
    print(report.to_markdown())  # shown with pytest -s: the numbers behind the claim
    assert report.promotions >= 1
    assert report.end_validation.auc > report.start_validation.auc
    assert report.end_test.auc > report.start_test.auc - 0.01
    assert report.random_test.auc < report.end_test.auc < report.oracle_test.auc
    for decision in (report.noisy_gate, report.lr10_gate):
        assert not decision.promoted
        assert decision.candidate_content > decision.live_content
    assert all(torch.equal(before[k], v) for k, v in tiny_model.net.state_dict().items())
