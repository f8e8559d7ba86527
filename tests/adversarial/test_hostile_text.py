"""Hostile text in notes, reasons and ids, on SQLite and PostgreSQL: each either
round-trips exactly (what was stored is what is read back) or gets a clear 4xx that
names the field. Never a 5xx (every request goes through ``Api``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from taste2vec.schema.records import MAX_NOTES_CHARS
from tests.adversarial.conftest import ADMIN_KEY, BACKENDS, Api, demo_keys, running_app

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

USER = "demo-minji"


@pytest.fixture(scope="module", params=BACKENDS)
def text_client(
    request: pytest.FixtureRequest, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp(f"adv-text-{request.param}")
    with running_app(request.param, request, tiny_model_dir, tmp, "text") as client:
        yield client


_n = iter(range(10**9))


def _key(client: TestClient) -> str:
    return demo_keys(client)[USER]


def _records(client: TestClient) -> dict[str, dict[str, Any]]:
    resp = Api(client).get(f"/v1/users/{USER}/records?limit=1000", key=ADMIN_KEY)
    assert resp.status_code == 200, resp.text
    return {r["id"]: r for r in resp.json()}


def _names(resp: Any, field: str) -> bool:
    errors = resp.json().get("errors") or []
    return any(e["field"] == field or e["field"].endswith(f".{field}") for e in errors)


def _round_trip_or_named_422(client: TestClient, notes: str) -> str:
    """Post a tasting with ``notes``; return "stored" (read back exactly) or "refused"."""
    rid = f"txt-{next(_n)}"
    body = {"id": rid, "user": USER, "notes": notes, "timestamp": "2026-11-20T08:00:00Z"}
    resp = Api(client).post("/v1/records", body, key=_key(client))
    if resp.status_code == 422:
        assert _names(resp, "notes"), f"422 without naming notes: {resp.text}"
        assert rid not in _records(client)
        return "refused"
    assert resp.status_code == 201, f"{resp.status_code} {resp.text}"
    stored = _records(client)[rid]["notes"]
    assert stored == notes, f"notes changed: {notes!r} -> {stored!r}"
    # an exact retry is recognised as the same content
    assert Api(client).post("/v1/records", body, key=_key(client)).status_code == 200
    return "stored"


ROUND_TRIP = {
    "korean": "자몽과 재스민, 꿀 같은 단맛. 산미가 밝고 여운이 길다",
    "mixed scripts": "Ethiopia Guji — 자몽, bergamot, ジャスミン, 柑橘, café crème",
    "rtl override": "sweet \u202eyrrehc\u202c finish",
    "rtl arabic/hebrew": "قهوة عربية and קפה",
    "zero width": "tea\u200drose\u200b jasmine\u200c\ufeffbloom",
    "emoji zwj sequence": "☕ 👩\u200d🔬 🫐🍋 🏳\ufe0f\u200d🌈",
    "combining marks": "cafe\u0301 Z\u0351\u0352alg\u0336o",
    "sql": "'; DROP TABLE records; -- \" OR 1=1 /* */",
    "json-ish": '{"notes": "nested"} \\u0000 \\"',
    "html": "<script>alert('x')</script> &amp; &#0;",
    "path": "../../etc/passwd %2e%2e%2f C:\\Windows",
    "controls": "bell\x07 backspace\x08 escape\x1b[31mred\x1b[0m del\x7f",
    "line separators": "a\u2028b\u2029c\r\nd",
    "astral": "𝕮𝖔𝖋𝖋𝖊𝖊 𓂀 🀄",
    "max length": "가" * MAX_NOTES_CHARS,
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIP))
def test_unusual_text_round_trips_exactly(text_client: TestClient, name: str) -> None:
    assert _round_trip_or_named_422(text_client, ROUND_TRIP[name]) == "stored"


@pytest.mark.parametrize(
    "notes",
    ["nul\x00byte", "\x00", "a" * 100 + "\x00" + "b"],
    ids=["inside", "alone", "long"],
)
def test_nul_bytes_round_trip_or_are_refused_by_name(text_client: TestClient, notes: str) -> None:
    _round_trip_or_named_422(text_client, notes)


@pytest.mark.parametrize(
    "notes",
    ["a" * (MAX_NOTES_CHARS + 1), "x" * 100_000, "자" * 100_000, "🫐" * 100_000],
    ids=["one over", "100k ascii", "100k korean", "100k emoji"],
)
def test_notes_over_the_limit_are_a_422_naming_notes(text_client: TestClient, notes: str) -> None:
    assert _round_trip_or_named_422(text_client, notes) == "refused"


def test_lone_surrogates_and_invalid_utf8_are_4xx(text_client: TestClient) -> None:
    api = Api(text_client)
    key = _key(text_client)
    lone = (
        b'{"id": "txt-surrogate", "user": "demo-minji", "notes": "half \\ud800 a pair",'
        b' "timestamp": "2026-11-20T08:00:00Z"}'
    )
    resp = api.request("POST", "/v1/records", key, content=lone)
    if resp.status_code == 201:  # if accepted, it must read back as what was sent
        assert _records(text_client)["txt-surrogate"]["notes"] == "half \ud800 a pair"
    else:
        assert resp.status_code == 422 and _names(resp, "notes"), resp.text
    bad_utf8 = b'{"id": "txt-bad-utf8", "user": "demo-minji", "notes": "\xff\xfe\xc3("}'
    resp = api.request("POST", "/v1/records", key, content=bad_utf8)
    assert 400 <= resp.status_code < 500, resp.text
    assert "txt-bad-utf8" not in _records(text_client)


@pytest.mark.parametrize(
    "bad_id",
    [
        "r1'; DROP TABLE records;--",
        "1 OR 1=1",
        '"; SELECT pg_sleep(10); --',
        "../../etc/passwd",
        "a/b",
        "a\\b",
        "%2e%2e%2f",
        "nul\x00id",
        "기록-1",
        "tab\tid",
        " ",
        "",
        "x" * 129,
        "emoji☕",
        "rtl\u202eid",
        "zwj\u200did",
    ],
)
@pytest.mark.parametrize("field", ["id", "user", "coffee"])
def test_hostile_ids_are_refused_naming_the_field(
    text_client: TestClient, bad_id: str, field: str
) -> None:
    body: dict[str, Any] = {
        "id": f"txt-id-{next(_n)}",
        "user": USER,
        "coffee": "demo-001",
        "notes": "x",
        "timestamp": "2026-11-20T08:00:00Z",
    }
    body[field] = bad_id
    key = ADMIN_KEY if field == "user" else _key(text_client)
    resp = Api(text_client).post("/v1/records", body, key=key)
    assert resp.status_code == 422, f"{resp.status_code} {resp.text}"
    assert _names(resp, field), f"422 does not name {field}: {resp.text}"


@pytest.mark.parametrize(
    "bad_id", ["../../etc/passwd", "x'; DROP TABLE users;--", "기록", "a b", "", "x" * 129]
)
def test_hostile_ids_elsewhere(text_client: TestClient, bad_id: str) -> None:
    api = Api(text_client)
    fb = {"id": bad_id, "user": USER, "coffee": "demo-001", "signal": "liked"}
    resp = api.post("/v1/feedback", fb, key=_key(text_client))
    assert resp.status_code == 422 and _names(resp, "id"), resp.text
    event = {
        "type": "lab_session",
        "event_id": bad_id,
        "user": USER,
        "event_time": "2026-11-20T08:00:00Z",
        "recipe": "V60",
        "rating": 3,
    }
    if len(bad_id) > 128:
        event["event_id"] = "x" * 201  # event ids may be longer (200) than other ids
    resp = api.post("/v1/events", event, key=_key(text_client))
    assert resp.status_code == 422 and _names(resp, "event_id"), resp.text
    resp = api.post("/v1/users", {"id": bad_id}, key=ADMIN_KEY)
    assert resp.status_code == 422 and _names(resp, "id"), resp.text


@pytest.mark.parametrize("dots", [".", "..", "..."])
def test_dot_segment_user_and_coffee_ids_are_refused(text_client: TestClient, dots: str) -> None:
    """ "." and ".." cannot be addressed in a URL path (clients and proxies resolve dot
    segments: /v1/users/../records is /v1/records), so a user or coffee with such an id
    could never be read back through its own routes. They must be refused (422)."""
    api = Api(text_client)
    resp = api.post("/v1/users", {"id": dots}, key=ADMIN_KEY)
    if dots == "...":  # not a dot segment: an ordinary, addressable id
        assert resp.status_code == 201, resp.text
        key = resp.json()["api_key"]
        assert api.get(f"/v1/users/{dots}", key=key).status_code == 200
        return
    assert resp.status_code == 422 and _names(resp, "id"), f"{resp.status_code} {resp.text}"
    body = {"id": f"txt-dots-{next(_n)}", "user": dots, "notes": "x"}
    resp = api.post("/v1/records", body, key=ADMIN_KEY)
    assert resp.status_code == 422 and _names(resp, "user"), f"{resp.status_code} {resp.text}"
    coffee = {"id": dots, "name": "Dots"}
    resp = api.request("PUT", f"/v1/coffees/{dots}", ADMIN_KEY, body=coffee)
    assert resp.status_code in (404, 405, 422), f"{resp.status_code} {resp.text}"


@pytest.mark.parametrize(
    "path_user",
    ["..", "../demo-ana", "..%2Fdemo-ana", "demo-ana'--", "%E2%80%AEana", "기록", "%20"],
)
def test_hostile_path_ids_never_reach_other_data(text_client: TestClient, path_user: str) -> None:
    """A user key asking for a path-traversal or SQL-looking user id gets a 4xx, never
    another user's data."""
    api = Api(text_client)
    for route in ("", "/records", "/signals", "/profile", "/recommendations?k=2", "/onboarding"):
        resp = api.get(f"/v1/users/{path_user}{route}", key=_key(text_client))
        assert 400 <= resp.status_code < 500, f"{path_user}{route}: {resp.status_code}"
        if resp.status_code == 200:  # pragma: no cover - would be a leak
            raise AssertionError(f"{path_user}{route} answered 200 to another user's key")
    resp = api.get(f"/v1/users/{quote(path_user, safe='')}/records", key=ADMIN_KEY)
    assert resp.status_code < 500, resp.text
    if resp.status_code == 200:
        assert resp.json() == [] or all(r["user"] != "demo-ana" for r in resp.json())


