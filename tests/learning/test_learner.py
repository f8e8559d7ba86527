"""OnlineLearner: trains a copy, replays, and its gate never swaps in a worse model."""

from __future__ import annotations

import math

import torch

from taste2vec.learning.holder import ModelHolder
from taste2vec.learning.learner import LearnerConfig, OnlineLearner, clone_model
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import Coffee
from taste2vec.sim.learning.measure import noisy_copy
from tests.learning.conftest import fb


def _weights(model: Taste2Vec) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.net.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _learner(model: Taste2Vec, catalogue: list[Coffee], validation, **cfg) -> OnlineLearner:  # type: ignore[no-untyped-def]
    return OnlineLearner(clone_model(model), catalogue, validation, config=LearnerConfig(**cfg))


def test_observe_refuses_held_out_unknown_and_duplicate_feedback(
    tiny_model: Taste2Vec, catalogue: list[Coffee], sim_data
) -> None:  # type: ignore[no-untyped-def]
    stream, validation = sim_data
    learner = _learner(tiny_model, catalogue, validation)
    held = next(iter(validation.held_out.values()))[0]
    assert not learner.observe(held)
    assert not learner.observe(fb("u", "not-a-coffee"))
    assert learner.observe(stream[0]) and not learner.observe(stream[0])
    s = learner.stats
    assert (s.observed, s.refused_held_out, s.refused_unknown_coffee, s.duplicates) == (1, 1, 1, 1)
    assert held.id not in learner.buffer


def test_step_trains_a_copy_and_replays_only_after_100_items(
    tiny_model: Taste2Vec, catalogue: list[Coffee], sim_data
) -> None:  # type: ignore[no-untyped-def]
    stream, validation = sim_data
    stream = sorted(stream, key=lambda x: x.user)  # whole histories first: pairs from the start
    learner = _learner(tiny_model, catalogue, validation, lr=1e-3, batch_size=32)
    live = learner.holder.get()
    before = _weights(live)
    for x in stream[:60]:
        learner.observe(x)
    first = learner.step()
    assert first is not None and first.replayed == 0 and first.recent == 32
    assert _same(before, _weights(live))  # the live model is never trained
    assert not _same(before, _weights(learner.candidate()))
    assert learner.holder.version == 0
    for x in stream[60:130]:
        learner.observe(x)
    second = learner.step()
    assert second is not None and second.recent == 16 and second.replayed == 16
    assert learner.step() is not None  # nothing recent: a replay-only update
    assert learner.stats.steps == 3


def test_gate_rejects_noisy_tied_and_broken_candidates(
    tiny_model: Taste2Vec, catalogue: list[Coffee], sim_data
) -> None:  # type: ignore[no-untyped-def]
    _, validation = sim_data
    learner = _learner(tiny_model, catalogue, validation)
    live = learner.holder.get()
    noisy = learner.promote(noisy_copy(live, 1.0))
    assert not noisy.promoted
    assert noisy.candidate_content > noisy.live_content  # weight noise wrecks the heads
    tie = learner.promote(clone_model(live))
    assert not tie.promoted and tie.reason.startswith("tie")
    broken = clone_model(live)
    with torch.no_grad():
        broken.net.fusion.weight.fill_(math.nan)
    nan = learner.promote(broken)
    assert not nan.promoted and math.isnan(nan.candidate.auc)
    assert learner.promote().reason == "no candidate"
    assert learner.holder.version == 0 and learner.holder.get() is live


