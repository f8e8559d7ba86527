"""The HTTP API end to end, on SQLite with the demo data and a small trained model."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, auth

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("api")]


def _record(rid: str, user: str = "demo-ana", **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": rid,
        "user": user,
        "timestamp": "2026-11-20T08:00:00+09:00",
        "notes": "bright lemon, jasmine, black tea",
        "metrics": {"acidity": 8, "body": 3},
    }
    body.update(extra)
    return body


def test_health_ready_metrics_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["coffees"] >= 90
    loops = ready["loops"]  # every background loop, under the one supervisor
    assert {"follower", "outbox-relay", "event-buffer", "stream-worker"} <= set(loops)
    assert all(loop["state"] == "running" for loop in loops.values())
    client.get("/v1/coffees", headers=ADMIN)
    metrics = client.get("/metrics").text
    assert "t2v_http_requests_total" in metrics and 'route="/v1/coffees"' in metrics
    assert 't2v_loop_up{loop="follower"} 1.0' in metrics
    spec = client.get("/openapi.json").json()
    assert "/v1/users/{user_id}/recommendations" in spec["paths"]
    post = spec["paths"]["/v1/records"]["post"]
    assert "example" in str(post["requestBody"]) or "examples" in str(post["requestBody"])


def test_authentication_and_roles(client: TestClient) -> None:
    assert client.get("/v1/coffees").status_code == 401
    assert client.get("/v1/coffees", headers={"X-API-Key": "nope"}).status_code == 401
    ana = auth(client, "demo-ana")
    assert client.get("/v1/coffees", headers=ana).status_code == 200
    assert client.get("/v1/users/demo-ben/profile", headers=ana).status_code == 403
    assert (
        client.post("/v1/records", json=_record("x1", user="demo-ben"), headers=ana).status_code
        == 403
    )
    coffee = {"id": "new-1", "name": "Test Kenya"}
    assert client.put("/v1/coffees/new-1", json=coffee, headers=ana).status_code == 403
    assert client.put("/v1/coffees/new-1", json=coffee, headers=ADMIN).status_code == 200
    created = client.post("/v1/users", json={"id": "kim"}, headers=ADMIN)
    assert created.status_code == 201
    key = created.json()["api_key"]
    assert (
        client.get("/v1/users/kim", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )
    assert client.post("/v1/users", json={"id": "kim"}, headers=ADMIN).status_code == 409


def test_record_ingestion_is_idempotent(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    first = client.post("/v1/records", json=_record("api-r1"), headers=ana)
    assert first.status_code == 201 and first.json() == {"id": "api-r1", "created": True}
    again = client.post("/v1/records", json=_record("api-r1"), headers=ana)
    assert again.status_code == 200 and again.json()["created"] is False
    changed = client.post("/v1/records", json=_record("api-r1", notes="different"), headers=ana)
    assert changed.status_code == 409
    # Out of order: an older tasting arriving later is stored in time order.
    old = _record("api-r0", timestamp="2020-01-01T00:00:00Z")
    assert client.post("/v1/records", json=old, headers=ana).status_code == 201
    ids = [r["id"] for r in client.get("/v1/users/demo-ana/records?limit=1000", headers=ana).json()]
    assert ids.index("api-r0") < ids.index("api-r1")


def test_bad_input_names_the_field(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    bad = _record("api-bad", metrics={"acidity": 42})
    resp = client.post("/v1/records", json=bad, headers=ana)
    assert resp.status_code == 422
    err = resp.json()["errors"][0]
    assert err["field"] == "metrics.acidity" and "0 to 10" in err["message"]
    resp = client.post(
        "/v1/records", content=b"{not json", headers={**ana, "content-type": "application/json"}
    )
    assert resp.status_code == 400  # unparseable: 400; parseable but invalid: 422
    fb = {"id": "fb-x", "user": "demo-ana", "coffee": "no-such-coffee", "signal": "liked"}
    assert client.post("/v1/feedback", json=fb, headers=ana).status_code == 404
    fb = {"id": "fb-y", "user": "demo-ana", "coffee": "demo-001", "signal": "rated"}
    resp = client.post("/v1/feedback", json=fb, headers=ana)
    assert resp.status_code == 422 and "rating" in resp.text


def test_request_size_limit(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    huge = _record("api-huge", notes="x" * 70_000)
    assert client.post("/v1/records", json=huge, headers=ana).status_code == 413


def test_recommendations_have_reasons_and_follow_feedback(client: TestClient) -> None:
    client.post("/v1/users", json={"id": "newbie"}, headers=ADMIN)
    key = client.post("/v1/users", json={"id": "newbie2"}, headers=ADMIN).json()["api_key"]
    h = {"Authorization": f"Bearer {key}"}
    before = client.get("/v1/users/newbie2/recommendations?k=5", headers=h).json()
    assert len(before["items"]) == 5
    assert all(item["explanation"] for item in before["items"])
    assert client.get("/v1/users/newbie2/profile", headers=h).status_code == 404
    # Like the first two recommendations, dislike the third.
    for i, item in enumerate(before["items"][:3]):
        signal = "disliked" if i == 2 else "liked"
        fb = {"id": f"nb-{i}", "user": "newbie2", "coffee": item["coffee"], "signal": signal}
        assert client.post("/v1/feedback", json=fb, headers=h).status_code == 201
    after = client.get("/v1/users/newbie2/recommendations?k=5", headers=h).json()
    rated = {i["coffee"] for i in before["items"][:3]}
    assert not rated & {i["coffee"] for i in after["items"]}  # already rated: left out
    assert [i["coffee"] for i in after["items"]] != [i["coffee"] for i in before["items"]]
    prof = client.get("/v1/users/newbie2/profile", headers=h).json()
    assert set(prof["radar"]) >= {"acidity", "body"} and prof["n_feedback"] == 3
    assert len(prof["map_xy"]) == 2 and prof["top_families"]


def test_context_is_accepted_and_validated(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    ok = client.get(
        "/v1/users/demo-ana/recommendations?k=3&hour=21&location_type=cafe&mood=4", headers=ana
    )
    assert ok.status_code == 200 and len(ok.json()["items"]) == 3
    bad = client.get("/v1/users/demo-ana/recommendations?hour=25", headers=ana)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "hour"


def test_embed_one_and_batch(client: TestClient) -> None:
    ana = auth(client, "demo-ana")
    one = client.post("/v1/embed", json={"records": [_record("e1")]}, headers=ana)
    assert one.status_code == 200
    item = one.json()["items"][0]
    assert len(item["embedding"]) == 128 and "sensory" in item["explanation"]
    batch = [_record(f"e{i}", notes=n) for i, n in enumerate(["plum", "자몽, 꿀", ""])]
    assert len(client.post("/v1/embed", json={"records": batch}, headers=ana).json()["items"]) == 3
    too_many = [_record(f"m{i}") for i in range(9)]
    assert client.post("/v1/embed", json={"records": too_many}, headers=ana).status_code == 413


def test_catalogue_csv_import(client: TestClient) -> None:
    csv_text = "id,name,roaster,process,acidity,stock\ncsv-1,Test Rwanda,Ours,washed,7.5,10\n"
    resp = client.post(
        "/v1/coffees/import", content=csv_text, headers={**ADMIN, "content-type": "text/csv"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["inserted"] == 1
    assert client.get("/v1/coffees/csv-1", headers=ADMIN).json()["name"] == "Test Rwanda"
    bad = "id,name,acidity\ncsv-2,Bad,99\n"
    resp = client.post(
        "/v1/coffees/import", content=bad, headers={**ADMIN, "content-type": "text/csv"}
    )
    assert resp.status_code == 422 and "row 2" in resp.text
