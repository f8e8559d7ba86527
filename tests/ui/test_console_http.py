"""The operator console over HTTP (no browser): admin only, the catalogue (search, stock,
CSV import, delete with confirmation), the stream page, CSRF and escaping."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from markupsafe import escape

from taste2vec.schema import Coffee
from tests.ui.test_ui_http import _csrf, _sign_in

pytestmark = [pytest.mark.xdist_group("ui")]

T = TypeVar("T")
CONSOLE_PAGES = (
    "/console",
    "/console/catalogue",
    "/console/catalogue/import",
    "/console/catalogue/demo-001/delete",
    "/console/stream",
    "/console/stream/dead-letters",
)


def _until(probe: Callable[[], T | None], timeout_s: float = 60.0) -> T:
    """Wait for the background loops (relay, stream worker) to get somewhere."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("the stream did not catch up")
        time.sleep(0.1)


def _admin(client: Any) -> str:
    """Sign in as admin; the session's CSRF token."""
    assert _sign_in(client, "admin").status_code == 303
    return _csrf(client.get("/console/catalogue").text)


def _stock_error(html: str) -> str:
    found = re.search(r'<p class="field-error" id="err-stock-\d+" role="alert">([^<]+)', html)
    assert found, "no stock error in the page"
    return found.group(1)


def test_admin_sees_every_console_page(ui_client: Any) -> None:
    _admin(ui_client)
    for path in CONSOLE_PAGES:
        r = ui_client.get(path)
        assert r.status_code == 200, path
        assert "script-src 'self'" in r.headers["content-security-policy"]
    html = ui_client.get("/console/catalogue").text
    assert 'aria-current="page"' in html and 'href="/console/stream"' in html


