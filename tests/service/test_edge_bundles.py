"""``service.edge_bundles.EdgeBundles``: which bundles an alias names, without HTTP (the
routes in ``api/routes/models.py`` only translate it; ``tests/edge/test_api.py`` and
``tests/registry/test_edge.py`` cover them end to end with real bundles)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from taste2vec.edge.registry import EdgeRegistry
from taste2vec.registry import ChecksumError
from taste2vec.service.edge_bundles import EdgeBundles

PARITY = {"passed": True}


class _Models:
    """A model registry stub: ``champion`` points at a version whose files are ``root``."""

    def __init__(self, root: Path | None, corrupt: bool = False) -> None:
        self.root, self.corrupt = root, corrupt

    def resolve(self, alias: str) -> Any:
        if alias != "champion" or self.root is None:
            return None
        return SimpleNamespace(version="3", weights_version="cafe00000003")

    def download(self, version: str) -> Path:
        if self.corrupt:
            raise ChecksumError("model.pt: sha256 differs")
        assert self.root is not None
        return self.root


def _stored(tmp_path: Path, where: Path) -> None:
    """One version's bundles as a registry version stores them: ``<where>/edge``."""
    EdgeRegistry(tmp_path / "staging").register("cafe00000003", "onnx", b"three", PARITY, [])
    shutil.copytree(tmp_path / "staging" / "cafe00000003", where / "edge")


def _edge(tmp_path: Path) -> EdgeRegistry:
    edge = EdgeRegistry(tmp_path / "edge")
    edge.register("aaaa00000001", "onnx", b"one", PARITY, ["latest"])
    edge.register("bbbb00000002", "onnx", b"two", PARITY, ["old"])
    return edge


def test_aliases_of_the_edge_folder_the_registry_and_current(tmp_path: Path) -> None:
    stored = tmp_path / "registry-v3"
    _stored(tmp_path, stored)
    bundles = EdgeBundles(_edge(tmp_path), _Models(stored), "aaaa00000001")  # type: ignore[arg-type]

    def version(alias: str) -> str | None:
        found = bundles.folder(alias)
        return None if found is None else found.model_version

    assert version("latest") == "aaaa00000001"
    assert version("bbbb00000002") == "bbbb00000002"
    assert version("current") == "aaaa00000001"
    assert version("champion") == "cafe00000003"
    assert version("challenger") is None and version("nothing") is None
    assert bundles.known() == ["aaaa00000001", "bbbb00000002", "latest", "old"]

    cat = bundles.catalogue()
    assert cat.serving == "aaaa00000001" and cat.registry_error is None
    assert [(v.model_version, v.aliases) for v in cat.versions] == [
        ("aaaa00000001", ["latest", "current"]),
        ("bbbb00000002", ["old"]),
        ("cafe00000003", ["champion"]),
    ]


def test_current_follows_the_registry_version_served(tmp_path: Path) -> None:
    served = tmp_path / "cache" / "v3"
    _stored(tmp_path, served)
    source = SimpleNamespace(registry_version="3", path=str(served / "model"))
    bundles = EdgeBundles(_edge(tmp_path), _Models(None), "cafe00000003", source)  # type: ignore[arg-type]
    found = bundles.folder("current")
    assert found is not None and found.formats() and found.model_version == "cafe00000003"
    starting = EdgeBundles(_edge(tmp_path), _Models(None), None)  # type: ignore[arg-type]
    assert starting.folder("current") is None


def test_a_corrupt_registry_version_is_named(tmp_path: Path) -> None:
    bundles = EdgeBundles(_edge(tmp_path), _Models(tmp_path, corrupt=True), None)  # type: ignore[arg-type]
    with pytest.raises(ChecksumError, match=r"registry version 3 \(champion\) is corrupt"):
        bundles.folder("champion")
    cat = bundles.catalogue()  # listed without the registry's versions, with the reason
    assert cat.registry_error is not None and "is corrupt" in cat.registry_error
    assert [v.model_version for v in cat.versions] == ["aaaa00000001", "bbbb00000002"]
