"""The model registry on the embedded backend (sqlite:/// + file artifact store)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taste2vec.errors import ArtifactError
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.registry import ChecksumError, ModelRegistry, RegistryModelSource
from taste2vec.service import TasteService, seed_demo
from taste2vec.service.follower import Follower
from taste2vec.store import Store, create_store
from tests.registry.flow import core_flow


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registry")


@pytest.fixture(scope="module")
def store(home: Path) -> Iterator[Store]:
    with create_store(f"sqlite:///{home / 'store.db'}") as opened:
        seed_demo(opened, home / "keys.json")  # a catalogue for the service to rank
        yield opened


def _registry(home: Path, store: Store, name: str, cache: str = "cache") -> ModelRegistry:
    return ModelRegistry(
        f"sqlite:///{home / 'mlflow.db'}", store, name=name, cache_dir=home / cache
    )


def test_register_list_aliases_history(
    home: Path, store: Store, tiny_model_dir: Path, second_model_dir: Path
) -> None:
    registry = _registry(home, store, "flow")
    core_flow(registry, tiny_model_dir, second_model_dir)
    assert (home / "mlartifacts").is_dir()  # the file artifact store beside mlflow.db


def test_downloads_are_verified_and_a_corrupt_artifact_is_refused(
    home: Path, store: Store, tiny_model_dir: Path, second_model_dir: Path
) -> None:
    registry = _registry(home, store, "corrupt")
    v1, _ = registry.register(tiny_model_dir, actor="ci")
    v2, _ = registry.register(second_model_dir, actor="ci")
    registry.promote(v1.version, actor="ci")
    root = registry.download(v1.version)
    assert sorted(p.name for p in (root / "model").iterdir()) == sorted(
        p.name for p in tiny_model_dir.iterdir()
    )
    # Corrupt v2's weights in the artifact store itself.
    stored = list(
        (home / "mlartifacts").rglob(f"{v2.run_id}/artifacts/taste2vec/model/model.safetensors")
    )
    assert len(stored) == 1
    stored[0].write_bytes(stored[0].read_bytes()[:-16] + b"\0" * 16)
    with pytest.raises(ChecksumError, match=r"model.safetensors \(sha256"):
        registry.download(v2.version)
    with pytest.raises(ChecksumError):
        registry.promote(v2.version, actor="ci", reason="should not land")
    assert registry.aliases() == {"champion": v1.version}
    assert [e.new_version for e in registry.history("champion")] == [v1.version]
    assert not (registry.cache_path(v2)).exists()

    # A corrupted cached copy is caught and downloaded again.
    (root / "model" / "scaler.json").write_text("{}")
    assert registry.download(v1.version) == root
    assert (root / "model" / "scaler.json").read_bytes() == (
        tiny_model_dir / "scaler.json"
    ).read_bytes()


def test_registry_source_follows_the_champion_and_refuses_a_corrupt_one(
    home: Path, store: Store, tiny_model_dir: Path, second_model_dir: Path, minilm: Any
) -> None:
    registry = _registry(home, store, "follow")
    v1, _ = registry.register(tiny_model_dir, actor="ci")
    v2, _ = registry.register(second_model_dir, actor="ci")
    registry.promote(v1.version, actor="ci")
    now = [0.0]
    source = RegistryModelSource(
        registry,
        loader=lambda path: Taste2Vec.load(path, text_encoder=minilm),
        poll_s=1.0,
        clock=lambda: now[0],
    )
    assert source.version == v1.weights_version
    model = source.load()
    assert source.registry_version == v1.version
    service = TasteService(store, model, model_source=source)  # type: ignore[arg-type]
    follower = Follower(service, interval_s=0.5)
    try:
        assert service.model_version == v1.weights_version
        follower.sync_once()
        assert follower.reloads == 0

        registry.promote(v2.version, actor="ci", reason="flip")
        lookups = source.lookups
        follower.sync_once()  # within poll_s: the cached lookup, no MLflow call
        assert source.lookups == lookups and service.model_version == v1.weights_version
        now[0] += 1.0
        follower.sync_once()
        assert service.model_version == v2.weights_version and follower.reloads == 1
        assert source.registry_version == v2.version
        served = service.model
        assert isinstance(served, Taste2Vec)

        # A corrupt champion: refused, the served model stays, no retry every poll.
        registry.rollback(actor="ci", reason="back to v1")
        now[0] += 1.0
        follower.sync_once()
        assert service.model_version == v1.weights_version
        serving = service.model
        run_files = (home / "mlartifacts").rglob(
            f"{v2.run_id}/artifacts/taste2vec/model/scaler.json"
        )
        next(run_files).write_text("{}")
        shutil.rmtree(registry.cache_path(v2))  # force a fresh download
        registry.store.record_alias_move(  # move the alias as another writer could
            registry.name, "champion", action="promote", previous_version=v1.version,
            new_version=v2.version, actor="ci", reason="to a corrupt version",
        )  # fmt: skip
        registry.reconcile("champion")
        now[0] += 1.0
        with pytest.raises(ChecksumError):
            follower.sync_once()
        assert service.model_version == v1.weights_version and service.model is serving
        assert v2.version in source.refused
        now[0] += 1.0
        follower.sync_once()  # the refused version is not tried again
        assert service.model_version == v1.weights_version
    finally:
        service.close()


def test_no_champion_is_a_clear_error(home: Path, store: Store) -> None:
    source = RegistryModelSource(_registry(home, store, "empty"))
    assert source.version is None and source.current_version() is None
    with pytest.raises(ArtifactError, match="taste2vec model register"):
        source.load()


def test_registries_sharing_a_cache_never_serve_each_others_versions(
    tmp_path: Path, tiny_model_dir: Path, second_model_dir: Path
) -> None:
    """Two registries (two URIs) whose version 1 holds other weights, one cache folder:
    each download is its own version 1, even when the other's copy is already cached
    (the CI failure of 2026-12-05: a test read another worker's version 2)."""
    cache = tmp_path / "shared-cache"
    with (
        create_store(f"sqlite:///{tmp_path / 'a.db'}") as store_a,
        create_store(f"sqlite:///{tmp_path / 'b.db'}") as store_b,
    ):
        first = ModelRegistry(f"sqlite:///{tmp_path / 'a' / 'mlflow.db'}", store_a, cache_dir=cache)
        second = ModelRegistry(
            f"sqlite:///{tmp_path / 'b' / 'mlflow.db'}", store_b, cache_dir=cache
        )
        a, _ = first.register(tiny_model_dir, actor="ci")
        b, _ = second.register(second_model_dir, actor="ci")
        assert a.version == b.version == "1" and a.weights_version != b.weights_version
        root_a = first.download(a.version)
        root_b = second.download(b.version)
        assert root_a != root_b and root_a.parent == root_b.parent == cache / "taste2vec"
        assert first.download(a.version) == root_a  # served from the cache
        assert first._weights_hash(root_a / "model") == a.weights_version
        assert second._weights_hash(root_b / "model") == b.weights_version