def test_a_taster_gets_403_on_every_console_page_and_form(ui_client: Any) -> None:
    assert _sign_in(ui_client, "demo-ana").status_code == 303
    token = _csrf(ui_client.get("/u/demo-ana/log").text)
    for path in CONSOLE_PAGES:
        r = ui_client.get(path)
        assert r.status_code == 403, path
        assert "관리자 권한" in r.text
    for path, data in (
        ("/console/catalogue/demo-001/stock", {"stock": "0"}),
        ("/console/catalogue/demo-001/delete", {"confirm": "demo-001"}),
    ):
        assert ui_client.post(path, data={"csrf_token": token, **data}).status_code == 403
    r = ui_client.post(
        "/console/catalogue/import",
        data={"csrf_token": token},
        files={"file": ("c.csv", b"id,name\nx-taster,X\n", "text/csv")},
    )
    assert r.status_code == 403
    store = ui_client.app.state.service.store
    assert store.get_coffee("demo-001") is not None and store.get_coffee("x-taster") is None
    ui_client.cookies.clear()  # and a stranger is sent to sign in
    r = ui_client.get("/console/stream", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/console/stream"


def test_catalogue_search_and_pages(ui_client: Any) -> None:
    _admin(ui_client)
    total = ui_client.app.state.service.store.count_coffees()
    first = ui_client.get("/console/catalogue")
    shown = re.findall(r'data-coffee="([^"]+)"', first.text)
    assert len(shown) == min(total, 25) and shown == sorted(shown)
    assert f"커피 {total}종" in first.text
    if total > 25:
        second = ui_client.get("/console/catalogue?page=2")
        assert set(re.findall(r'data-coffee="([^"]+)"', second.text)).isdisjoint(shown)
        assert 'rel="prev"' in second.text
    one = ui_client.get("/console/catalogue", params={"q": shown[0]})
    assert re.findall(r'data-coffee="([^"]+)"', one.text)[:1] == [shown[0]]
    none = ui_client.get("/console/catalogue", params={"q": "<no such coffee>"})
    assert "일치하는 커피가 없습니다" in none.text and "&lt;no such coffee&gt;" in none.text
    assert ui_client.get("/console/catalogue?page=0").status_code == 422
    assert ui_client.get("/console/catalogue", params={"q": "x" * 101}).status_code == 422


def test_stock_edit_is_validated_with_the_api_rule_next_to_the_field(ui_client: Any) -> None:
    token = _admin(ui_client)
    store = ui_client.app.state.service.store
    before = store.get_coffee("demo-002")
    assert before is not None
    for bad, words in (
        ("-1", "greater than or equal to 0"),
        ("2.5", "valid integer"),
        ("lots", "valid integer"),
        ("10000001", "less than or equal to 10000000"),
        ("", "valid integer"),
    ):
        r = ui_client.post(
            "/console/catalogue/demo-002/stock",
            data={"csrf_token": token, "stock": bad, "q": "demo-002"},
        )
        assert r.status_code == 422, bad
        assert words in _stock_error(r.text), bad
        # the input keeps what was typed and points at its error
        assert re.search(r'value="' + re.escape(bad) + r'"\s+aria-invalid="true"', r.text)
        assert store.get_coffee("demo-002") == before
    # The same value through the JSON API is refused by the same rule.
    api = ui_client.put(
        "/v1/coffees/demo-002",
        json={**before.model_dump(mode="json"), "stock": -1},
        headers={"Authorization": f"Bearer {ui_client.app.state.admin_key}"},
    )
    assert api.status_code == 422 and "greater than or equal to 0" in api.text
    r = ui_client.post(
        "/console/catalogue/demo-002/stock",
        data={"csrf_token": token, "stock": " 7 ", "q": "demo-002"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith(
        "/console/catalogue?q=demo-002"
    )
    after = store.get_coffee("demo-002")
    assert after is not None and after.stock == 7
    assert after.model_dump(exclude={"stock"}) == before.model_dump(exclude={"stock"})
    page = ui_client.get(r.headers["location"])
    assert "demo-002의 재고를 저장했습니다" in page.text
    r = ui_client.post(
        "/console/catalogue/no-such-coffee/stock", data={"csrf_token": token, "stock": "1"}
    )
    assert r.status_code == 404


def test_csv_import_stores_the_good_rows_and_shows_each_bad_one(ui_client: Any) -> None:
    token = _admin(ui_client)
    store = ui_client.app.state.service.store
    csv_text = (
        "id,name,roaster,stock,acidity\n"
        "ui-imp-1,Imported One,Roastery,4,7\n"
        "ui-imp-2,<script>alert(1)</script>,Roastery,-3,7\n"  # row 3: stock out of range
        "ui-imp-3,Imported Three,Roastery,2,11\n"  # row 4: acidity out of range
        "demo-003,Renamed Demo,Roastery,5,\n"  # an update
    )
    r = ui_client.post(
        "/console/catalogue/import",
        data={"csrf_token": token},
        files={"file": ("catalogue.csv", csv_text.encode(), "text/csv")},
    )
    assert r.status_code == 422
    counts = dict(re.findall(r'<dd data-count="(\w+)">(\d+)</dd>', r.text))
    assert counts == {"inserted": "1", "updated": "1", "unchanged": "0", "refused": "2"}
    rows = re.findall(
        r'<tr data-row="(\d+)"><td>\d+</td><td><code>([^<]+)</code></td><td>([^<]+)</td>', r.text
    )
    assert [(n, c) for n, c, _ in rows] == [("3", "stock"), ("4", "acidity")]
    assert "greater than or equal to 0" in rows[0][2] and "less than or equal to 10" in rows[1][2]
    assert "<script>alert" not in r.text
    imported = store.get_coffee("ui-imp-1")
    assert imported is not None and imported.stock == 4
    assert store.get_coffee("ui-imp-2") is None and store.get_coffee("ui-imp-3") is None
    renamed = store.get_coffee("demo-003")
    assert renamed is not None and renamed.name == "Renamed Demo"
    # The same good rows again: unchanged, and a clean file answers 200.
    good = "id,name,roaster,stock,acidity\nui-imp-1,Imported One,Roastery,4,7\n"
    r = ui_client.post(
        "/console/catalogue/import",
        data={"csrf_token": token},
        files={"file": ("again.csv", good.encode(), "text/csv")},
    )
    assert r.status_code == 200 and "모든 줄을 가져왔습니다" in r.text
    counts = dict(re.findall(r'<dd data-count="(\w+)">(\d+)</dd>', r.text))
    assert counts == {"inserted": "0", "updated": "0", "unchanged": "1", "refused": "0"}


def test_csv_import_refuses_a_bad_file_next_to_the_file_field(ui_client: Any) -> None:
    token = _admin(ui_client)
    before = ui_client.app.state.service.store.count_coffees()
    for data, words in (
        (b"id,name,colour\nui-bad-1,X,red\n", "unknown column(s) [&#39;colour&#39;]"),
        (b"", "the file is empty"),
        ("id,name\nui-bad-2,Jos\xe9\n".encode("latin-1"), "not UTF-8"),
        (b"name\nX\n", "required column(s) [&#39;id&#39;]"),
    ):
        r = ui_client.post(
            "/console/catalogue/import",
            data={"csrf_token": token},
            files={"file": ("bad.csv", data, "text/csv")},
        )
        assert r.status_code == 422
        found = re.search(r'<p class="field-error" id="err-file" role="alert">([^<]+)', r.text)
        assert found and words in found.group(1), (words, r.text[-2000:])
        assert 'aria-describedby="file-hint err-file"' in r.text
    r = ui_client.post("/console/catalogue/import", data={"csrf_token": token})  # no file
    assert r.status_code == 422 and 'id="err-file"' in r.text
    assert ui_client.app.state.service.store.count_coffees() == before


def test_delete_needs_the_confirmation_step(ui_client: Any) -> None:
    token = _admin(ui_client)
    store = ui_client.app.state.service.store
    store.upsert_coffees([Coffee(id="ui-del-1", name="Delete <b>me</b>", roaster="R")])
    page = ui_client.get("/console/catalogue/ui-del-1/delete")
    assert page.status_code == 200 and "Delete &lt;b&gt;me&lt;/b&gt;" in page.text
    assert 'name="confirm" value="ui-del-1"' in page.text
    # A post without the confirmation (or confirming another coffee) only asks again.
    for data in ({}, {"confirm": "demo-001"}, {"confirm": ""}):
        r = ui_client.post("/console/catalogue/ui-del-1/delete", data={"csrf_token": token, **data})
        assert r.status_code == 200 and 'id="delete-form"' in r.text
        assert store.get_coffee("ui-del-1") is not None
    r = ui_client.post(
        "/console/catalogue/ui-del-1/delete",
        data={"csrf_token": token, "confirm": "ui-del-1"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "deleted=ui-del-1" in r.headers["location"]
    assert store.get_coffee("ui-del-1") is None
    assert ui_client.get("/console/catalogue/ui-del-1/delete").status_code == 404
    r = ui_client.post(
        "/console/catalogue/ui-del-1/delete", data={"csrf_token": token, "confirm": "ui-del-1"}
    )
    assert r.status_code == 404


def test_console_forms_are_refused_without_the_csrf_token(ui_client: Any) -> None:
    token = _admin(ui_client)
    store = ui_client.app.state.service.store
    stock = store.get_coffee("demo-004").stock
    forms: list[tuple[str, dict[str, str]]] = [
        ("/console/catalogue/demo-004/stock", {"stock": str(stock + 1)}),
        ("/console/catalogue/demo-004/delete", {"confirm": "demo-004"}),
    ]
    for path, data in forms:
        assert ui_client.post(path, data=data).status_code == 403
        assert ui_client.post(path, data={**data, "csrf_token": "forged"}).status_code == 403
        r = ui_client.post(  # the right token, from another site's page
            path, data={**data, "csrf_token": token}, headers={"origin": "http://evil.example"}
        )
        assert r.status_code == 403 and "다른 사이트" in r.text
    upload = {"file": ("c.csv", b"id,name\nui-csrf-1,X\n", "text/csv")}
    assert ui_client.post("/console/catalogue/import", files=upload).status_code == 403
    r = ui_client.post("/console/catalogue/import", data={"csrf_token": "no"}, files=upload)
    assert r.status_code == 403
    assert store.get_coffee("demo-004").stock == stock
    assert store.get_coffee("ui-csrf-1") is None


def test_stream_page_shows_lag_loops_arms_and_dead_letters(ui_client: Any) -> None:
    _admin(ui_client)
    service = ui_client.app.state.service
    keys = ui_client.keys
    ana = {"Authorization": f"Bearer {keys['demo-ana']}"}
    recs = ui_client.get(
        "/v1/users/demo-ana/recommendations?k=2&experiment=exp-ui&arm=b", headers=ana
    ).json()
    click = {
        "type": "recommendation_clicked",
        "event_id": f"ui-click-{recs['request']}",
        "user": "demo-ana",
        "event_time": "2026-01-10T08:00:00Z",
        "coffee": recs["items"][0]["coffee"],
        "request": recs["request"],
        "experiment": "exp-ui",
        "arm": "b",
    }
    assert ui_client.post("/v1/events", json=click, headers=ana).status_code == 201
    # Something the worker cannot read: a dead letter with its reason.
    assert service.relay is not None
    service.relay.log.append([("demo-ana", b'{"type": "box_rated", <not json>')])
    reader = ui_client.app.state.stream_reader
    forged = "<not json>"
    _until(
        lambda: (
            any(forged in d["payload"] for d in reader.dead_letters())
            and reader.arm_metrics("exp-ui")
        )
    )
    position = next(i for i, d in enumerate(reader.dead_letters()) if forged in d["payload"])
    reason = reader.dead_letters()[position]["reason"]

    html = ui_client.get("/console/stream").text
    assert "스트림" in html and "백그라운드 루프" in html
    for loop in ("outbox-relay", "event-buffer", "stream-worker"):
        assert f'data-loop="{loop}"' in html
    assert "실행 중" in html  # the loops' state
    arm = re.search(r'data-arm="exp-ui/b">.*?<td class="ctr">([^<]+)</td>', html, flags=re.DOTALL)
    assert arm and arm.group(1).endswith("%")
    assert re.search(r'<td class="lag">\d+</td>', html)
    assert re.search(r'<dd id="total-lag">\d+</dd>', html)
    assert '<table class="data" id="dead-letters">' in html
    assert "<not json>" not in html  # payloads are escaped
    reasons = re.findall(r'<ul id="dead-reasons">(.*?)</ul>', html, flags=re.DOTALL)
    assert reasons and "<li>" in reasons[0]
    summary = re.search(r"데드 레터 \((\d+)\)", html)
    assert summary and int(summary.group(1)) == len(reader.dead_letters())
    # Rates come from two looks at the page (at least half a second apart).
    time.sleep(0.6)
    later = ui_client.get("/console/stream").text
    assert re.search(r'<dd id="consumed-rate">\d+\.\d</dd>', later)
    letters = ui_client.get(f"/console/stream/dead-letters?page={position // 25 + 1}")
    assert letters.status_code == 200
    row = re.search(
        r'<td class="reason">([^<]*)</td><td><code class="payload">[^<]*&lt;not json&gt;',
        letters.text,
    )
    assert row and row.group(1).startswith(str(escape(reason[:40])))
    # A page past the last shows the last one.
    assert ui_client.get("/console/stream/dead-letters?page=99").status_code == 200
