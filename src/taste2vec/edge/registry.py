"""A minimal registry of edge bundles, stored next to the model directory.

Layout (every file is written to a temporary sibling and renamed into place, so a
reader never sees half a file)::

    artifacts/edge/
      <model_version>/<format>.t2vb    the bundle archives (zip)
      <model_version>/index.json       per format: file, sha256, size, created, parity
      aliases/<alias>.json             {"model_version": ..., "updated": ...}

``<model_version>`` is :func:`taste2vec.model.artifact.weights_version` of the
model directory, the same id the API reports as ``model_version``. ``latest``
points at the most recent export. Torch-free.

One version's folder (``index.json`` plus the archives) is a :class:`BundleFolder`; the
model registry stores exactly such a folder in each version (``taste2vec/edge/``, copied
from here by ``taste2vec model register``), and ``GET /v1/models/edge/champion`` serves
the one of the version the alias points at.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from taste2vec.edge.spec import CHECKSUM_FILE, FORMATS, METADATA_FILE, SUFFIX
from taste2vec.errors import ArtifactError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# A fixed timestamp for every zip member, so the same members give the same archive bytes.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def pack_bundle(members: Mapping[str, bytes]) -> bytes:
    """A deterministic zip: metadata first, checksums last, members sorted in between."""
    order = [METADATA_FILE, *sorted(set(members) - {METADATA_FILE, CHECKSUM_FILE}), CHECKSUM_FILE]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, members[name])
    return buf.getvalue()


@dataclass(frozen=True)
class BundleEntry:
    model_version: str
    format: str
    path: Path
    sha256: str
    size: int
    created: str

    @property
    def etag(self) -> str:
        """A strong ETag: the archive's SHA-256."""
        return f'"{self.sha256}"'


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_name(kind: str, value: str) -> str:
    if not NAME.match(value):
        raise ArtifactError(f"invalid {kind} {value!r}: letters, digits, '.', '_', '-' only")
    return value


def _read_index(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from exc
    return data if isinstance(data, dict) else {}


class BundleFolder:
    """The bundles of one model version: ``index.json`` and ``<format>.t2vb`` in ``folder``."""

    def __init__(self, folder: Path | str, model_version: str) -> None:
        self.folder = Path(folder)
        self.model_version = model_version

    def index(self) -> dict[str, Any]:
        return _read_index(self.folder / "index.json")

    def formats(self) -> dict[str, dict[str, Any]]:
        bundles = self.index().get("bundles", {})
        return dict(bundles) if isinstance(bundles, dict) else {}

    def entry(self, fmt: str) -> BundleEntry | None:
        info = self.formats().get(fmt)
        if info is None:
            return None
        path = self.folder / str(info["file"])
        if not path.is_file():
            return None
        return BundleEntry(
            self.model_version,
            fmt,
            path,
            str(info["sha256"]),
            int(info["size"]),
            str(info["created"]),
        )


class EdgeRegistry:
    """Bundles by model version and format, plus named aliases."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @classmethod
    def beside(cls, model_dir: Path | str) -> EdgeRegistry:
        """The registry that belongs to a model directory: ``<its parent>/edge``."""
        return cls(Path(model_dir).resolve().parent / "edge")

    # --------------------------------------------------------------------------- write
    def register(
        self,
        model_version: str,
        fmt: str,
        archive: bytes,
        parity: Mapping[str, Any] | None = None,
        aliases: Sequence[str] = ("latest",),
    ) -> BundleEntry:
        _check_name("model version", model_version)
        if fmt not in FORMATS:
            raise ArtifactError(f"unknown edge format {fmt!r}; known: {sorted(FORMATS)}")
        folder = self.root / model_version
        path = folder / f"{fmt}{SUFFIX}"
        _write_atomic(path, archive)
        entry = BundleEntry(
            model_version,
            fmt,
            path,
            hashlib.sha256(archive).hexdigest(),
            len(archive),
            datetime.now(UTC).isoformat(timespec="seconds"),
        )
        index = self.index(model_version)
        index["model_version"] = model_version
        index.setdefault("bundles", {})[fmt] = {
            "file": path.name,
            "sha256": entry.sha256,
            "size": entry.size,
            "created": entry.created,
            "parity": dict(parity or {}),
        }
        _write_atomic(folder / "index.json", _dump(index))
        for alias in aliases:
            self.set_alias(alias, model_version)
        return entry

    def set_alias(self, alias: str, model_version: str) -> None:
        _check_name("alias", alias)
        _check_name("model version", model_version)
        payload = {
            "model_version": model_version,
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _write_atomic(self.root / "aliases" / f"{alias}.json", _dump(payload))

    # ---------------------------------------------------------------------------- read
    def folder(self, model_version: str) -> BundleFolder:
        """The bundles of one model version."""
        version = _check_name("model version", model_version)
        return BundleFolder(self.root / version, version)

    def index(self, model_version: str) -> dict[str, Any]:
        return self.folder(model_version).index()

    def aliases(self) -> dict[str, str]:
        folder = self.root / "aliases"
        out: dict[str, str] = {}
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                out[path.stem] = str(json.loads(path.read_text())["model_version"])
            except (OSError, KeyError, TypeError, json.JSONDecodeError):
                continue
        return out

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and (p / "index.json").is_file()
        )

    def resolve(self, alias_or_version: str) -> str | None:
        """The model version an alias points at, or the version itself; None if unknown."""
        if not NAME.match(alias_or_version):
            return None
        aliases = self.aliases()
        if alias_or_version in aliases:
            return aliases[alias_or_version]
        if (self.root / alias_or_version / "index.json").is_file():
            return alias_or_version
        return None

    def formats(self, model_version: str) -> dict[str, dict[str, Any]]:
        return self.folder(model_version).formats()

    def entry(self, model_version: str, fmt: str) -> BundleEntry | None:
        return self.folder(model_version).entry(fmt)


def _dump(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True).encode("utf-8")