def test_gate_only_ever_promotes_strictly_better_models(
    tiny_model: Taste2Vec, catalogue: list[Coffee], sim_data
) -> None:  # type: ignore[no-untyped-def]
    stream, validation = sim_data
    learner = _learner(tiny_model, catalogue, validation, lr=1e-3, gate_z=0.0)
    live_scores = [learner.evaluate(learner.holder.get()).auc]
    for i, x in enumerate(stream, start=1):
        learner.observe(x)
        if i % 48:
            continue
        learner.step()
        version = learner.holder.version
        decision = learner.promote()
        if decision.promoted:
            assert decision.candidate.auc > decision.live.auc
            assert learner.holder.version == decision.version == version + 1
            assert learner.evaluate(learner.holder.get()).auc == decision.candidate.auc
            assert learner.candidate() is not learner.holder.get()  # never trained again
            live_scores.append(decision.candidate.auc)
        else:
            assert learner.holder.version == version
    assert learner.stats.promotions >= 1
    assert live_scores == sorted(live_scores) and len(set(live_scores)) == len(live_scores)


def test_a_candidate_from_a_stale_live_version_is_not_promoted(
    tiny_model: Taste2Vec, catalogue: list[Coffee], sim_data
) -> None:  # type: ignore[no-untyped-def]
    stream, validation = sim_data
    holder = ModelHolder(clone_model(tiny_model))
    learner = OnlineLearner(holder, catalogue, validation, lr=1e-3)
    for x in stream[:64]:
        learner.observe(x)
    learner.step()
    holder.swap(clone_model(holder.get()))  # someone else publishes version 1
    decision = learner.promote()
    assert not decision.promoted and "changed" in decision.reason
    assert holder.version == 1


def test_learning_is_deterministic_under_the_seed(
    tiny_model: Taste2Vec, catalogue: list[Coffee], sim_data
) -> None:  # type: ignore[no-untyped-def]
    stream, validation = sim_data
    stream = sorted(stream, key=lambda x: x.user)
    runs = []
    for _ in range(2):
        learner = _learner(tiny_model, catalogue, validation, lr=1e-3, seed=5)
        losses = []
        for i, x in enumerate(stream[:300], start=1):
            learner.observe(x)
            if i % 50 == 0:
                result = learner.step()
                assert result is not None
                losses.append(result.loss_last)
        runs.append((losses, _weights(learner.candidate())))
    assert runs[0][0] == runs[1][0]
    assert _same(runs[0][1], runs[1][1])


def test_a_catalogue_larger_than_the_content_batch_is_sampled(
    tiny_model: Taste2Vec, catalogue: list[Coffee], sim_data
) -> None:  # type: ignore[no-untyped-def]
    """Above ``content_batch`` coffees a step's content term sees a fresh sample of them,
    and above ``gate_content_rows`` the gate compares on one fixed sample: a step's memory
    does not grow with the catalogue. Training stays deterministic under the seed."""
    stream, validation = sim_data
    cfg = {"lr": 1e-3, "seed": 5, "content_batch": 16, "gate_content_rows": 32}
    small = _learner(tiny_model, catalogue, validation, **cfg)
    a, b = small._content_sample(16), small._content_sample(16)
    assert a is not None and b is not None and len(a) == len(b) == 16
    assert torch.equal(a, torch.unique(a)) and not torch.equal(a, b)  # sorted, distinct, fresh
    assert small._content_sample(len(catalogue)) is None  # not larger: every row, no draw
    gate = small._gate_rows
    assert gate is not None and len(gate) == 32
    other = _learner(tiny_model, catalogue, validation, **cfg)
    assert other._gate_rows is not None and torch.equal(gate, other._gate_rows)
    everything = _learner(tiny_model, catalogue, validation, lr=1e-3, seed=5)
    assert everything._gate_rows is None  # the demo catalogue is below the default 2,048
    runs = []
    for _ in range(2):
        learner = _learner(tiny_model, catalogue, validation, **cfg)
        for x in stream[:200]:
            learner.observe(x)
        result = learner.step()
        assert result is not None and math.isfinite(result.loss_last)
        decision = learner.promote()
        assert math.isfinite(decision.live_content) and math.isfinite(decision.candidate_content)
        runs.append(_weights(learner.candidate()))
    assert _same(runs[0], runs[1])
