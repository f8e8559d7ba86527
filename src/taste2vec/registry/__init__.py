"""The model registry (issue 12): Taste2Vec versions in MLflow, the ``champion`` and
``challenger`` aliases with an audit log in the operational store, and a model source
that makes every service replica follow ``champion``. See docs/registry.md.

MLflow is imported only when a registry is first used (it takes seconds).
"""

from __future__ import annotations

from taste2vec.registry.checksums import ChecksumError
from taste2vec.registry.core import (
    ALIASES,
    CHALLENGER,
    CHAMPION,
    ModelRegistry,
    RegistryUnavailableError,
    UnknownAliasError,
    VersionInfo,
    VersionRef,
    open_registry,
)
from taste2vec.registry.source import RegistryModelSource

__all__ = [
    "ALIASES",
    "CHALLENGER",
    "CHAMPION",
    "ChecksumError",
    "ModelRegistry",
    "RegistryModelSource",
    "RegistryUnavailableError",
    "UnknownAliasError",
    "VersionInfo",
    "VersionRef",
    "open_registry",
]
