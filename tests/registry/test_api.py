"""The admin routes of the model registry, on an app that follows the champion alias."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from taste2vec.api.app import create_app
from taste2vec.config import Settings
from taste2vec.model.artifact import weights_version
from taste2vec.registry import open_registry
from taste2vec.store import create_store
from tests.api.conftest import ADMIN, make_settings


@pytest.fixture(scope="module")
def settings(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("registry-api")
    return make_settings(
        tmp,
        tiny_model_dir,
        model_source="registry",
        registry_poll_s=0.2,
        follow_interval_s=0.2,
        cache_dir=tmp / "cache",
    )


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with create_store(settings.database_url) as store:  # the champion before the app starts
        registry = open_registry(settings, store)
        info, _ = registry.register(settings.model_dir, actor="test")
        registry.promote(info.version, actor="test", reason="first champion")
    with TestClient(create_app(settings)) as c:
        yield c


def _serving(client: TestClient) -> str:
    body = client.get("/v1/models/registry", headers=ADMIN).json()
    return str(body["serving"])


def test_the_registry_routes_promote_roll_back_and_audit(
    client: TestClient, settings: Settings, second_model_dir: Path
) -> None:
    assert client.get("/v1/models/registry").status_code == 401
    listing = client.get("/v1/models/registry", headers=ADMIN).json()
    assert listing["model_source"] == "registry" and listing["aliases"] == {"champion": "1"}
    assert listing["serving"] == weights_version(settings.model_dir)
    assert listing["serving_registry_version"] == "1"

    r = client.post(
        "/v1/models/registry/versions", headers=ADMIN, json={"model_dir": str(second_model_dir)}
    )
    assert r.status_code == 201, r.text
    assert r.json()["created"] and r.json()["version"]["version"] == "2"
    bad = client.post("/v1/models/registry/versions", headers=ADMIN, json={"model_dir": "/nope"})
    assert bad.status_code == 404  # no model directory there

    r = client.post(
        "/v1/models/registry/aliases/champion/promote",
        headers=ADMIN,
        json={"version": "2", "reason": "A/B win", "evidence": {"lift": 0.07}},
    )
    assert r.status_code == 200, r.text
    event = r.json()["event"]
    moved = (event["previous_version"], event["new_version"], event["actor"])
    assert moved == ("1", "2", "api:admin")

    deadline = time.monotonic() + 60  # the follower picks the flip up (poll 0.2 s + 0.2 s)
    while _serving(client) != weights_version(second_model_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _serving(client) == weights_version(second_model_dir)
    champion = client.get("/v1/models/registry/aliases/champion", headers=ADMIN).json()
    assert champion["version"] == "2"

    r = client.post("/v1/models/registry/aliases/champion/rollback", headers=ADMIN, json={})
    assert r.status_code == 200 and r.json()["event"]["new_version"] == "1"

    history = client.get(
        "/v1/models/registry/history",
        headers=ADMIN,
        params={"alias": "champion", "at": event["created_at"]},
    ).json()
    assert [e["action"] for e in history["events"]] == ["rollback", "promote", "promote"]
    assert history["version_at"] == "2"

    assert client.get("/v1/models/registry/aliases/production", headers=ADMIN).status_code == 404
    assert client.get("/v1/models/registry/aliases/challenger", headers=ADMIN).status_code == 404
    missing = client.post(
        "/v1/models/registry/aliases/champion/promote", headers=ADMIN, json={"version": "99"}
    )
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    assert (
        client.post(
            "/v1/models/registry/aliases/champion/promote", headers=ADMIN, json={"version": "x"}
        ).status_code
        == 422
    )
    assert client.get("/v1/models/edge", headers=ADMIN).status_code == 200  # edge routes stay
