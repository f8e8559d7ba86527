"""Where a service process gets its model: a model directory that others may replace.

``taste2vec train --out DIR`` writes a new model beside ``DIR`` and renames it into place
(:mod:`taste2vec.model.artifact`), so a reader sees the old model or the new one, never a
mix. :meth:`ModelSource.current_version` is cheap enough to call every
``T2V_FOLLOW_INTERVAL_S``: it hashes the weights only when their file's identity (inode,
size, modification time) changed since the last call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from taste2vec.model.artifact import weights_version
from taste2vec.model.taste2vec import Taste2Vec

__all__ = ["ModelSource", "ModelSourceLike"]


class ModelSourceLike(Protocol):
    """What a service needs from where its model comes from: a model directory
    (:class:`ModelSource`) or a registry alias (``taste2vec.registry.RegistryModelSource``)."""

    @property
    def path(self) -> Path: ...

    @property
    def version(self) -> str | None: ...

    def current_version(self) -> str | None: ...

    def load(self) -> Taste2Vec: ...


class ModelSource:
    """A model directory and how to load it (``loader``, default :meth:`Taste2Vec.load`)."""

    def __init__(self, path: Path, loader: Callable[[Path], Taste2Vec] | None = None) -> None:
        self.path = Path(path)
        self._loader = loader or Taste2Vec.load
        self._stat: tuple[int, int, int] | None = None
        self._version: str | None = None
        self.version = self.current_version()

    def current_version(self) -> str | None:
        """The weights' content hash now (None while no model is there)."""
        try:
            st = os.stat(self.path / "model.safetensors")
        except FileNotFoundError:
            return None
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if key != self._stat:
            self._version = weights_version(self.path)
            self._stat = key
        return self._version

    def load(self) -> Taste2Vec:
        return self._loader(self.path)
