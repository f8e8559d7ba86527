"""The web UI over HTTP (no browser): sign-in, cookies, CSRF, ownership, validation,
escaping, the preview, and that the JSON API is unchanged."""

from __future__ import annotations

import re
from typing import Any

import pytest

from taste2vec.recommend.explain import FAMILY_WORDS, FAMILY_WORDS_KO
from tests.ui.conftest import clear_failures

pytestmark = [pytest.mark.xdist_group("ui")]


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def _sign_in(client: Any, name: str, password: str | None = None) -> Any:
    client.cookies.clear()
    token = _csrf(client.get("/login").text)
    return client.post(
        "/login",
        data={
            "username": name,
            "password": client.logins[name] if password is None else password,
            "csrf_token": token,
        },
        follow_redirects=False,
    )


def test_front_door_sends_strangers_to_sign_in(ui_client: Any) -> None:
    ui_client.cookies.clear()
    r = ui_client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = ui_client.get("/u/demo-ana/taste", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/u/demo-ana")


def test_sign_in_sets_a_safe_session_cookie(ui_client: Any) -> None:
    r = _sign_in(ui_client, "demo-ana")
    assert r.status_code == 303 and r.headers["location"] == "/u/demo-ana/taste"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("t2v_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # loopback: plain http in development
    assert ui_client.get("/u/demo-ana/taste").status_code == 200


def test_session_cookie_is_secure_off_loopback(ui_client: Any) -> None:
    ui_client.cookies.clear()
    page = ui_client.get("http://shop.example/login")
    assert "Secure" in page.headers["set-cookie"]
    token = _csrf(page.text)
    r = ui_client.post(
        "http://shop.example/login",
        data={
            "username": "demo-ben",
            "password": ui_client.logins["demo-ben"],
            "csrf_token": token,
        },
        headers={"cookie": f"t2v_login_csrf={token}"},  # a Secure cookie: http won't send it
        follow_redirects=False,
    )
    assert r.status_code == 303
    session = next(c for c in r.headers.get_list("set-cookie") if c.startswith("t2v_session="))
    assert "Secure" in session and "HttpOnly" in session


def test_passwords_are_stored_as_argon2_hashes(ui_client: Any) -> None:
    store = ui_client.app.state.service.store
    account = store.get_account("demo-ana")
    assert account.password_hash.startswith("$argon2id$")
    assert ui_client.logins["demo-ana"] not in account.password_hash


def test_wrong_password_then_slowed_down_with_a_message(ui_client: Any) -> None:
    store = ui_client.app.state.service.store
    try:
        for _ in range(3):
            r = _sign_in(ui_client, "demo-lena", "not-the-password")
            assert r.status_code == 401
            assert "사용자 이름 또는 비밀번호가 틀렸습니다" in r.text
        # Now even the right password waits: the attempt is refused without a check.
        r = _sign_in(ui_client, "demo-lena")
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert "로그인 실패가 너무 많습니다" in r.text and "사용자 이름" in r.text
        assert "t2v_session" not in r.headers.get("set-cookie", "")
    finally:
        store.clear_login_failures("name:demo-lena")
        clear_failures(store)
    assert _sign_in(ui_client, "demo-lena").status_code == 303


def test_many_names_from_one_address_are_slowed_down(ui_client: Any) -> None:
    store = ui_client.app.state.service.store
    try:
        for i in range(10):
            assert _sign_in(ui_client, "demo-kofi", f"guess-{i}-xxxx").status_code in (401, 429)
            store.clear_login_failures("name:demo-kofi")  # only the address counter grows
        r = _sign_in(ui_client, "demo-kofi")
        assert r.status_code == 429 and "주소" in r.text
    finally:
        store.clear_login_failures("name:demo-kofi")
        clear_failures(store)


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(ui_client: Any) -> None:
    try:
        r = _sign_in(ui_client, "demo-ana", "wrong-password")
        ui_client.logins["nobody"] = "whatever-password"
        r2 = _sign_in(ui_client, "nobody")
        assert r.status_code == r2.status_code == 401
    finally:
        store = ui_client.app.state.service.store
        store.clear_login_failures("name:demo-ana")
        store.clear_login_failures("name:nobody")
        clear_failures(store)


def test_a_taster_cannot_open_another_tasters_pages(ui_client: Any) -> None:
    assert _sign_in(ui_client, "demo-ana").status_code == 303
    for page in ("taste", "log", "recommendations", "signals"):
        r = ui_client.get(f"/u/demo-ben/{page}")
        assert r.status_code == 403, page
        assert "다른 사용자의 페이지" in r.text
    assert ui_client.get("/console").status_code == 403


def test_the_console_needs_the_admin_role(ui_client: Any) -> None:
    r = _sign_in(ui_client, "admin")
    assert r.status_code == 303 and r.headers["location"] == "/console"
    page = ui_client.get("/console")
    assert page.status_code == 200 and "demo-ana" in page.text


def test_state_changes_need_the_csrf_token(ui_client: Any) -> None:
    _sign_in(ui_client, "demo-ana")
    before = len(ui_client.app.state.service.store.records_for_user("demo-ana", limit=1000))
    r = ui_client.post("/u/demo-ana/log", data={"notes": "no token"})
    assert r.status_code == 403
    r = ui_client.post("/u/demo-ana/log", data={"notes": "forged", "csrf_token": "forged"})
    assert r.status_code == 403
    token = _csrf(ui_client.get("/u/demo-ana/log").text)
    r = ui_client.post(  # the right token from another site's page
        "/u/demo-ana/log",
        data={"notes": "cross-site", "csrf_token": token},
        headers={"origin": "http://evil.example"},
    )
    assert r.status_code == 403
    assert ui_client.post("/logout", data={}).status_code == 403
    after = len(ui_client.app.state.service.store.records_for_user("demo-ana", limit=1000))
    assert after == before


def test_form_errors_are_the_api_rules_next_to_the_field(ui_client: Any) -> None:
    _sign_in(ui_client, "demo-ana")
    token = _csrf(ui_client.get("/u/demo-ana/log").text)
    r = ui_client.post(
        "/u/demo-ana/log",
        data={
            "csrf_token": token,
            "notes": "fine",
            "metrics.acidity": "11",
            "metrics.water_temp_c": "hot",
            "context.hour": "25",
            "context.location_type": "moon",
            "coffee": "no-such-coffee",
        },
    )
    assert r.status_code == 422
    errors = dict(
        re.findall(r'<p class="field-error" id="err-([^"]+)" role="alert">([^<]+)', r.text)
    )
    assert "less than or equal to 10" in errors["metrics-acidity"]
    assert "valid number" in errors["metrics-water_temp_c"]
    assert "less than or equal to 23" in errors["context-hour"]
    assert "context-location_type" in errors
    # The input points at its error for screen readers.
    assert 'aria-describedby="err-metrics-acidity"' in r.text
    # A valid form with an unknown coffee: the store's 404 becomes the coffee field's error.
    r = ui_client.post(
        "/u/demo-ana/log",
        data={"csrf_token": token, "notes": "fine", "coffee": "no-such-coffee"},
    )
    assert r.status_code == 422 and 'id="err-coffee"' in r.text


def test_user_text_is_never_rendered_unescaped(ui_client: Any) -> None:
    _sign_in(ui_client, "demo-ana")
    token = _csrf(ui_client.get("/u/demo-ana/log").text)
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r = ui_client.post(
        "/u/demo-ana/log", data={"csrf_token": token, "notes": evil, "metrics.acidity": "12"}
    )
    assert r.status_code == 422  # shown again in the form, escaped
    assert "<script>alert" not in r.text and "<img src=x" not in r.text
    assert "&lt;script&gt;alert" in r.text
    r = ui_client.post(
        "/u/demo-ana/log",
        data={"csrf_token": token, "notes": evil},
        follow_redirects=False,
    )
    assert r.status_code == 303
    stored = ui_client.app.state.service.store.records_for_user("demo-ana", limit=1)[-1]
    assert stored.notes == evil  # stored as typed ...
    for page in ("taste", "log", "recommendations", "signals"):
        html = ui_client.get(f"/u/demo-ana/{page}").text
        assert "<script>alert" not in html and "<img src=x" not in html  # ... never run
    assert (
        "script-src 'self'" in ui_client.get("/u/demo-ana/taste").headers["content-security-policy"]
    )


def test_the_lexicon_preview(ui_client: Any) -> None:
    _sign_in(ui_client, "demo-ana")
    r = ui_client.get("/ui/api/hear", params={"text": "자몽과 재스민, bright lemon"})
    assert r.status_code == 200
    names = [h["name"] for h in r.json()["items"]]
    assert names == ["Grapefruit", "Jasmine", "Lemon"]
    assert r.json()["items"][1]["name_ko"] == "재스민"
    assert ui_client.get("/ui/api/hear", params={"text": "x" * 5001}).status_code == 422
    ui_client.cookies.clear()
    assert (
        ui_client.get("/ui/api/hear", params={"text": "lemon"}, follow_redirects=False).status_code
        == 303
    )


def test_language_switch(ui_client: Any) -> None:
    _sign_in(ui_client, "demo-ana")
    assert "내 취향" in ui_client.get("/u/demo-ana/taste").text
    r = ui_client.get("/lang/en?next=/u/demo-ana/taste")
    assert r.status_code == 200 and "My taste" in r.text and 'lang="en"' in r.text
    assert (
        ui_client.get("/lang/ko?next=//evil.example", follow_redirects=False).headers["location"]
        == "/"
    )
    ui_client.get("/lang/ko")


def test_recommendations_are_explained_in_the_page_language(ui_client: Any) -> None:
    _sign_in(ui_client, "demo-ana")
    words_ko = list(FAMILY_WORDS_KO.values())
    words_en = [w for phrase in FAMILY_WORDS.values() for w in phrase.split(", ")]
    ko = ui_client.get("/u/demo-ana/recommendations").text
    assert ko.count('class="rec card"') > 0
    assert any(w in ko for w in words_ko) and not any(f"{w} notes" in ko for w in words_en)
    en = ui_client.get("/lang/en?next=/u/demo-ana/recommendations").text
    assert any(f"{w} notes" in en for w in words_en)
    ui_client.get("/lang/ko")


def test_the_json_api_is_unchanged(ui_client: Any) -> None:
    ui_client.cookies.clear()
    key = ui_client.keys["demo-ana"]
    r = ui_client.get("/v1/users/demo-ana/profile", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and "radar" in r.json()
    # A UI session is not an API credential.
    _sign_in(ui_client, "demo-ana")
    assert ui_client.get("/v1/users/demo-ana/profile").status_code == 401
    paths = ui_client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/u/", "/login", "/ui", "/console"))]
