"""Shared set-up of the controller tests: a registry with a champion and a challenger
version, and decision settings that decide on a few hundred simulated users."""

from __future__ import annotations

from pathlib import Path

from taste2vec.registry import ModelRegistry
from taste2vec.store import Store

#: Decision settings small enough for simulated traffic of a few hundred users.
FAST = {"min_users_per_arm": 50, "min_duration_s": 0, "tuning": 2000}


def registry_in(home: Path, store: Store, name: str) -> ModelRegistry:
    """The model registry ``name`` with its MLflow database and cache under ``home``."""
    return ModelRegistry(
        f"sqlite:///{home / 'mlflow.db'}", store, name=name, cache_dir=home / "cache"
    )


def two_versions(
    home: Path, store: Store, name: str, v1_dir: Path, v2_dir: Path
) -> tuple[ModelRegistry, str, str]:
    """``v1_dir`` registered and promoted champion, ``v2_dir`` registered; their versions."""
    registry = registry_in(home, store, name)
    v1, _ = registry.register(v1_dir, actor="ci")
    v2, _ = registry.register(v2_dir, actor="ci")
    registry.promote(v1.version, actor="ci", reason="first champion")
    return registry, v1.version, v2.version
