"""Clock attacks: far-future and far-past times, extreme zones, leap seconds, DST edges,
naive times, and a far-future event that reaches the event log without the API.

The rules (``taste2vec.schema.clock``): the API refuses a time more than
``T2V_MAX_CLOCK_SKEW_S`` (300 s) ahead of the server clock, and any time before
1990-01-01T00:00:00Z, with a 422 naming the field (``timestamp`` for records and
feedback, ``event_time`` for app events); the stream worker dead-letters an entry whose
event time is more than the skew after its log append time, so no single event can move
the watermark, ``as_of`` or anyone else's signals.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from taste2vec.sim.stream.reference import batch_aggregate
from taste2vec.stream.log import open_log
from tests.adversarial.conftest import (
    ADMIN_KEY,
    BACKENDS,
    Api,
    demo_keys,
    drain,
    jsonable,
    running_app,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

SKEW_S = 300
KINDS = ["records", "feedback", "events"]
FIELD = {"records": "timestamp", "feedback": "timestamp", "events": "event_time"}


@pytest.fixture(scope="module", params=BACKENDS)
def clock_client(
    request: pytest.FixtureRequest, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp(f"adv-clock-{request.param}")
    with running_app(request.param, request, tiny_model_dir, tmp, "clock") as client:
        yield client


_ids = iter(range(10**9))


def _body(kind: str, when: str | None, user: str = "demo-ana") -> dict[str, Any]:
    n = next(_ids)
    if kind == "records":
        body: dict[str, Any] = {"id": f"clk-r{n}", "user": user, "notes": "clock"}
    elif kind == "feedback":
        body = {"id": f"clk-f{n}", "user": user, "coffee": "demo-002", "signal": "liked"}
    else:
        body = {
            "type": "lab_session",
            "event_id": f"clk-e{n}",
            "user": user,
            "recipe": "V60",
            "rating": 3,
        }
    if when is not None:
        body[FIELD[kind]] = when
    return body


def _post(client: TestClient, kind: str, body: dict[str, Any], key: str | None = None) -> Any:
    return Api(client).post(f"/v1/{kind}", body, key=key or demo_keys(client)["demo-ana"])


def _refused_naming(resp: Any, field: str) -> None:
    assert resp.status_code == 422, f"{resp.status_code} {resp.text}"
    errors = resp.json().get("errors") or []
    named = [e["field"] for e in errors]
    assert any(f == field or f.endswith(f".{field}") for f in named), (
        f"422 does not name {field!r}: {resp.text}"
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "when",
    [
        "2999-01-01T00:00:00Z",
        "9999-12-31T23:59:59+14:00",
        "+1h",  # an hour ahead of the server clock
        "+1h naive",
        "+1h +14:00",
    ],
)
def test_a_time_too_far_in_the_future_is_refused(
    clock_client: TestClient, kind: str, when: str
) -> None:
    if when.startswith("+1h"):
        t = _now() + timedelta(hours=1)
        if when.endswith("naive"):
            when = t.replace(tzinfo=None).isoformat()
        elif when.endswith("+14:00"):
            when = t.astimezone(timezone(timedelta(hours=14))).isoformat()
        else:
            when = t.isoformat()
    body = _body(kind, when)
    _refused_naming(_post(clock_client, kind, body), FIELD[kind])
    # nothing was stored: the same id with a sane time is new
    body[FIELD[kind]] = _now().isoformat()
    assert _post(clock_client, kind, body).status_code == 201


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "1989-12-31T23:59:59Z",
        "1990-01-01T00:00:00+00:01",  # = 1989-12-31T23:59:00Z
        "1990-01-01T00:30:00+14:00",
    ],
)
def test_a_time_before_1990_is_refused(clock_client: TestClient, kind: str, when: str) -> None:
    _refused_naming(_post(clock_client, kind, _body(kind, when)), FIELD[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_the_boundaries_are_accepted(clock_client: TestClient, kind: str) -> None:
    floor = _body(kind, "1990-01-01T00:00:00Z")
    assert _post(clock_client, kind, floor).status_code == 201
    soon = _now() + timedelta(seconds=SKEW_S - 60)
    assert _post(clock_client, kind, _body(kind, soon.isoformat())).status_code == 201


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "when",
    [
        "2016-12-31T23:59:60Z",  # a real leap second
        "2026-06-30T23:59:60+00:00",
        "2026-06-30T23:59:61Z",
        "2026-02-30T10:00:00Z",
        "2026-03-08T02:30:00[America/New_York]",  # a zone name is not ISO 8601
        "2026-03-08T02:30:00 EST",
        "2026-13-01T00:00:00Z",
        "2026-01-01T24:00:01Z",
        "2026-01-01T00:00:00+25:00",
        "yesterday",
        "",
        "NaN",
    ],
)
def test_impossible_times_are_a_422_naming_the_field(
    clock_client: TestClient, kind: str, when: str
) -> None:
    _refused_naming(_post(clock_client, kind, _body(kind, when)), FIELD[kind])


def _stored_time(client: TestClient, record_id: str) -> datetime:
    records = Api(client).get("/v1/users/demo-ana/records?limit=1000", key=ADMIN_KEY).json()
    text = next(r["timestamp"] for r in records if r["id"] == record_id)
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert t.tzinfo is not None and t.utcoffset() == timedelta(0), text
    return t


@pytest.mark.parametrize(
    ("sent", "utc"),
    [
        # extreme zones: the local date is a day apart, the instant is the same
        ("2026-11-20T13:00:00+14:00", "2026-11-19T23:00:00+00:00"),
        ("2026-11-19T11:00:00-12:00", "2026-11-19T23:00:00+00:00"),
        # New York's spring-forward gap: 02:30 local does not exist, but an offset
        # pins an instant, so both sides of the gap are fine
        ("2026-03-08T02:30:00-05:00", "2026-03-08T07:30:00+00:00"),
        ("2026-03-08T03:30:00-04:00", "2026-03-08T07:30:00+00:00"),
        # the fall-back hour: 01:30 local happens twice, the offsets tell them apart
        ("2026-11-01T01:30:00-04:00", "2026-11-01T05:30:00+00:00"),
        ("2026-11-01T01:30:00-05:00", "2026-11-01T06:30:00+00:00"),
        # naive is UTC
        ("2026-03-08T02:30:00", "2026-03-08T02:30:00+00:00"),
        ("2026-11-20T08:00:00.123456Z", "2026-11-20T08:00:00.123456+00:00"),
        ("2026-11-20T08:00:00.5+05:45", "2026-11-20T02:15:00.5+00:00"),
    ],
)
def test_zones_dst_edges_and_naive_times_are_stored_as_utc_instants(
    clock_client: TestClient, sent: str, utc: str
) -> None:
    body = _body("records", sent)
    assert _post(clock_client, "records", body).status_code == 201
    assert _stored_time(clock_client, body["id"]) == datetime.fromisoformat(utc)
    # the same instant in another zone is the same content: an exact retry (200)
    other = dict(body, timestamp=datetime.fromisoformat(utc).astimezone(UTC).isoformat())
    assert _post(clock_client, "records", other).status_code == 200


def test_the_two_fall_back_hours_are_different_instants(clock_client: TestClient) -> None:
    first = _body("records", "2026-11-01T01:30:00-04:00")
    assert _post(clock_client, "records", first).status_code == 201
    second = dict(first, timestamp="2026-11-01T01:30:00-05:00")  # an hour later
    assert _post(clock_client, "records", second).status_code == 409


def test_a_retry_without_timestamp_is_the_same_write(clock_client: TestClient) -> None:
    for kind in ("records", "feedback"):
        body = _body(kind, None)
        assert _post(clock_client, kind, body).status_code == 201
        again = _post(clock_client, kind, body)
        assert again.status_code == 200, f"{kind}: {again.status_code} {again.text}"


def _signals(client: TestClient, user: str) -> dict[str, Any]:
    resp = Api(client).get(f"/v1/users/{user}/signals", key=ADMIN_KEY)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


@pytest.fixture(params=BACKENDS)
def quiet_client(
    request: pytest.FixtureRequest, tiny_model_dir: Path, tmp_path: Path
) -> Iterator[TestClient]:
    """An app of its own: no event time ahead of the log's append clock yet, so ``as_of``
    is the largest event time (another test's event a few minutes ahead, within the skew,
    would make it follow the append clock, which every append moves legitimately)."""
    with running_app(request.param, request, tiny_model_dir, tmp_path, "quiet") as client:
        yield client


def test_a_far_future_event_cannot_move_anyone_elses_signals(quiet_client: TestClient) -> None:
    clock_client = quiet_client
    api = Api(clock_client)
    keys = demo_keys(clock_client)
    now = _now()
    # Give a few users an event now, so each has signals and as_of is the present.
    others = ["demo-ben", "demo-lena", "demo-minji"]
    for user in [*others, "demo-ana"]:
        body = _body("events", (now - timedelta(minutes=1)).isoformat(), user=user)
        assert _post(clock_client, "events", body, key=keys[user]).status_code == 201
    # User A tries through the API: refused.
    far = _body("records", "2999-01-01T00:00:00Z")
    _refused_naming(_post(clock_client, "records", far), "timestamp")
    drain(clock_client)
    before = {u: _signals(clock_client, u) for u in [*others, "demo-ana"]}

    # The same kind of event reaches the log another way (a buggy producer, a replay).
    settings = clock_client.app.state.settings  # type: ignore[attr-defined]
    rogue = {
        "type": "box_rated",
        "event_id": "clk-rogue-2999",
        "user": "demo-ana",
        "event_time": "2999-01-01T00:00:00Z",
        "box": "box-2999",
        "rating": 1,
        "coffee": "demo-021",
    }
    rogue_past = dict(rogue, event_id="clk-rogue-0001", event_time="0001-01-01T00:00:00Z")
    log = open_log(settings.event_log_url_value())
    try:
        log.append(
            [
                ("demo-ana", json.dumps(rogue).encode()),
                ("demo-ana", json.dumps(rogue_past).encode()),
            ]
        )
    finally:
        log.close()
    entries = drain(clock_client)

    after = {u: _signals(clock_client, u) for u in [*others, "demo-ana"]}
    for user in others:
        for name in ("as_of", "days_since_last_engagement", "churn_risk"):
            assert after[user][name] == before[user][name], (user, name, before, after)
        assert after[user] == before[user]
    assert after["demo-ana"]["n_events"] == before["demo-ana"]["n_events"]
    assert after["demo-ana"]["as_of"] == before["demo-ana"]["as_of"]
    wall = datetime.now(UTC) + timedelta(seconds=SKEW_S)
    for body in after.values():
        assert datetime.fromisoformat(body["as_of"].replace("Z", "+00:00")) <= wall
    reader = clock_client.app.state.stream_reader  # type: ignore[attr-defined]
    dead = [d for d in reader.dead_letters() if "clk-rogue-2999" in d["payload"]]
    assert dead and "future" in dead[0]["reason"], dead
    assert [d for d in reader.dead_letters() if "clk-rogue-0001" in d["payload"]]
    for part in reader.progress()["partitions"].values():
        if part["max_event_time"] is not None:
            seen = datetime.fromisoformat(part["max_event_time"].replace("Z", "+00:00"))
            assert seen <= wall, part
    # coffee stats ignore it too
    stats = api.get("/v1/coffees/demo-021/stats", key=ADMIN_KEY).json()
    assert stats.get("last_rating_day") != "2999-01-01"
    # and the stream still equals one clean batch pass over the log
    ref = batch_aggregate(entries)
    for user in [*others, "demo-ana"]:
        assert after[user] == jsonable(ref["users"][user])
