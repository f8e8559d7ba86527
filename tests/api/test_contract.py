"""The documented contract, case by case: error bodies, statuses, and the OpenAPI schema
that announces them (tests/api/test_schemathesis.py checks the same by generation)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from taste2vec.api import create_app
from tests.api.conftest import ADMIN, make_settings

pytestmark = pytest.mark.xdist_group("api")


@pytest.fixture(scope="module")
def client(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("contract")
    app = create_app(make_settings(tmp, tiny_model_dir, max_batch=8))
    with TestClient(app) as c:
        c.keys = json.loads((tmp / "demo-keys.json").read_text())  # type: ignore[attr-defined]
        yield c


def _ana(client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.keys['demo-ana']}"}  # type: ignore[attr-defined]


def _is_error_body(body: Any) -> bool:
    if not isinstance(body, dict) or not isinstance(body.get("detail"), str):
        return False
    if set(body) - {"detail", "errors"}:
        return False
    errors = body.get("errors", [])
    return all(isinstance(e, dict) and set(e) == {"field", "message"} for e in errors)


def test_a_metric_hint_only_for_metric_fields(client: TestClient) -> None:
    ana = _ana(client)
    fb = {"id": "ct-fb-1", "user": "demo-ana", "coffee": "demo-001", "signal": "liked", "rating": 3}
    resp = client.post("/v1/feedback", json=fb, headers=ana)
    assert resp.status_code == 422 and _is_error_body(resp.json())
    assert "allowed: 0 to 10 points" not in resp.text  # "body" is a metric's name too
    assert "rating is only allowed when signal is 'rated'" in resp.text
    record = {"id": "ct-r-1", "user": "demo-ana", "metrics": {"body": 11}}
    resp = client.post("/v1/records", json=record, headers=ana)
    assert resp.status_code == 422
    err = resp.json()["errors"][0]
    assert err["field"] == "metrics.body" and "(allowed: 0 to 10 points)" in err["message"]


def test_unparseable_bodies_are_400(client: TestClient) -> None:
    ana = {**_ana(client), "content-type": "application/json"}
    for content in (b"{not json", b"\x00", b'{"id": "a",}', b"\xff\xfe{}"):
        resp = client.post("/v1/records", content=content, headers=ana)
        assert resp.status_code == 400, (content, resp.text)
        assert _is_error_body(resp.json())
    # Valid JSON of the wrong shape is a 422, not a 400.
    resp = client.post("/v1/records", content=b"[1, 2]", headers=ana)
    assert resp.status_code == 422 and _is_error_body(resp.json())


def test_json_types_are_the_schemas(client: TestClient) -> None:
    ana = _ana(client)
    for metrics in ({"acidity": "7"}, {"acidity": True}):
        record = {"id": "ct-r-2", "user": "demo-ana", "metrics": metrics}
        resp = client.post("/v1/records", json=record, headers=ana)
        assert resp.status_code == 422 and "metrics.acidity: expected a number" in resp.text
    fb = {"id": "ct-fb-2", "user": "demo-ana", "coffee": "demo-001", "signal": "rated"}
    resp = client.post("/v1/feedback", json={**fb, "rating": "4"}, headers=ana)
    assert resp.status_code == 422 and "rating: expected an integer" in resp.text
    assert client.post("/v1/feedback", json={**fb, "rating": 4}, headers=ana).status_code == 201
    event = {
        "type": "box_rated",
        "event_id": "ct-ev-1",
        "user": "demo-ana",
        "event_time": "2026-11-25T09:00:00+09:00",
        "box": "b1",
        "rating": "4",
    }
    resp = client.post("/v1/events", json=event, headers=ana)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "rating"
    assert client.post("/v1/events", json=[], headers=ana).status_code == 422


def test_put_for_another_coffee_is_a_conflict(client: TestClient) -> None:
    coffee = {"id": "ct-c-1", "name": "Contract Kenya"}
    resp = client.put("/v1/coffees/ct-c-2", json=coffee, headers=ADMIN)
    assert resp.status_code == 409 and "differs from path id" in resp.json()["detail"]
    again = client.put("/v1/coffees/ct-c-1", json=coffee, headers=ADMIN)
    assert again.status_code == 200 and again.json()["inserted"] == 1
    again = client.put("/v1/coffees/ct-c-1", json=coffee, headers=ADMIN)
    assert again.status_code == 200 and again.json()["unchanged"] == 1


def test_405_names_every_method_of_the_path(client: TestClient) -> None:
    resp = client.post("/v1/coffees/demo-001", headers=ADMIN)
    assert resp.status_code == 405 and _is_error_body(resp.json())
    assert resp.headers["allow"] == "DELETE, GET, PUT"
    assert client.get("/v1/coffees/import", headers=ADMIN).status_code == 404  # a coffee id
    assert client.options("/v1/coffees/import").headers["allow"] == "POST"


def test_one_key_per_request(client: TestClient) -> None:
    key = client.keys["demo-ana"]  # type: ignore[attr-defined]
    url = "/v1/users/demo-ana"
    assert client.get(url, headers={"X-API-Key": key}).status_code == 200
    both = {"X-API-Key": key, "Authorization": f"Bearer {key}"}
    assert client.get(url, headers=both).status_code == 200
    for headers in (
        {"X-API-Key": key, "Authorization": "Basic c2NoZW1hOnRoZXNpcw=="},  # not a bearer
        {"X-API-Key": key, "Authorization": "Bearer"},
        {"X-API-Key": "not-a-key", "Authorization": f"Bearer {key}"},  # two different keys
    ):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"
        assert _is_error_body(resp.json())


def test_the_recommendation_route_authenticates_like_every_other_route(
    client: TestClient,
) -> None:
    """It calls ``deps.authenticate`` itself instead of declaring ``PrincipalDep``: each
    key case gets the same status, body and challenge as a route with the dependency."""
    key, ben = client.keys["demo-ana"], client.keys["demo-ben"]  # type: ignore[attr-defined]
    cases: list[dict[str, str]] = [
        {},
        {"X-API-Key": key},
        {"Authorization": f"Bearer {key}"},
        {"X-API-Key": key, "Authorization": f"Bearer {key}"},
        {"X-API-Key": key, "Authorization": "Basic c2NoZW1hOnRoZXNpcw=="},
        {"X-API-Key": key, "Authorization": "Bearer"},
        {"Authorization": "bearer " + key},  # the scheme is case-insensitive
        {"X-API-Key": "not-a-key", "Authorization": f"Bearer {key}"},
        {"X-API-Key": "not-a-key"},
        {"X-API-Key": ""},
        {"X-API-Key": ben},  # another user's key: 403 on both
        ADMIN,
    ]
    for headers in cases:
        # the key is checked before the path: a bad id with a bad key is a 401, with a
        # good key a 422 (the same as the profile route, which declares UserIdPath)
        for user, route in (("demo-ana", ""), ("bad$id", "/profile")):
            fast = client.get(f"/v1/users/{user}/recommendations?k=1", headers=headers)
            declared = client.get(f"/v1/users/{user}{route}", headers=headers)
            assert fast.status_code == declared.status_code, (user, headers)
            if fast.status_code >= 400:
                assert fast.json() == declared.json(), (user, headers)
                assert fast.headers.get("www-authenticate") == declared.headers.get(
                    "www-authenticate"
                ), (user, headers)


def test_the_schema_documents_every_error(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components and "ValidationError" not in components
    assert set(components["ErrorBody"]["required"]) == {"detail"}
    for path, item in schema["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            where = f"{method.upper()} {path}"
            for code, response in responses.items():
                if code[0] in "45" and path != "/readyz":
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ErrorBody", where
            if op.get("parameters") or op.get("requestBody"):
                assert "422" in responses, where
            if op.get("security"):
                assert {"401", "429"} <= set(responses), where
                assert "Retry-After" in responses["429"]["headers"], where
            if op.get("requestBody"):
                assert "413" in responses, where
                if "application/json" in op["requestBody"]["content"]:
                    assert "400" in responses, where
    for path in ("/v1/records", "/v1/feedback", "/v1/events"):
        op = schema["paths"][path]["post"]
        assert {"200", "201", "409"} <= set(op["responses"]), path
        assert "201" in op["description"] and "409" in op["description"], path
    assert "503" in schema["paths"]["/readyz"]["get"]["responses"]
    embed = components["EmbedRequest"]["properties"]["records"]
    assert embed["maxItems"] == 8 and embed["minItems"] == 1  # the app's max_batch
