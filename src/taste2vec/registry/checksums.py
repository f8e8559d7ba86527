"""SHA-256 manifests: every file of a registered version, checked on every download.

A manifest maps each file's path (relative, ``/``-separated) to its SHA-256. The
registry stores it twice: as the artifact ``checksums.json`` beside the files, and its
own SHA-256 as a model-version tag, so a manifest altered in the artifact store is
caught as well as an altered file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from taste2vec.errors import ArtifactError

MANIFEST = "checksums.json"

__all__ = ["MANIFEST", "ChecksumError", "file_sha256", "manifest_bytes", "manifest_of", "verify"]


class ChecksumError(ArtifactError):
    """A downloaded artifact does not match the checksums it was registered with."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest_of(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every regular file under ``root`` (the manifest
    itself excluded), sorted."""
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)
    return {p.relative_to(root).as_posix(): file_sha256(p) for p in files}


def manifest_bytes(manifest: Mapping[str, str]) -> bytes:
    """The canonical bytes of a manifest (sorted keys, no spaces), what its tag hashes."""
    return json.dumps(dict(manifest), sort_keys=True, separators=(",", ":")).encode("utf-8")


def verify(root: Path, expected_manifest_sha256: str, what: str) -> dict[str, str]:
    """Check ``root`` against its ``checksums.json`` and that manifest against the SHA-256
    the registry recorded. Raises :class:`ChecksumError` naming every bad file."""
    root = Path(root)
    path = root / MANIFEST
    try:
        raw = path.read_bytes()
        manifest = json.loads(raw)
    except (OSError, json.JSONDecodeError) as exc:
        raise ChecksumError(
            f"{what}: no readable {MANIFEST} ({exc}); the artifact is corrupt"
        ) from None
    if not isinstance(manifest, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in manifest.items()
    ):
        raise ChecksumError(f"{what}: {MANIFEST} is not a {{path: sha256}} object")
    if hashlib.sha256(manifest_bytes(manifest)).hexdigest() != expected_manifest_sha256:
        raise ChecksumError(
            f"{what}: {MANIFEST} does not match the checksum recorded at registration; "
            "the artifact store was altered"
        )
    actual = manifest_of(root)
    problems = [f"{name} (missing)" for name in sorted(set(manifest) - set(actual))]
    problems += [f"{name} (not registered)" for name in sorted(set(actual) - set(manifest))]
    problems += [
        f"{name} (sha256 {actual[name][:12]}..., registered {manifest[name][:12]}...)"
        for name in sorted(set(actual) & set(manifest))
        if actual[name] != manifest[name]
    ]
    if problems:
        raise ChecksumError(f"{what}: corrupt artifact, checksum mismatch: {'; '.join(problems)}")
    return dict(manifest)