@pytest.mark.parametrize(
    ("event_type", "field", "value", "limit"),
    [
        ("subscription_paused", "reason", "자몽\u202e\u200d☕" * 50, 500),
        ("subscription_cancelled", "reason", "x" * 501, 500),
        ("lab_session", "recipe", "V60 \u202e4:6\u200d 🫖", 200),
        ("lab_session", "recipe", "r" * 201, 200),
    ],
)
def test_hostile_text_in_app_events(
    text_client: TestClient, event_type: str, field: str, value: str, limit: int
) -> None:
    event: dict[str, Any] = {
        "type": event_type,
        "event_id": f"txt-ev-{next(_n)}",
        "user": USER,
        "event_time": "2026-11-20T08:00:00Z",
        field: value,
    }
    if event_type == "lab_session":
        event["rating"] = 4
    resp = Api(text_client).post("/v1/events", event, key=_key(text_client))
    if len(value) > limit:
        assert resp.status_code == 422 and _names(resp, field), resp.text
    else:
        assert resp.status_code == 201, resp.text
        store = text_client.app.state.service.store  # type: ignore[attr-defined]
        stored = store.get_event(event["event_id"])
        assert stored is not None and getattr(stored, field) == value


def test_hostile_json_shapes_are_4xx(text_client: TestClient) -> None:
    api = Api(text_client)
    key = _key(text_client)
    for content in (
        b"[" * 50_000 + b"]" * 50_000,  # deep nesting
        b'{"id": "txt-big", "user": "demo-minji", "metrics": {"acidity": 1e999}}',
        b'{"id": "txt-nan", "user": "demo-minji", "metrics": {"acidity": NaN}}',
        b"\xef\xbb\xbf{}",  # a byte-order mark
        b"null",
        b'"a string"',
        b"",
    ):
        for route in ("/v1/records", "/v1/feedback", "/v1/events", "/v1/embed"):
            resp = api.request("POST", route, key, content=content)
            assert 400 <= resp.status_code < 500, f"{route} {content[:40]!r}: {resp.text}"


