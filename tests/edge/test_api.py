"""GET /v1/models/edge[/{alias}]: the app downloads a bundle, with ETag and 304."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from taste2vec.api import create_app
from taste2vec.edge.parity import ParityReport
from taste2vec.edge.registry import EdgeRegistry
from taste2vec.edge.runtime import BundleFiles, EdgeRuntime
from taste2vec.model.artifact import weights_version
from tests.api.conftest import ADMIN, make_settings

pytestmark = [pytest.mark.xdist_group("edge")]

Bundles = dict[str, tuple[Path, ParityReport]]
SERVED = ("onnx-int8", "tflite-int8")


@pytest.fixture(scope="module")
def client(
    edge_bundles: Bundles, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("edge-api")
    settings = make_settings(tmp, tiny_model_dir)
    registry = EdgeRegistry.beside(settings.model_dir)
    version = weights_version(settings.model_dir)
    for fmt in SERVED:
        path, report = edge_bundles[fmt]
        registry.register(version, fmt, path.read_bytes(), report.to_dict(), ["latest", "beta"])
    registry.register("0123456789ab", "onnx", edge_bundles["onnx"][0].read_bytes(), {}, ["old"])
    with TestClient(create_app(settings)) as c:
        c.keys = json.loads((tmp / "demo-keys.json").read_text())  # type: ignore[attr-defined]
        yield c


def user(client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.keys['demo-ana']}"}  # type: ignore[attr-defined]


def test_download_runs_in_the_reference_runtime(client: TestClient, edge_bundles: Bundles) -> None:
    r = client.get("/v1/models/edge/latest", params={"format": "onnx-int8"}, headers=user(client))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    digest = hashlib.sha256(r.content).hexdigest()
    assert r.headers["etag"] == f'"{digest}"'
    assert r.content == edge_bundles["onnx-int8"][0].read_bytes()
    assert r.headers["x-edge-format"] == "onnx-int8"
    assert ".t2vb" in r.headers["content-disposition"]
    rt = EdgeRuntime(BundleFiles.from_bytes(r.content))
    out = rt.run({"notes": "bright lemon, black tea", "metrics": {"acidity": 8}})
    assert out.embedding.shape == (128,)


def test_etag_revalidation_answers_304(client: TestClient) -> None:
    first = client.get("/v1/models/edge/latest?format=tflite-int8", headers=user(client))
    assert first.status_code == 200
    etag = first.headers["etag"]
    again = client.get(
        "/v1/models/edge/latest?format=tflite-int8",
        headers={**user(client), "If-None-Match": etag},
    )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    stale = client.get(
        "/v1/models/edge/latest?format=tflite-int8",
        headers={**user(client), "If-None-Match": '"not-the-same"'},
    )
    assert stale.status_code == 200


def test_default_format_and_aliases(client: TestClient) -> None:
    default = client.get("/v1/models/edge/beta", headers=user(client))
    assert default.status_code == 200 and default.headers["x-edge-format"] == "tflite-int8"
    current = client.get("/v1/models/edge/current?format=onnx-int8", headers=user(client))
    assert current.status_code == 200
    assert current.headers["x-model-version"] == default.headers["x-model-version"]
    pinned = client.get("/v1/models/edge/0123456789ab?format=onnx", headers=user(client))
    assert pinned.status_code == 200 and pinned.headers["x-model-version"] == "0123456789ab"


def test_unknown_alias_or_format_is_404_with_a_reason(client: TestClient) -> None:
    r = client.get("/v1/models/edge/nightly?format=onnx", headers=user(client))
    assert r.status_code == 404 and "no edge bundles for 'nightly'" in r.json()["detail"]
    assert "latest" in r.json()["detail"]
    r = client.get("/v1/models/edge/latest?format=coreml", headers=user(client))
    assert r.status_code == 404 and "unknown edge format 'coreml'" in r.json()["detail"]
    r = client.get("/v1/models/edge/latest?format=tflite", headers=user(client))
    assert r.status_code == 404
    assert "no tflite bundle" in r.json()["detail"] and "taste2vec export" in r.json()["detail"]
    r = client.get("/v1/models/edge/..%2F..%2Fetc?format=onnx", headers=user(client))
    assert r.status_code == 404


def test_bundles_need_an_api_key(client: TestClient) -> None:
    assert client.get("/v1/models/edge/latest").status_code == 401
    assert client.get("/v1/models/edge").status_code == 401


def test_listing_shows_versions_aliases_and_parity(client: TestClient) -> None:
    r = client.get("/v1/models/edge", headers=ADMIN)
    assert r.status_code == 200
    body = r.json()
    by_version = {v["model_version"]: v for v in body["versions"]}
    served = by_version[body["serving"]]
    assert set(served["aliases"]) == {"latest", "beta", "current"}
    assert [b["format"] for b in served["bundles"]] == list(SERVED)
    assert all(b["parity"]["passed"] for b in served["bundles"])
    assert by_version["0123456789ab"]["aliases"] == ["old"]


def test_no_bundles_yet(tiny_model_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, tiny_model_dir)
    shutil.rmtree(tmp_path / "edge", ignore_errors=True)
    with TestClient(create_app(settings)) as c:
        r = c.get("/v1/models/edge/latest", headers=ADMIN)
        assert r.status_code == 404 and "run: taste2vec export" in r.json()["detail"]
