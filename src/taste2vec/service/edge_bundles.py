"""Which edge bundles the app can download, for an alias or a model version: what
``GET /v1/models/edge[/{alias}]`` serves (the router only turns it into HTTP).

- ``champion`` and ``challenger`` resolve through the model registry: the bundles stored in
  the version the alias points at, downloaded and checksum-verified (a corrupt version
  raises :class:`~taste2vec.registry.ChecksumError`);
- ``current`` is the model this process serves: its registry version's bundles when it
  follows the registry (``T2V_MODEL_SOURCE=registry``), else the edge folder's bundles of
  its weights version;
- ``latest``, any alias given to ``taste2vec export --alias``, or a model version itself
  come from the edge folder beside the model directory, where ``taste2vec export`` writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taste2vec.edge.registry import BundleFolder, EdgeRegistry
from taste2vec.errors import StoreError
from taste2vec.registry import ALIASES, ChecksumError, ModelRegistry

__all__ = ["CURRENT", "EdgeBundles", "EdgeCatalogue", "EdgeVersion"]

CURRENT = "current"


@dataclass(frozen=True)
class EdgeVersion:
    """A model version with bundles, the aliases that name it, and where they are."""

    model_version: str
    aliases: list[str]
    folder: BundleFolder


@dataclass(frozen=True)
class EdgeCatalogue:
    """Every model version with edge bundles. ``registry_error``: why the model registry's
    aliases are missing from it (unreachable, a corrupt version), None when listed."""

    serving: str
    versions: list[EdgeVersion]
    registry_error: str | None


class EdgeBundles:
    """The edge folder (``edge``), the model registry (``models``) and what this process
    serves (``serving``: its model version, None while starting; ``source``: its model
    source, whose ``registry_version`` and ``path`` say whether it follows the registry)."""

    def __init__(
        self, edge: EdgeRegistry, models: ModelRegistry, serving: str | None, source: Any = None
    ) -> None:
        self.edge = edge
        self.models = models
        self.serving = serving
        self.source = source

    def from_model_registry(self, alias: str) -> BundleFolder | None:
        """The bundles stored in the registry version ``alias`` points at (downloaded and
        verified; cached by the registry). None while the alias is unset; raises
        :class:`ChecksumError` naming the version when its files are corrupt."""
        ref = self.models.resolve(alias)
        if ref is None:
            return None
        try:
            root = self.models.download(ref.version)
        except ChecksumError as exc:
            why = f"registry version {ref.version} ({alias}) is corrupt: {exc}"
            raise ChecksumError(why) from exc
        return BundleFolder(root / "edge", ref.weights_version)

    def folder(self, alias: str) -> BundleFolder | None:
        """Where ``alias``'s bundles are (module docstring); None when it is unknown."""
        if alias in ALIASES:
            return self.from_model_registry(alias)
        if alias == CURRENT:
            if not self.serving:
                return None
            if getattr(self.source, "registry_version", None) is not None:  # follows the registry
                return BundleFolder(Path(self.source.path).parent / "edge", self.serving)
            return self.edge.folder(self.serving) if self.edge.formats(self.serving) else None
        found = self.edge.resolve(alias)
        return None if found is None else self.edge.folder(found)

    def known(self) -> list[str]:
        """The edge folder's aliases and versions (for a "not found" hint)."""
        return sorted({*self.edge.aliases(), *self.edge.versions()})

    def catalogue(self) -> EdgeCatalogue:
        """Every version with bundles: the edge folder's, and those of the registry
        versions ``champion`` and ``challenger`` point at, with their aliases (``current``
        on the one this process serves)."""
        aliases: dict[str, list[str]] = {}
        for alias, version in self.edge.aliases().items():
            aliases.setdefault(version, []).append(alias)
        folders = {v: self.edge.folder(v) for v in self.edge.versions()}
        registry_error = None
        for alias in ALIASES:
            try:
                folder = self.from_model_registry(alias)
            except (StoreError, ChecksumError) as exc:
                registry_error = str(exc)
                continue
            if folder is not None and folder.formats():
                folders.setdefault(folder.model_version, folder)
                aliases.setdefault(folder.model_version, []).append(alias)
        serving = str(self.serving or "")
        versions = []
        for version, folder in sorted(folders.items()):
            names = sorted(aliases.get(version, []))
            if version == serving:
                names.append(CURRENT)
            versions.append(EdgeVersion(version, names, folder))
        return EdgeCatalogue(serving, versions, registry_error)