NUL_PATHS = [
    ("GET", "/v1/coffees/demo-001%00", "user"),
    ("GET", "/v1/coffees/demo-001%00/stats", "user"),
    ("GET", "/v1/coffees/demo-001%00", "admin"),
    ("DELETE", "/v1/coffees/demo-001%00", "admin"),
    ("GET", "/v1/users/demo-minji%00", "admin"),
    ("GET", "/v1/users/demo-minji%00/records", "admin"),
    ("GET", "/v1/users/demo-minji%00/profile", "admin"),
    ("GET", "/v1/users/demo-minji%00/recommendations?k=2", "admin"),
    ("GET", "/v1/users/demo-minji%00/signals", "admin"),
    ("GET", "/v1/users/demo-minji%00/onboarding", "admin"),
    ("GET", "/v1/users/demo-minji%00", "user"),
    ("GET", "/v1/users/demo-minji/recommendations?k=2&experiment=a%00&arm=b", "user"),
    ("GET", "/v1/models/edge/x%00", "user"),
]


@pytest.mark.parametrize(
    ("method", "url", "who"), NUL_PATHS, ids=[f"{m} {u} as {w}" for m, u, w in NUL_PATHS]
)
def test_a_nul_byte_in_a_path_or_query_id_is_a_4xx(
    text_client: TestClient, method: str, url: str, who: str
) -> None:
    """No valid id contains NUL (the id pattern forbids it), so such a path names nothing:
    a 4xx, or what an unknown id gets (an empty list, a cold-start answer) -- never a
    database error (PostgreSQL refuses NUL in text parameters)."""
    key = ADMIN_KEY if who == "admin" else _key(text_client)
    resp = Api(text_client).request(method, url, key)  # fails on any 5xx
    if resp.status_code == 200 and url.endswith("/records"):
        assert resp.json() == [], resp.text
    else:
        assert resp.status_code < 300 or 400 <= resp.status_code < 500, resp.text
