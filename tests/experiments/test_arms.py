"""Per-arm serving in one service process (``service.arms.ArmRouter``): treatment users
get the treatment model, everyone else the champion; a treatment whose artifact turns
out corrupt is not served and changes nothing; the end of the experiment ends routing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taste2vec.experiments.assignment import arm_of
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.registry import ChecksumError, ModelRegistry
from taste2vec.service import TasteService, seed_demo
from taste2vec.service.arms import ArmRouter
from taste2vec.service.experiments import create_experiment, stop_experiment
from taste2vec.store import Store, create_store


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("arms")


@pytest.fixture(scope="module")
def store(home: Path) -> Iterator[Store]:
    with create_store(f"sqlite:///{home / 'store.db'}") as opened:
        seed_demo(opened, home / "keys.json")
        yield opened


def test_users_are_served_by_their_arm_and_a_corrupt_treatment_is_not_served(
    home: Path, store: Store, tiny_model_dir: Path, other_model_dir: Path, minilm: Any
) -> None:
    registry = ModelRegistry(
        f"sqlite:///{home / 'mlflow.db'}", store, name="arms", cache_dir=home / "cache"
    )
    v1, _ = registry.register(tiny_model_dir, actor="ci")
    v2, _ = registry.register(other_model_dir, actor="ci")
    registry.promote(v1.version, actor="ci")

    def load(path: Path) -> Taste2Vec:
        return Taste2Vec.load(path, text_encoder=minilm)

    service = TasteService(store, load(tiny_model_dir))
    service.model_version = v1.weights_version
    router = ArmRouter(service, registry, load)
    service.arms = router
    router.sync_once()
    assert router.treatment is None and service.recommend_served("u1", 3)[0] is None

    exp = create_experiment(registry, treatment_version=v2.version, treatment_share=0.5, actor="ci")
    router.sync_once()
    assert router.treatment is not None and router.treatment.version == v2.version
    users = [f"user-{i}" for i in range(20)]
    for user in users:
        assignment, items = service.recommend_served(user, 3)
        assert assignment is not None and items
        assert assignment.experiment == exp.id
        assert assignment.arm == arm_of(exp.salt, user, 0.5)
        want = v2.weights_version if assignment.arm == "treatment" else v1.weights_version
        assert assignment.model_version == want
    assert {service.recommend_served(u, 3)[0].arm for u in users} == {"control", "treatment"}  # type: ignore[union-attr]
    stop_experiment(registry, exp.id, actor="ci")
    router.sync_once()
    assert router.treatment is None and service.recommend_served(users[0], 3)[0] is None

    # A treatment whose stored artifact is corrupt: refused, nothing is served from it.
    stored = list(
        (home / "mlartifacts").rglob(f"{v2.run_id}/artifacts/taste2vec/model/model.safetensors")
    )
    assert len(stored) == 1
    shutil.rmtree(registry.cache_path(v2))  # the verified copy is gone too
    stored[0].write_bytes(stored[0].read_bytes()[:-16] + b"\0" * 16)
    with pytest.raises(ChecksumError):
        registry.download(v2.version)
    before = registry.aliases()
    with pytest.raises(ChecksumError):
        create_experiment(registry, treatment_version=v2.version, actor="ci")
    assert registry.aliases() == before and store.active_experiment("arms") is None
    # ... and one that went corrupt after its experiment started is not served
    late = store.create_experiment(
        experiment_id="late",
        model_name="arms",
        control_version=v1.version,
        treatment_version=v2.version,
        treatment_share=0.5,
        salt="s",
        config={},
        created_by="ci",
    )
    router.sync_once()
    assert router.treatment is None and v2.version in router.refused
    assert service.recommend_served(users[0], 3)[0] is None
    assert store.get_experiment(late.id).status == "running"
