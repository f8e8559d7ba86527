"""GET /v1/models/edge/{champion,challenger}: edge bundles resolve through the model
registry (embedded backend). The archives here are stand-in bytes: these tests check
where a bundle comes from (tests/edge run real bundles through the same route)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from taste2vec.api import create_app
from taste2vec.edge.registry import EdgeRegistry
from taste2vec.model.artifact import weights_version
from taste2vec.registry import ModelRegistry
from tests.api.conftest import ADMIN, make_settings

pytestmark = [pytest.mark.xdist_group("registry-edge")]  # the tests share one registry, in order
PARITY = {"passed": True, "cosine_min": 0.991}


@pytest.fixture(scope="module")
def client(
    tiny_model_dir: Path, second_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("edge-registry")
    settings = make_settings(tmp, tiny_model_dir)
    served = weights_version(settings.model_dir)
    EdgeRegistry.beside(settings.model_dir).register(
        served, "onnx-int8", b"champion-archive", PARITY, ["latest"]
    )
    other_edge = tmp / "other-edge"
    EdgeRegistry(other_edge).register(
        weights_version(second_model_dir), "onnx", b"challenger-archive", PARITY, ["latest"]
    )
    with TestClient(create_app(settings)) as c:
        registry: ModelRegistry = c.app.state.model_registry  # type: ignore[attr-defined]
        c.v1, _ = registry.register(settings.model_dir, actor="ci")  # type: ignore[attr-defined]
        c.v2, _ = registry.register(second_model_dir, actor="ci", edge_root=other_edge)  # type: ignore[attr-defined]
        c.keys = json.loads((tmp / "demo-keys.json").read_text())  # type: ignore[attr-defined]
        c.tmp = tmp  # type: ignore[attr-defined]
        yield c


def user(client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.keys['demo-ana']}"}  # type: ignore[attr-defined]


def test_an_unset_alias_is_404(client: TestClient) -> None:
    r = client.get("/v1/models/edge/challenger?format=onnx", headers=user(client))
    assert r.status_code == 404
    assert "no model registry version has the alias 'challenger'" in r.json()["detail"]


def test_champion_and_challenger_bundles_come_from_their_registry_versions(
    client: TestClient,
) -> None:
    registry: ModelRegistry = client.app.state.model_registry  # type: ignore[attr-defined]
    v1, v2 = client.v1, client.v2  # type: ignore[attr-defined]
    assert v1.edge_formats == ("onnx-int8",) and v2.edge_formats == ("onnx",)
    registry.promote(v1.version, actor="ci")
    registry.promote(v2.version, alias="challenger", actor="ci")
    # the edge folder moves on after registration; the registry versions keep theirs
    EdgeRegistry.beside(client.tmp / "model").register(  # type: ignore[attr-defined]
        v1.weights_version, "onnx-int8", b"re-exported later", PARITY, ["latest"]
    )

    champ = client.get("/v1/models/edge/champion?format=onnx-int8", headers=user(client))
    assert champ.status_code == 200, champ.text
    assert champ.content == b"champion-archive"
    assert champ.headers["x-model-version"] == v1.weights_version
    assert champ.headers["etag"] == f'"{hashlib.sha256(b"champion-archive").hexdigest()}"'
    again = client.get(
        "/v1/models/edge/champion?format=onnx-int8",
        headers={**user(client), "If-None-Match": champ.headers["etag"]},
    )
    assert again.status_code == 304 and again.content == b""
    latest = client.get("/v1/models/edge/latest?format=onnx-int8", headers=user(client))
    assert latest.content == b"re-exported later"  # the edge folder, as before

    chal = client.get("/v1/models/edge/challenger?format=onnx", headers=user(client))
    assert chal.status_code == 200 and chal.content == b"challenger-archive"
    assert chal.headers["x-model-version"] == v2.weights_version
    missing = client.get("/v1/models/edge/challenger?format=tflite-int8", headers=user(client))
    assert missing.status_code == 404
    assert "has no tflite-int8 bundle (exported: onnx)" in missing.json()["detail"]

    # a flip of the alias changes what the app downloads
    registry.promote(v2.version, actor="ci")
    flipped = client.get("/v1/models/edge/champion?format=onnx", headers=user(client))
    assert flipped.status_code == 200 and flipped.content == b"challenger-archive"
    registry.rollback(actor="ci")


def test_the_listing_shows_the_registry_aliases_with_parity(client: TestClient) -> None:
    v1, v2 = client.v1, client.v2  # type: ignore[attr-defined]
    # self-contained: under xdist this test may run without the one above in its process
    registry: ModelRegistry = client.app.state.model_registry  # type: ignore[attr-defined]
    for version, alias in ((v1, "champion"), (v2, "challenger")):
        ref = registry.resolve(alias)
        if ref is None or ref.version != version.version:
            registry.promote(version.version, alias=alias, actor="ci")
    body = client.get("/v1/models/edge", headers=ADMIN).json()
    assert body["registry_error"] is None
    by_version = {v["model_version"]: v for v in body["versions"]}
    assert set(by_version[v1.weights_version]["aliases"]) == {"champion", "latest", "current"}
    assert by_version[v2.weights_version]["aliases"] == ["challenger"]
    bundle = by_version[v2.weights_version]["bundles"][0]
    assert bundle["format"] == "onnx" and bundle["parity"] == PARITY


def test_a_corrupt_registry_artifact_is_refused(client: TestClient) -> None:
    registry: ModelRegistry = client.app.state.model_registry  # type: ignore[attr-defined]
    v2 = client.v2  # type: ignore[attr-defined]
    stored = list(registry.artifact_root.rglob(f"{v2.run_id}/artifacts/taste2vec/edge/onnx.t2vb"))  # type: ignore[union-attr]
    assert len(stored) == 1
    stored[0].write_bytes(b"tampered")
    shutil.rmtree(registry.cache_path(v2), ignore_errors=True)
    r = client.get("/v1/models/edge/challenger?format=onnx", headers=user(client))
    assert r.status_code == 503 and "corrupt" in r.json()["detail"]
    listing = client.get("/v1/models/edge", headers=ADMIN).json()
    assert "corrupt" in listing["registry_error"]
