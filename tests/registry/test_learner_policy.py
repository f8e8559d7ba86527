"""The online learner's candidates in the registry (T2V_LEARNER_POLICY), embedded backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from taste2vec.learning.learner import LearnerConfig, OnlineLearner, Publication, clone_model
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.registry import ModelRegistry
from taste2vec.registry.learner import RegistryPublisher
from taste2vec.schema import Coffee
from taste2vec.store import create_store
from tests.learning.conftest import better_model, catalogue, sim_data, tiny_model

__all__ = ["better_model", "catalogue", "sim_data", "tiny_model"]  # fixtures used below


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[ModelRegistry]:
    with create_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        yield ModelRegistry(
            f"sqlite:///{tmp_path / 'mlflow.db'}", store, name="learner", cache_dir=tmp_path / "c"
        )


def _learner(tiny_model: Taste2Vec, catalogue: list[Coffee], validation, publish):  # type: ignore[no-untyped-def]
    return OnlineLearner(
        clone_model(tiny_model),
        catalogue,
        validation,
        config=LearnerConfig(gate_z=0.0),
        publish=publish,
    )


def test_policy_experiment_registers_the_candidate_as_challenger(
    registry: ModelRegistry,
    tiny_model: Taste2Vec,
    tiny_model_dir: Path,
    better_model: Taste2Vec,
    catalogue: list[Coffee],
    sim_data,  # type: ignore[no-untyped-def]
) -> None:
    stream, validation = sim_data
    base, _ = registry.register(tiny_model_dir, actor="ci")
    registry.promote(base.version, actor="ci")
    publisher = RegistryPublisher(registry, "experiment", base_dir=lambda: tiny_model_dir)
    learner = _learner(tiny_model, catalogue, validation, publisher)
    for x in stream[:40]:
        learner.observe(x)
    live = learner.holder.get()
    decision_model = clone_model(better_model)
    decision = learner.promote(decision_model)

    assert decision.published is not None and not decision.promoted
    version = decision.published.version
    assert decision.published == Publication(version, "challenger", swap=False)
    assert learner.holder.get() is live  # an experiment decides; nothing served changed
    assert registry.aliases() == {"champion": base.version, "challenger": version}
    info = registry.version(version)
    assert info.registered_by == "online-learner" and info.weights_version != base.weights_version
    # the evaluation metrics: the gate's figures, as run metrics
    assert info.metrics["online_gate.candidate_auc"] == pytest.approx(decision.candidate.auc)
    assert info.metrics["online_gate.live_auc"] == pytest.approx(decision.live.auc)
    assert info.metrics["online_gate.auc_gain"] > 0
    # the data fingerprint chains the base model's with the reactions the learner holds
    base_fp = json.loads((tiny_model_dir / "data.json").read_text())["fingerprint"]
    data = json.loads((registry.download(version) / "model" / "data.json").read_text())
    assert info.data_fingerprint == data["fingerprint"] != base_fp
    assert data["base_data_fingerprint"] == base_fp
    assert data["feedback_fingerprint"] == learner.data_fingerprint()
    assert data["feedback_in_buffer"] == len(learner.buffer) == 40
    # the move is in the audit log, with the gate's evidence
    event = registry.history("challenger")[0]
    assert (event.action, event.actor, event.new_version) == ("promote", "online-learner", version)
    assert event.evidence["candidate_auc"] == pytest.approx(decision.candidate.auc)
    assert "experiment" in event.reason
    # its drift reference: the candidate's embeddings of the learner's catalogue
    stats = json.loads((registry.download(version) / "model" / "embedding_stats.json").read_text())
    emb = learner.embeddings(decision_model)
    assert stats["n"] == len(emb) and stats["centroid"] == pytest.approx(emb.mean(0), abs=1e-6)
    # the saved candidate is the candidate: it loads with the same weights
    assert (
        Taste2Vec.load(registry.download(version) / "model", text_encoder=live.text_encoder)
        .net.state_dict()
        .keys()
        == live.net.state_dict().keys()
    )


def test_policy_promote_moves_champion_and_may_swap(
    registry: ModelRegistry,
    tiny_model: Taste2Vec,
    tiny_model_dir: Path,
    better_model: Taste2Vec,
    catalogue: list[Coffee],
    sim_data,  # type: ignore[no-untyped-def]
) -> None:
    _, validation = sim_data
    base, _ = registry.register(tiny_model_dir, actor="ci")
    registry.promote(base.version, actor="ci")
    publisher = RegistryPublisher(registry, "promote", base_dir=lambda: tiny_model_dir)
    learner = _learner(tiny_model, catalogue, validation, publisher)
    candidate = clone_model(better_model)
    decision = learner.promote(candidate)
    assert decision.promoted and decision.published is not None
    assert decision.published.alias == "champion" and decision.published.swap
    assert learner.holder.get() is candidate
    assert registry.aliases() == {"champion": decision.published.version}
    assert registry.rollback_target() == base.version  # an ordinary, reversible move

    follower = RegistryPublisher(registry, "promote", swap_on_promote=False)
    learner2 = _learner(tiny_model, catalogue, validation, follower)
    live = learner2.holder.get()
    again = learner2.promote(clone_model(better_model))
    # same weights: the existing version, no new one; not swapped (a follower loads it)
    assert again.published is not None and not again.published.swap
    assert again.published.version == decision.published.version
    assert learner2.holder.get() is live


def test_the_policy_must_name_a_registry_action(registry: ModelRegistry) -> None:
    with pytest.raises(ValueError, match="off"):
        RegistryPublisher(registry, "off")


@pytest.mark.slow
def test_a_promoted_candidate_reaches_a_service_following_the_registry(
    tmp_path: Path,
    tiny_model_dir: Path,
    minilm,  # type: ignore[no-untyped-def]
) -> None:
    """policy promote + T2V_MODEL_SOURCE=registry: the learner's process does not swap
    the candidate itself; its follower loads the new champion like every replica."""
    import numpy as np

    from taste2vec.learning import GateDecision, LearnerLease
    from taste2vec.registry import RegistryModelSource
    from taste2vec.service import TasteService, seed_demo

    with create_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        seed_demo(store, tmp_path / "keys.json")
        registry = ModelRegistry(
            f"sqlite:///{tmp_path / 'mlflow.db'}", store, name="svc", cache_dir=tmp_path / "c"
        )
        base, _ = registry.register(tiny_model_dir, actor="ci")
        registry.promote(base.version, actor="ci")
        source = RegistryModelSource(
            registry, loader=lambda p: Taste2Vec.load(p, text_encoder=minilm), poll_s=0.0
        )
        publisher = RegistryPublisher(
            registry, "promote", base_dir=lambda: source.path, swap_on_promote=False
        )
        lease = LearnerLease(f"sqlite:///{tmp_path / 'store.db'}")
        service = TasteService(
            store,
            source.load(),
            online_learning=True,
            model_source=source,
            learner_publish=publisher,
            learner_lease=lease,
        )
        try:
            assert service.background is not None
            learner = service.background.learner
            assert learner.publish is publisher
            candidate = clone_model(service.model)
            with np.errstate(all="ignore"):
                for p in candidate.net.parameters():
                    p.data.mul_(1.01)
            live_score, cand_score = learner.evaluate(service.model), learner.evaluate(candidate)
            draft = GateDecision(False, "passed the gate", live_score, cand_score, 0, 1.0, 1.0)
            published = publisher(candidate, draft, learner)
            assert published.alias == "champion" and not published.swap
            new = registry.version(published.version)
            assert service.model_version == base.weights_version  # not swapped by the learner
            assert service.reload_model()  # what the follower does every 0.5 s
            assert service.model_version == new.weights_version != base.weights_version
            assert source.registry_version == published.version
            assert registry.history("champion")[0].actor == "online-learner"
        finally:
            service.close()
