"""POST/GET /v1/users/{id}/onboarding: a new user's answer, stored once, used at once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, auth


def _new_user(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/v1/users", json={"id": user}, headers=ADMIN)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['api_key']}"}


def _recs(client: TestClient, user: str, headers: dict[str, str]) -> list[str]:
    r = client.get(f"/v1/users/{user}/recommendations?k=10", headers=headers)
    assert r.status_code == 200, r.text
    return [item["coffee"] for item in r.json()["items"]]


def test_options_list_families_and_three_archetype_coffees(client: TestClient) -> None:
    h = _new_user(client, "onb-options")
    r = client.get("/v1/users/onb-options/onboarding", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["families"]) == 9 and "Fruity" in body["families"]
    archetypes = [a["coffee_id"] for a in body["archetypes"]]
    assert len(archetypes) == 3 == len(set(archetypes))
    assert body["chosen_families"] == [] and body["ratings"] == {}


def test_answer_is_stored_idempotent_and_moves_the_recommendations(client: TestClient) -> None:
    h = _new_user(client, "onb-1")
    before = _recs(client, "onb-1", h)
    options = client.get("/v1/users/onb-1/onboarding", headers=h).json()
    archetypes = [a["coffee_id"] for a in options["archetypes"]]
    body = {"families": ["Fruity", "Floral"], "ratings": {archetypes[0]: 5, archetypes[1]: 1}}
    first = client.post("/v1/users/onb-1/onboarding", json=body, headers=h)
    assert first.status_code == 201, first.text
    assert first.json()["created"] is True and first.json()["families"] == ["Fruity", "Floral"]
    again = client.post("/v1/users/onb-1/onboarding", json=body, headers=h)
    assert again.status_code == 200 and again.json()["created"] is False
    after = _recs(client, "onb-1", h)
    assert after != before
    assert not {archetypes[0], archetypes[1]} & set(after)  # rated: excluded like feedback
    stored = client.get("/v1/users/onb-1/onboarding", headers=h).json()
    assert stored["chosen_families"] == ["Fruity", "Floral"]
    assert stored["ratings"] == {archetypes[0]: 5, archetypes[1]: 1}
    user = client.get("/v1/users/onb-1", headers=h).json()
    assert user["n_feedback"] == 2  # the ratings are ordinary feedback, stored once
    changed = client.post(
        "/v1/users/onb-1/onboarding", json={"ratings": {archetypes[0]: 2}}, headers=h
    )
    assert changed.status_code == 409, changed.text


def test_families_alone_move_a_cold_users_recommendations(client: TestClient) -> None:
    h = _new_user(client, "onb-fam")
    before = _recs(client, "onb-fam", h)
    r = client.post("/v1/users/onb-fam/onboarding", json={"families": ["Roasted"]}, headers=h)
    assert r.status_code == 201, r.text
    assert _recs(client, "onb-fam", h) != before
    # replacing the families is a change; the same families again are not
    r = client.post("/v1/users/onb-fam/onboarding", json={"families": ["Floral"]}, headers=h)
    assert r.status_code == 201 and r.json()["families"] == ["Floral"]
    r = client.post("/v1/users/onb-fam/onboarding", json={"families": ["Floral"]}, headers=h)
    assert r.status_code == 200


def test_invalid_answers_are_422_naming_the_field(client: TestClient) -> None:
    h = _new_user(client, "onb-bad")
    cases = [
        ({"families": ["Fruity", "Umami"]}, "families.1"),
        ({"ratings": {"demo-001": 6}}, "ratings"),
        ({"families": ["Fruity", "Sweet", "Floral", "Spices"]}, "families"),
        ({}, ""),
        ({"families": ["Fruity"], "extra": 1}, "extra"),
    ]
    for body, field in cases:
        r = client.post("/v1/users/onb-bad/onboarding", json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        fields = [e["field"] for e in r.json()["errors"]]
        assert any(field in f for f in fields), (body, fields)
    # an unknown coffee is a 404, as on /v1/feedback, and nothing is stored
    r = client.post(
        "/v1/users/onb-bad/onboarding",
        json={"families": ["Fruity"], "ratings": {"no-such-coffee": 4}},
        headers=h,
    )
    assert r.status_code == 404 and "no-such-coffee" in r.json()["detail"]
    assert client.get("/v1/users/onb-bad/onboarding", headers=h).json()["chosen_families"] == []


def test_a_user_key_reaches_only_its_own_onboarding(client: TestClient) -> None:
    h = auth(client, "demo-ana")
    r = client.post("/v1/users/demo-ben/onboarding", json={"families": ["Fruity"]}, headers=h)
    assert r.status_code == 403
    assert client.get("/v1/users/demo-ben/onboarding", headers=h).status_code == 403
    assert client.post(
        "/v1/users/demo-ana/onboarding", json={"families": ["Fruity"]}, headers=ADMIN
    ).status_code in (200, 201)
