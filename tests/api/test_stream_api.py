"""App events over HTTP, their publication to the event log, and the stream's signals."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from taste2vec.api import create_app
from taste2vec.service import TasteService
from taste2vec.sim.server import free_port, start_server
from taste2vec.store import create_store
from taste2vec.store._engine import normalise_url
from taste2vec.stream.log import open_log
from tests.api.conftest import ADMIN, auth, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("api")]
# Event times of the signal tests: yesterday (UTC), later than any demo event (the last is
# 2026-12-02), so that none of them is behind the stream's watermark (an event whose every
# window is final is dead-lettered), and in the past, as the API's clock rule requires.
FUTURE = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def client(
    request: pytest.FixtureRequest,
    tiny_model_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestClient]:
    """Like conftest's ``client``, but on a PostgreSQL database of its own (the shared API
    database is already seeded by another module, so no demo keys would be written)."""
    tmp = tmp_path_factory.mktemp("stream-api")
    extra: dict[str, object] = {"max_body_bytes": 65536, "max_batch": 8}
    if request.param == "postgres":
        server_url: str = request.getfixturevalue("postgres_server_url")
        server = normalise_url(server_url)
        name = f"t2v_stream_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        extra["database_url"] = server.set(database=name).render_as_string(hide_password=False)
    try:
        app = create_app(make_settings(tmp, tiny_model_dir, **extra))
        with TestClient(app) as c:
            c.keys = json.loads((tmp / "demo-keys.json").read_text())  # type: ignore[attr-defined]
            yield c
    finally:
        if request.param == "postgres":
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _event(eid: str, user: str = "demo-ana", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "box_rated",
        "event_id": eid,
        "user": user,
        "event_time": "2026-11-20T08:00:00Z",
        "box": "box-1",
        "rating": 4,
    }
    body.update(extra)
    return body


def _service(client: TestClient) -> TasteService:
    service: TasteService = client.app.state.service  # type: ignore[attr-defined]
    return service


def _until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"not true within {timeout} s")


def _published(client: TestClient) -> list[dict[str, Any]]:
    relay = _service(client).relay
    assert relay is not None
    log = relay.log
    out: list[dict[str, Any]] = []
    for partition in range(log.partitions):
        offset = 0
        while batch := log.read(partition, offset, 1000):
            out += [json.loads(e.value) for e in batch]
            offset = batch[-1].offset + 1
    return out


def test_post_one_event_is_idempotent_and_published(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    first = client.post("/v1/events", json=_event("ev-1"), headers=ana)
    assert first.status_code == 201, first.text
    assert first.json() == {"event_id": "ev-1", "created": True}
    again = client.post("/v1/events", json=_event("ev-1"), headers=ana)
    assert again.status_code == 200 and again.json()["created"] is False
    changed = client.post("/v1/events", json=_event("ev-1", rating=2), headers=ana)
    assert changed.status_code == 409 and "different content" in changed.json()["detail"]
    _until(lambda: any(e["event_id"] == "ev-1" for e in _published(client)))
    assert _service(client).store.get_event("ev-1") is not None


def test_posted_events_are_validated_and_authorised(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    bad = client.post("/v1/events", json=_event("ev-bad", rating=9), headers=ana)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "box_rated.rating"
    unknown = client.post("/v1/events", json=_event("ev-x", type="nope"), headers=ana)
    assert unknown.status_code == 422
    derived = {
        "type": "tasting_logged",
        "event_id": "t-1",
        "user": "demo-ana",
        "event_time": "2026-11-20T08:00:00Z",
        "record": "r-1",
    }
    refused = client.post("/v1/events", json=derived, headers=ana)
    assert refused.status_code == 422 and "/v1/records" in refused.json()["detail"]
    other = client.post("/v1/events", json=_event("ev-ben", user="demo-ben"), headers=ana)
    assert other.status_code == 403
    batch = [_event("ev-ok"), _event("ev-ben2", user="demo-ben")]
    assert client.post("/v1/events", json=batch, headers=ana).status_code == 403
    assert _service(client).store.get_event("ev-ok") is None  # nothing of a refused batch
    admin = client.post("/v1/events", json=_event("ev-ben", user="demo-ben"), headers=ADMIN)
    assert admin.status_code == 201
    assert client.post("/v1/events", json=_event("ev-anon")).status_code == 401
    assert client.post("/v1/events", json=[], headers=ana).status_code == 422


def test_a_batch_answers_per_event(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    assert client.post("/v1/events", json=_event("b-dup"), headers=ana).status_code == 201
    assert client.post("/v1/events", json=_event("b-conf"), headers=ana).status_code == 201
    batch = [
        _event("b-new"),
        _event("b-dup"),
        _event("b-conf", rating=1),
        {"type": "box_rated", "event_id": "b-invalid"},
        "not an object",
        {
            "type": "subscription_paused",
            "event_id": "b-pause",
            "user": "demo-ana",
            "event_time": "2026-11-21T08:00:00Z",
            "reason": "travelling",
        },
    ]
    resp = client.post("/v1/events", json=batch, headers=ana)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [r["status"] for r in body["results"]] == [201, 200, 409, 422, 422, 201]
    assert [r["event_id"] for r in body["results"]] == [
        "b-new",
        "b-dup",
        "b-conf",
        "b-invalid",
        None,
        "b-pause",
    ]
    assert (body["created"], body["duplicates"], body["failed"]) == (2, 1, 3)
    assert "box_rated.user: Field required" in body["results"][3]["detail"]
    published = _until(lambda: {"b-new", "b-pause"} <= {e["event_id"] for e in _published(client)})
    assert published


def test_recommendations_are_recorded_as_shown_events(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    resp = client.get(
        "/v1/users/demo-ana/recommendations?k=3&experiment=exp-1&arm=b", headers=ana
    ).json()
    request = resp["request"]
    assert request and len(resp["items"]) == 3
    shown = _until(
        lambda: next((e for e in _published(client) if e["event_id"] == f"shown:{request}"), None)
    )
    assert shown["type"] == "recommendation_shown" and shown["user"] == "demo-ana"
    assert shown["coffees"] == [i["coffee"] for i in resp["items"]]
    assert (shown["experiment"], shown["arm"]) == ("exp-1", "b")
    click = {
        "type": "recommendation_clicked",
        "event_id": f"click-{request}",
        "user": "demo-ana",
        "event_time": "2026-11-20T08:00:00Z",
        "coffee": resp["items"][0]["coffee"],
        "request": request,
        "experiment": "exp-1",
        "arm": "b",
    }
    assert client.post("/v1/events", json=click, headers=ana).status_code == 201


def test_records_and_feedback_are_published_with_vectors(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    record = {
        "id": "pub-r1",
        "user": "demo-ana",
        "timestamp": "2026-11-20T08:00:00Z",
        "notes": "bright lemon, jasmine",
    }
    assert client.post("/v1/records", json=record, headers=ana).status_code == 201
    fb = {"id": "pub-f1", "user": "demo-ana", "coffee": "demo-001", "signal": "skipped"}
    assert client.post("/v1/feedback", json=fb, headers=ana).status_code == 201
    events = _until(
        lambda: (
            {
                e["event_id"]: e
                for e in _published(client)
                if e["event_id"] in ("tasting:pub-r1", "feedback:pub-f1")
            }
            if len(
                {"tasting:pub-r1", "feedback:pub-f1"} & {e["event_id"] for e in _published(client)}
            )
            == 2
            else None
        )
    )
    assert len(events["tasting:pub-r1"]["vector"]) == 128
    assert events["feedback:pub-f1"]["signal"] == "skipped"


def test_openapi_documents_the_stream_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/v1/events"]["post"]
    assert "box_rated" in json.dumps(post["requestBody"])


def _signals(client: TestClient, user: str, headers: dict[str, str]) -> dict[str, Any] | None:
    resp = client.get(f"/v1/users/{user}/signals", headers=headers)
    if resp.status_code == 404:
        return None
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_a_new_users_events_show_up_in_their_signals(client: TestClient) -> None:
    created = client.post("/v1/users", json={"id": "stream-kim"}, headers=ADMIN)
    assert created.status_code == 201
    kim = {"Authorization": f"Bearer {created.json()['api_key']}"}
    missing = client.get("/v1/users/stream-kim/signals", headers=kim)
    assert (
        missing.status_code == 404 and "no event of user 'stream-kim'" in missing.json()["detail"]
    )
    assert client.get("/v1/users/demo-ana/signals", headers=kim).status_code == 403
    t0 = time.monotonic()
    record = {
        "id": "kim-r1",
        "user": "stream-kim",
        "coffee": "demo-021",
        "timestamp": f"{FUTURE}T08:00:00Z",
        "notes": "jasmine and bergamot",
    }
    assert client.post("/v1/records", json=record, headers=kim).status_code == 201
    events = [
        _event(
            "kim-box-1",
            user="stream-kim",
            rating=5,
            coffee="demo-021",
            event_time=f"{FUTURE}T08:30:00Z",
        ),
        {
            "type": "lab_session",
            "event_id": "kim-lab-1",
            "user": "stream-kim",
            "event_time": f"{FUTURE}T09:00:00Z",
            "recipe": "V60 4:6",
            "rating": 3,
        },
        {
            "type": "subscription_paused",
            "event_id": "kim-pause-1",
            "user": "stream-kim",
            "event_time": f"{FUTURE}T10:00:00Z",
        },
    ]
    assert client.post("/v1/events", json=events, headers=kim).json()["created"] == 3
    signals = _until(
        lambda: (s := _signals(client, "stream-kim", kim)) and s["n_events"] >= 4 and s,
        timeout=10,
    )
    delay = time.monotonic() - t0
    print(f"\nevents POSTed -> visible in signals: {delay * 1000:.0f} ms")
    assert signals["user"] == "stream-kim" and signals["n_events"] == 4
    assert signals["rating"]["count"] == 2 and signals["lab_sessions_total"] == 1
    assert signals["subscription_status"] == "paused"
    assert signals["tastings_vector"] is not None and len(signals["tastings_vector"]) == 128
    assert 0 <= signals["churn_risk"] <= 1
    admin_view = _signals(client, "stream-kim", ADMIN)
    assert admin_view is not None and admin_view["n_events"] == 4


def test_coffee_stats_follow_feedback(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    assert client.get("/v1/coffees/no-such-coffee/stats", headers=ana).status_code == 404
    for i, kind in enumerate(["liked", "disliked", "rated"]):
        fb = {
            "id": f"stats-fb-{i}",
            "user": "demo-ana",
            "coffee": "demo-090",
            "signal": kind,
            "timestamp": f"{FUTURE}T08:00:00Z",
            **({"rating": 2} if kind == "rated" else {}),
        }
        assert client.post("/v1/feedback", json=fb, headers=ana).status_code == 201

    def stats() -> dict[str, Any] | None:
        resp = client.get("/v1/coffees/demo-090/stats", headers=ana)
        if resp.status_code != 200:
            return None
        body: dict[str, Any] = resp.json()
        return body if body["n_feedback"] >= 3 else None

    before = _until(stats)
    assert before["coffee"] == "demo-090" and before["n_likes"] >= 1
    assert before["rating"]["count"] >= 1
    assert client.get("/v1/coffees/demo-090/stats").status_code == 401


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sigkill_after_acknowledged_writes_still_publishes_them_all(
    backend: str, tiny_model_dir: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """kill -9 right after acknowledged POSTs: the restarted service drains the outbox
    into the log, and the signals count every acknowledged event exactly once."""
    extra: dict[str, object] = {}
    if backend == "postgres":
        extra["database_url"] = request.getfixturevalue("api_postgres_url")
    settings = make_settings(tmp_path, tiny_model_dir, **extra)
    env = {
        **os.environ,
        "T2V_ENVIRONMENT": "test",
        "T2V_DATABASE_URL": settings.database_url,
        "T2V_MODEL_DIR": str(settings.model_dir),
        "T2V_CACHE_DIR": str(settings.cache_dir),
        "T2V_ONLINE_LEARNING": "false",
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = tmp_path / "server.log"
    server = start_server(env, port, server_log)
    users = [f"kill-{backend}-{n}" for n in range(3)]
    acked: dict[str, set[str]] = {u: set() for u in users}
    lock = threading.Lock()
    killed = threading.Event()
    target = 300

    def kill_now() -> None:
        if not killed.is_set():
            killed.set()
            os.kill(server.pid, signal.SIGKILL)

    def writer(user: str) -> None:
        with httpx.Client(base_url=base, headers=ADMIN, timeout=30) as http:
            i = 0
            while not killed.is_set():
                i += 1
                try:
                    if i % 4 == 0:
                        record = {
                            "id": f"{user}-r{i}",
                            "user": user,
                            "timestamp": f"{FUTURE}T08:00:{i % 60:02d}Z",
                            "notes": "plum and cocoa",
                        }
                        resp = http.post("/v1/records", json=record)
                        ok = {f"tasting:{user}-r{i}"} if resp.status_code in (200, 201) else set()
                    else:
                        batch = [
                            _event(
                                f"{user}-e{i}-{j}",
                                user=user,
                                event_time=f"{FUTURE}T08:{j:02d}:{i % 60:02d}Z",
                            )
                            for j in range(10)
                        ]
                        resp = http.post("/v1/events", json=batch)
                        ok = (
                            {r["event_id"] for r in resp.json()["results"] if r["status"] == 201}
                            if resp.status_code == 200
                            else set()
                        )
                except httpx.HTTPError:
                    return  # the server died mid-request: not acknowledged
                with lock:
                    acked[user] |= ok
                    if sum(map(len, acked.values())) >= target:
                        kill_now()  # right after an acknowledgement

    threads = [threading.Thread(target=writer, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    kill_now()
    server.wait(timeout=10)
    total = sum(map(len, acked.values()))
    assert total >= target

    with create_store(settings.database_url) as store:
        left = store.count_unpublished()
    print(f"\n{backend}: {total} acknowledged events, {left} unpublished at the kill")

    server = start_server(env, port, server_log)
    try:
        event_log = open_log(settings.event_log_url_value())
        try:

            def logged_ids(user: str) -> set[str]:
                ids: set[str] = set()
                for partition in range(event_log.partitions):
                    offset = 0
                    while batch := event_log.read(partition, offset, 5000):
                        ids |= {json.loads(e.value)["event_id"] for e in batch if e.key == user}
                        offset = batch[-1].offset + 1
                return ids

            with httpx.Client(base_url=base, headers=ADMIN, timeout=10) as http:
                for user in users:

                    def settled(user: str = user) -> dict[str, Any] | None:
                        ids = logged_ids(user)
                        if not ids and not acked[user]:
                            return {"n_events": 0}  # this writer never got an answer
                        resp = http.get(f"/v1/users/{user}/signals")
                        if resp.status_code != 200 or not acked[user] <= ids:
                            return None
                        body: dict[str, Any] = resp.json()
                        return body if body["n_events"] == len(ids) else None

                    signals = _until(settled, timeout=30)
                    # Every acknowledged event is in the log and counted exactly once
                    # (writes committed but unacknowledged at the kill may be there too).
                    assert signals["n_events"] >= len(acked[user])
        finally:
            event_log.close()
        with create_store(settings.database_url) as store:
            assert store.count_unpublished() == 0
    finally:
        server.kill()
        server.wait(timeout=10)
