"""Client clocks are bounded at the API, and a retry is the same write even when the
server filled in a default (regressions for two failures found by a hostile client)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, auth

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("api")]


def _z(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _fields(response: object) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]  # type: ignore[attr-defined]


# --------------------------------------------------------------------- retries
def test_a_record_retry_without_timestamp_is_the_same_write(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    body = {"id": "retry-rec-1", "user": "demo-ana", "notes": "peach, black tea"}
    first = client.post("/v1/records", json=body, headers=ana)
    assert first.status_code == 201, first.text
    again = client.post("/v1/records", json=body, headers=ana)  # byte for byte, later
    assert again.status_code == 200, again.text
    assert again.json() == {"id": "retry-rec-1", "created": False}
    # Stored once, with the time the first request arrived.
    mine = [
        r
        for r in client.get("/v1/users/demo-ana/records?limit=1000", headers=ana).json()
        if r["id"] == "retry-rec-1"
    ]
    assert len(mine) == 1
    # Different content under the same id is still a conflict.
    changed = client.post("/v1/records", json={**body, "notes": "smoke"}, headers=ana)
    assert changed.status_code == 409
    # So is a different explicit time.
    stamped = {**body, "timestamp": "2026-01-01T00:00:00Z"}
    assert client.post("/v1/records", json=stamped, headers=ana).status_code == 409


def test_a_feedback_retry_without_timestamp_is_the_same_write(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    coffee = client.get("/v1/coffees?limit=1", headers=ana).json()[0]["id"]
    body = {"id": "fbn1", "user": "demo-ana", "coffee": coffee, "signal": "liked"}
    assert client.post("/v1/feedback", json=body, headers=ana).status_code == 201
    again = client.post("/v1/feedback", json=body, headers=ana)
    assert again.status_code == 200, again.text
    assert again.json()["created"] is False
    disliked = {**body, "signal": "disliked"}
    assert client.post("/v1/feedback", json=disliked, headers=ana).status_code == 409


def test_creating_a_user_is_retry_safe_with_an_idempotency_key(client: TestClient) -> None:
    idem = {**ADMIN, "Idempotency-Key": "4f9e2b7c-0d3a-4c1e-9b8a-7e6d5c4b3a21"}
    first = client.post("/v1/users", json={"id": "retry-user"}, headers=idem)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = client.post("/v1/users", json={"id": "retry-user"}, headers=idem)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    key = again.json()["api_key"]
    me = client.get("/v1/users/retry-user", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200
    old = {"Authorization": f"Bearer {first.json()['api_key']}"}
    assert client.get("/v1/users/retry-user", headers=old).status_code == 401
    # Without the header, or with another user's key, it is still a conflict.
    assert client.post("/v1/users", json={"id": "retry-user"}, headers=ADMIN).status_code == 409
    other = client.post("/v1/users", json={"id": "someone-else"}, headers=idem)
    assert other.status_code == 409
    bad = client.post("/v1/users", json={"id": "x1"}, headers={**ADMIN, "Idempotency-Key": "no"})
    assert bad.status_code == 422, bad.text
    assert client.get("/v1/users/someone-else", headers=ADMIN).status_code == 404


def test_every_write_route_takes_a_minimal_body_twice(client: TestClient) -> None:
    """Each write route with only its required fields: first accepted, then the exact
    repeat accepted again (never a conflict)."""
    ana = auth(client, "demo-ana")
    coffee = client.get("/v1/coffees?limit=1", headers=ana).json()[0]["id"]
    now = _z(datetime.now(UTC))
    writes: list[tuple[str, str, dict[str, object], dict[str, str], tuple[int, int]]] = [
        ("post", "/v1/records", {"id": "min-r", "user": "demo-ana"}, ana, (201, 200)),
        (
            "post",
            "/v1/feedback",
            {"id": "min-f", "user": "demo-ana", "coffee": coffee, "signal": "skipped"},
            ana,
            (201, 200),
        ),
        (
            "post",
            "/v1/events",
            {
                "type": "subscription_paused",
                "event_id": "min-e",
                "user": "demo-ana",
                "event_time": now,
            },
            ana,
            (201, 200),
        ),
        ("put", "/v1/coffees/min-c", {"id": "min-c", "name": "Minimal"}, ADMIN, (200, 200)),
    ]
    for method, path, body, headers, expected in writes:
        first = client.request(method, path, json=body, headers=headers)
        second = client.request(method, path, json=body, headers=headers)
        assert (first.status_code, second.status_code) == expected, (path, second.text)


# --------------------------------------------------------------------- clocks
@pytest.mark.parametrize(
    "when",
    ["2999-01-01T00:00:00Z", "in an hour", "0001-01-01T00:00:00Z", "1989-12-31T23:59:59Z"],
)
def test_untrustworthy_times_are_refused_naming_the_field(client: TestClient, when: str) -> None:
    if when == "in an hour":  # computed here: collection must be the same on every worker
        when = _z(datetime.now(UTC) + timedelta(hours=1))
    ana = auth(client, "demo-ana")
    coffee = client.get("/v1/coffees?limit=1", headers=ana).json()[0]["id"]
    tag = when[:4]
    record = {"id": f"clock-r-{tag}", "user": "demo-ana", "timestamp": when}
    r = client.post("/v1/records", json=record, headers=ana)
    assert r.status_code == 422 and _fields(r) == ["timestamp"], r.text
    feedback = {
        "id": f"clock-f-{tag}",
        "user": "demo-ana",
        "coffee": coffee,
        "signal": "liked",
        "timestamp": when,
    }
    r = client.post("/v1/feedback", json=feedback, headers=ana)
    assert r.status_code == 422 and _fields(r) == ["timestamp"], r.text
    event = {
        "type": "subscription_paused",
        "event_id": f"clock-e-{tag}",
        "user": "demo-ana",
        "event_time": when,
    }
    r = client.post("/v1/events", json=event, headers=ana)
    assert r.status_code == 422, r.text
    assert [f.split(".")[-1] for f in _fields(r)] == ["event_time"], r.text
    # In a batch, only that event is refused; its neighbour is stored.
    fine = {**event, "event_id": f"clock-ok-{tag}", "event_time": _z(datetime.now(UTC))}
    r = client.post("/v1/events", json=[event, fine], headers=ana)
    assert r.status_code == 200, r.text
    assert [s["status"] for s in r.json()["results"]] in ([422, 201], [422, 200])
    # Nothing was stored under the refused ids.
    ids = {x["id"] for x in client.get("/v1/users/demo-ana/records?limit=1000", headers=ana).json()}
    assert f"clock-r-{tag}" not in ids


def test_time_zones_and_a_small_skew_are_accepted(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    soon = datetime.now(UTC) + timedelta(minutes=2)  # a phone two minutes fast
    for i, stamp in enumerate(
        [
            _z(soon),
            "2026-03-08T01:30:00-05:00",  # the hour before a US DST change
            "2026-03-29T02:30:00+02:00",  # inside the EU spring-forward gap, as an offset
            "2026-06-01T23:59:59+14:00",
            "2026-06-01T00:00:00-12:00",
            "2026-06-01T08:00:00",  # naive: taken as UTC
        ]
    ):
        body = {"id": f"tz-{i}", "user": "demo-ana", "timestamp": stamp}
        r = client.post("/v1/records", json=body, headers=ana)
        assert r.status_code == 201, (stamp, r.text)
    leap = {"id": "tz-leap", "user": "demo-ana", "timestamp": "2016-12-31T23:59:60Z"}
    r = client.post("/v1/records", json=leap, headers=ana)
    assert r.status_code == 422 and _fields(r) == ["timestamp"], r.text


def test_feedback_a_little_ahead_counts_after_a_state_rebuild(client: TestClient) -> None:
    """Accepted feedback stamped within the skew counts the same whether the user's state
    is updated in place or rebuilt from the store."""
    ana = auth(client, "demo-ana")
    top = client.get("/v1/users/demo-ana/recommendations?k=1", headers=ana).json()
    coffee = top["items"][0]["coffee"]
    soon = _z(datetime.now(UTC) + timedelta(minutes=2))
    body = {"id": "ahead-fb", "user": "demo-ana", "coffee": coffee, "signal": "disliked"}
    r = client.post("/v1/feedback", json={**body, "timestamp": soon}, headers=ana)
    assert r.status_code == 201, r.text
    service = client.app.state.service  # type: ignore[attr-defined]
    with service._lock:
        service._states.clear()  # force a rebuild from the store
    again = client.get("/v1/users/demo-ana/recommendations?k=5", headers=ana).json()
    assert coffee not in [i["coffee"] for i in again["items"]]
