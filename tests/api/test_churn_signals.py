"""End to end: a churn model trained by the batch layer and promoted in the registry
scores /v1/users/{id}/signals in the running service instead of rule-v1."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from taste2vec.api import create_app
from taste2vec.batch.churn import train_from_snapshot
from taste2vec.batch.snapshot import export_snapshot
from taste2vec.registry.churn import ChurnRegistry, load_churn_model
from taste2vec.sim.churn import simulate_subscribers
from taste2vec.store import create_store
from taste2vec.stream.log import open_log
from taste2vec.stream.signals import CHURN_RULE
from tests.api.conftest import ADMIN, make_settings


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_signals_are_scored_by_the_registered_churn_champion(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # a churn model from SIMULATED subscribers, registered and promoted in the registry
    # the service will use (its store holds the alias audit log)
    log = open_log(f"sqlite:///{tmp_path / 'sim-events.db'}?partitions=2")
    log.append(simulate_subscribers(800, days=120, seed=11))
    export_snapshot(tmp_path / "snap", log=log)
    log.close()
    registry_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with create_store(f"sqlite:///{tmp_path / 't2v.db'}") as store:
        registry = ChurnRegistry(registry_uri, store, cache_dir=tmp_path / "reg-cache")
        summary = train_from_snapshot(
            tmp_path / "snap", tmp_path / "churn", registry=registry, promote=True
        )
    assert summary["promoted"] is True
    model = load_churn_model(tmp_path / "churn")

    app = create_app(make_settings(tmp_path, tiny_model_dir, registry_uri=registry_uri))
    with TestClient(app) as client:
        now = datetime.now(UTC)
        events = [
            {
                "type": "subscription_started",
                "event_id": "cs-1",
                "user": "demo-ana",
                "event_time": _iso(now - timedelta(minutes=3)),
            },
            {
                "type": "box_rated",
                "event_id": "cs-2",
                "user": "demo-ana",
                "box": "b1",
                "rating": 2,
                "event_time": _iso(now - timedelta(minutes=2)),
            },
            {
                "type": "subscription_paused",
                "event_id": "cs-3",
                "user": "demo-ana",
                "event_time": _iso(now - timedelta(minutes=1)),
            },
        ]
        resp = client.post("/v1/events", json=events, headers=ADMIN)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = client.get("/v1/users/demo-ana/signals", headers=ADMIN)
            if got.status_code == 200:
                body = got.json()
                if body["churn_rule"] != CHURN_RULE and body["subscription_status"] == "paused":
                    break
            time.sleep(0.2)
        assert body.get("churn_rule") == f"taste2vec-churn/{summary['version']}", body
        assert body["churn_risk"] == pytest.approx(model.score(body))
