"""Per-model-version metrics on /metrics (latency, errors, embedding drift), and the
online learner's wiring (publisher by T2V_LEARNER_POLICY, store lease)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from taste2vec.api.app import create_app
from taste2vec.api.middleware import Metrics
from taste2vec.learning import LeasedLearner
from taste2vec.registry.learner import RegistryPublisher
from taste2vec.service.monitoring import EMBEDDING_STATS, ModelMonitor
from tests.api.conftest import auth, make_settings


def _samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples, name: str, **labels: str) -> float | None:  # type: ignore[no-untyped-def]
    return samples.get((name, tuple(sorted(labels.items()))))


def _record(rid: str, notes: str) -> dict[str, object]:
    return {
        "id": rid,
        "user": "demo-ana",
        "timestamp": "2026-11-20T08:00:00+09:00",
        "notes": notes,
        "metrics": {"acidity": 8, "body": 3},
    }


@pytest.fixture(scope="module")
def client(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("metrics")
    settings = make_settings(tmp, tiny_model_dir, online_learning=True, stream_worker=False)
    with TestClient(create_app(settings)) as c:
        c.keys = json.loads((tmp / "demo-keys.json").read_text())  # type: ignore[attr-defined]
        yield c


def _start_afresh(service) -> None:  # type: ignore[no-untyped-def]
    """Publish the seeded demo tastings now, then reset the version's series.

    The relay embeds every tasting it publishes, and those embeddings count as served
    (drift). In the background it would add them at any moment, so the counts below would
    race with it: drain the outbox here (``publish_once`` holds the relay's lock, so when
    it finds nothing the background relay is idle too) and start the metrics afresh.
    """
    while service.relay.publish_once():
        pass
    monitor = service.monitor
    with monitor._lock:  # noqa: SLF001
        monitor._versions.pop(service.model_version, None)  # noqa: SLF001
        monitor._forget(service.model_version)  # noqa: SLF001


def test_requests_and_drift_are_labelled_by_the_serving_version(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    version = service.model_version
    assert version
    _start_afresh(service)
    ana = auth(client, "demo-ana")
    notes = ["bright lemon, jasmine", "dark chocolate, smoky", "plum, 자몽, 꿀", ""]
    vectors = []
    for i, text in enumerate(notes):
        resp = client.post("/v1/embed", json={"records": [_record(f"m{i}", text)]}, headers=ana)
        assert resp.status_code == 200
        vectors.append(resp.json()["items"][0]["embedding"])
    assert client.post("/v1/embed", json={"records": "no"}, headers=ana).status_code == 422
    samples = _samples(client)
    route = "/v1/embed"
    assert (
        _value(samples, "t2v_model_request_seconds_count", model_version=version, route=route) == 5
    )
    ok = _value(
        samples, "t2v_model_requests_total", model_version=version, route=route, status_class="2xx"
    )
    bad = _value(
        samples, "t2v_model_requests_total", model_version=version, route=route, status_class="4xx"
    )
    assert (ok, bad) == (4, 1)
    assert _value(
        samples, "t2v_model_request_errors_total", model_version=version, route=route
    ) in (
        None,
        0,
    )
    # operations and model-admin routes are not per-model requests
    assert not any(
        name.startswith("t2v_model_request")
        and dict(labels).get("route") in ("/metrics", "/healthz")
        for name, labels in samples
    )

    # drift: the served embeddings against the catalogue reference (no embedding_stats.json)
    assert not (service.model_source.path / EMBEDDING_STATS).exists()
    emb = np.asarray(vectors, dtype=np.float64)
    snap = service.engine.snapshot
    centroid = emb.mean(axis=0)
    shift = float(np.linalg.norm(centroid - snap.centroid)) / snap.radius
    cosine = float(centroid @ snap.centroid) / float(
        np.linalg.norm(centroid) * np.linalg.norm(snap.centroid)
    )
    norms = np.linalg.norm(emb, axis=1)
    assert _value(samples, "t2v_embeddings_observed_total", model_version=version) == 4
    assert _value(samples, "t2v_embedding_window", model_version=version) == 4
    got_shift = _value(samples, "t2v_embedding_centroid_shift", model_version=version)
    assert got_shift == pytest.approx(shift, rel=1e-4, abs=1e-5)  # embeddings JSON is rounded
    got_cos = _value(samples, "t2v_embedding_centroid_cosine", model_version=version)
    assert got_cos == pytest.approx(cosine, rel=1e-4, abs=1e-5)
    assert _value(samples, "t2v_embedding_norm_mean", model_version=version) == pytest.approx(
        norms.mean(), rel=1e-4
    )
    assert _value(samples, "t2v_embedding_norm_std", model_version=version) == pytest.approx(
        norms.std(), abs=1e-4
    )
    assert client.app.state.model_monitor.versions == [version]  # type: ignore[attr-defined]


def test_the_learner_publishes_to_the_registry_and_holds_the_lease(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    assert service.background is not None
    publish = service.background.learner.publish
    assert isinstance(publish, RegistryPublisher)
    assert (publish.policy, publish.alias) == ("experiment", "challenger")  # the default
    assert publish.registry is client.app.state.model_registry  # type: ignore[attr-defined]
    assert service.learner_lease is not None
    assert service.learner_lease.is_held  # one process: it holds the learner lease
    loops = client.get("/readyz").json()["loops"]
    assert loops["online-learner"]["state"] == "running"
    leased = [
        e.loop
        for e in service.runtime._loops
        if isinstance(e.loop, LeasedLearner)  # noqa: SLF001
    ]
    assert len(leased) == 1 and leased[0].inner is service.background and leased[0].leader


def test_a_route_names_the_version_that_served_it() -> None:
    """Per-arm serving: a route that answered with another model sets
    request.state.model_version, and the request counts for that version."""
    app = FastAPI()
    registry = CollectorRegistry()
    monitor = ModelMonitor(registry)

    @app.get("/v1/arm")
    async def arm(request: Request) -> dict[str, str]:
        request.state.model_version = "treatment-weights"
        return {}

    @app.get("/v1/models/x")
    async def admin(request: Request) -> dict[str, str]:
        request.state.model_version = "ignored"
        return {}

    app.add_middleware(Metrics, registry=registry, monitor=monitor)
    with TestClient(app) as c:
        assert c.get("/v1/arm").status_code == 200
        assert c.get("/v1/models/x").status_code == 200
    assert monitor.versions == ["treatment-weights"]
    labels = {"model_version": "treatment-weights", "route": "/v1/arm", "status_class": "2xx"}
    assert registry.get_sample_value("t2v_model_requests_total", labels) == 1
