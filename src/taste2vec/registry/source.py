"""A model source that follows a registry alias (``champion`` by default).

The same duck-typed interface as :class:`taste2vec.service.model_source.ModelSource`
(``version``, ``path``, :meth:`current_version`, :meth:`load`), so a
:class:`~taste2vec.service.TasteService` built with ``model_source=RegistryModelSource(...)``
and its follower swap the model in when the alias moves, on every replica, without a
restart (``T2V_MODEL_SOURCE=registry``).

Versions are the served weights' hash (``model_version`` in answers), as with a model
directory; the registry version number is :attr:`RegistryModelSource.registry_version`.

* :meth:`current_version` is polled every ``T2V_FOLLOW_INTERVAL_S`` (0.5 s). It asks
  MLflow at most once per ``poll_s`` (``T2V_REGISTRY_POLL_S``, default 1 s) and answers
  from that cache in between, so a flip reaches every replica within
  ``poll_s + follow interval`` plus the download and load of the new version.
* A registry that cannot be reached keeps the model that serves (the error is logged,
  the next poll tries again); the follower's other work goes on.
* A version whose download fails its checksums is refused: :meth:`load` raises
  :class:`~taste2vec.registry.checksums.ChecksumError` (the service keeps its model, the
  follower logs it), and :meth:`current_version` reports the served version for it until
  the alias moves elsewhere, so the follower does not download it again every poll.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from taste2vec.errors import ArtifactError, StoreError
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.registry.checksums import ChecksumError
from taste2vec.registry.core import CHAMPION, ModelRegistry, VersionRef, check_alias

__all__ = ["RegistryModelSource"]

log = logging.getLogger(__name__)


class RegistryModelSource:
    """The version ``alias`` points at, downloaded (verified) and loaded by ``loader``."""

    def __init__(
        self,
        registry: ModelRegistry,
        alias: str = CHAMPION,
        loader: Callable[[Path], Taste2Vec] | None = None,
        poll_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.alias = check_alias(alias)
        self.poll_s = poll_s
        self._loader = loader or Taste2Vec.load
        self._clock = clock
        self._checked_at: float | None = None
        self._ref: VersionRef | None = None
        self.refused: dict[str, str] = {}  # registry version -> why it was refused
        self.lookups = 0  # MLflow alias lookups made (the cache's effect is visible)
        self.failures = 0  # lookups that failed (registry unreachable)
        self.registry_version: str | None = None
        self.path: Path = registry.cache_dir
        self.version: str | None = None
        ref = self._lookup()  # at start a failure raises: there is no model to keep
        self.version = None if ref is None else ref.weights_version

    def _lookup(self) -> VersionRef | None:
        self.lookups += 1
        ref = self.registry.resolve(self.alias)
        self._ref, self._checked_at = ref, self._clock()
        return ref

    def current_version(self) -> str | None:
        """The weights hash of the version the alias points at (cached for ``poll_s``)."""
        now = self._clock()
        if self._checked_at is None or now - self._checked_at >= self.poll_s:
            try:
                self._lookup()
            except StoreError as exc:
                self.failures += 1
                self._checked_at = now
                log.warning("model registry unreachable, keeping model %s: %s", self.version, exc)
        ref = self._ref
        if ref is None:
            return None
        if ref.version in self.refused:
            return self.version
        return ref.weights_version

    def load(self) -> Taste2Vec:
        """Download (verified) and load the version the last :meth:`current_version`
        saw (resolved now when none was seen yet)."""
        ref = self._ref if self._checked_at is not None else self._lookup()
        if ref is None:
            raise ArtifactError(
                f"no version has the registry alias {self.alias!r} of model "
                f"{self.registry.name!r} at {self.registry.uri}; register and promote one: "
                f"taste2vec model register DIR --promote"
            )
        try:
            root = self.registry.download(ref.version)
        except ChecksumError as exc:
            self.refused[ref.version] = str(exc)
            log.error("refusing registry version %s: %s", ref.version, exc)
            raise
        model = self._loader(root / "model")
        self.path = root / "model"
        self.registry_version = ref.version
        self.version = ref.weights_version
        return model
