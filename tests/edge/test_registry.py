"""The bundle registry on disk and the deterministic archive (no model needed)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from taste2vec.edge.registry import EdgeRegistry, pack_bundle
from taste2vec.edge.runtime import BundleFiles, parse_checksums, render_checksums
from taste2vec.edge.spec import CHECKSUM_FILE, METADATA_FILE, format_name
from taste2vec.errors import ArtifactError


def members() -> dict[str, bytes]:
    body = {METADATA_FILE: b"{}", "model.onnx": b"\x00\x01", "vocab.json": b"[]"}
    return {**body, CHECKSUM_FILE: render_checksums(body).encode()}


def test_archive_is_deterministic_and_verified() -> None:
    a, b = pack_bundle(members()), pack_bundle(members())
    assert a == b
    files = BundleFiles.from_bytes(a)
    assert files.names() == sorted(members())
    assert parse_checksums(files.read(CHECKSUM_FILE).decode())["model.onnx"] == (
        hashlib.sha256(b"\x00\x01").hexdigest()
    )
    extra = {**members(), "extra.bin": b"!"}
    with pytest.raises(ArtifactError, match="unlisted files"):
        BundleFiles.from_bytes(pack_bundle(extra))


def test_register_resolve_and_aliases(tmp_path: Path) -> None:
    reg = EdgeRegistry(tmp_path / "edge")
    assert reg.resolve("latest") is None and reg.versions() == []
    e1 = reg.register("aaa111", "onnx", b"one", {"passed": True})
    e2 = reg.register("bbb222", "tflite-int8", b"two", {"passed": True}, ["latest", "beta"])
    assert reg.resolve("latest") == "bbb222" and reg.resolve("beta") == "bbb222"
    assert reg.resolve("aaa111") == "aaa111" and reg.resolve("nope") is None
    assert reg.resolve("../etc") is None
    assert reg.entry("aaa111", "onnx") == e1 and reg.entry("aaa111", "tflite") is None
    assert e2.etag == f'"{hashlib.sha256(b"two").hexdigest()}"' and e2.size == 3
    assert e2.path == tmp_path / "edge" / "bbb222" / "tflite-int8.t2vb"
    reg.set_alias("latest", "aaa111")
    assert reg.aliases() == {"latest": "aaa111", "beta": "bbb222"}
    assert not list((tmp_path / "edge").rglob(".*"))  # no temporary files left behind
    with pytest.raises(ArtifactError, match="invalid alias"):
        reg.set_alias("../x", "aaa111")
    with pytest.raises(ArtifactError, match="unknown edge format"):
        reg.register("aaa111", "coreml", b"")


def test_format_names() -> None:
    assert format_name("onnx", True) == "onnx-int8" and format_name("tflite", False) == "tflite"
    with pytest.raises(ValueError, match="unknown edge format"):
        format_name("coreml", False)
