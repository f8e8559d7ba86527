"""The web UI in a real browser: Debian's Chromium, headless, driven by Playwright.

One server and one browser for the whole session (``ui_server``, ``browser_context``); the
tests run in one xdist group. Page load times and the lexicon preview's latency are
measured in the browser and printed (and appended to .cache/ui-artifacts/timings.jsonl),
never asserted. Screenshots are saved to .cache/ui-artifacts.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.ui.conftest import AXE, Served, artifacts_dir, record_timing, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ui")]

PAGES = ("taste", "log", "recommendations", "signals")


def _report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n[ui] {line}")


def _load_ms(page: Any) -> float:
    """Navigation start to the load event, from the browser's Navigation Timing."""
    value = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return n.loadEventEnd - n.startTime; }"
    )
    return float(value)


def _shot(page: Any, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    _report(capsys, f"screenshot {path}")


def _radar(page: Any) -> dict[str, str]:
    cells = page.locator("#radar-values td")
    return {
        cells.nth(i).get_attribute("data-metric"): cells.nth(i).text_content()
        for i in range(cells.count())
    }


def test_log_a_tasting_and_see_the_profile_change(
    page: Any, ui_server: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    sign_in(page, ui_server, "demo-minji")
    _report(capsys, f"page load /u/demo-minji/taste: {_load_ms(page):.0f} ms (target < 1000)")
    record_timing("load taste", _load_ms(page))
    before_counts = page.locator("#counts").inner_text()
    before = _radar(page)
    _shot(page, "taste-before", capsys)

    page.goto(f"{ui_server.url}/u/demo-minji/log")
    record_timing("load log", _load_ms(page))
    notes = page.locator("#notes")
    notes.click()
    text = "Very bright: lemon, bergamot and jasmine; 자몽 같은 산미, 꿀"
    notes.press_sequentially(text, delay=20)
    heard = page.locator("#heard-items")
    page.wait_for_function(
        "t => document.getElementById('heard').dataset.text === t", arg=text, timeout=10_000
    )
    names = heard.inner_text()
    assert "재스민" in names and "레몬" in names  # the page is Korean by default
    latency = float(page.locator("#heard").get_attribute("data-latency-ms"))
    _report(capsys, f"lexicon preview round trip: {latency:.1f} ms (target < 100)")
    record_timing("preview round trip", latency)

    # Sliders by keyboard: focus, then End (10) / Home (0).
    page.locator("#m-acidity").focus()
    page.keyboard.press("End")
    page.locator("#m-bitterness").focus()
    page.keyboard.press("Home")
    assert page.locator("#m-acidity").get_attribute("name") == "metrics.acidity"
    page.locator("summary", has_text="꽃").click()
    page.locator("input[value='Floral > Floral > Jasmine']").check()
    _shot(page, "log-filled", capsys)
    page.locator("#log-form button[type=submit]").click()
    page.wait_for_url("**/u/demo-minji/taste?saved=1")
    assert page.locator(".notice").is_visible()
    assert page.locator("#counts").inner_text() != before_counts
    assert _radar(page) != before
    _shot(page, "taste-after", capsys)
    stored = ui_server.app.state.service.store.records_for_user("demo-minji", limit=1)[-1]
    assert stored.metrics.acidity == 10 and stored.metrics.bitterness == 0
    assert stored.notes.endswith("재스민")  # the wheel pick, in the page's language


def test_like_a_recommendation_and_see_the_list_change(
    page: Any, ui_server: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    sign_in(page, ui_server, "demo-seojun")
    page.goto(f"{ui_server.url}/u/demo-seojun/recommendations")
    record_timing("load recommendations", _load_ms(page))
    cards = page.locator("li.rec")
    first = cards.first.get_attribute("data-coffee")
    before = [cards.nth(i).get_attribute("data-coffee") for i in range(cards.count())]
    assert first is not None and len(before) > 1
    _shot(page, "recommendations", capsys)
    old_request = page.locator("#recs").get_attribute("data-request")
    cards.first.locator("button.liked").click()
    page.wait_for_function(
        "r => { const l = document.getElementById('recs'); return l && l.dataset.request !== r"
        " && l.dataset.clicked; }",
        arg=old_request,
    )
    after = [cards.nth(i).get_attribute("data-coffee") for i in range(cards.count())]
    assert first not in after and after != before
    store = ui_server.app.state.service.store
    latest = {fb.coffee: fb for fb in store.feedback_for_user("demo-seojun")}
    assert latest[first].signal == "liked"
    clicked = store.get_event(page.locator("#recs").get_attribute("data-clicked"))
    assert clicked is not None and clicked.type == "recommendation_clicked"
    assert clicked.coffee == first and clicked.request == old_request


def test_another_tasters_page_is_refused(
    page: Any, ui_server: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    sign_in(page, ui_server, "demo-ana")
    response = page.goto(f"{ui_server.url}/u/demo-ben/taste")
    assert response.status == 403
    assert "다른 사용자의 페이지" in page.locator("main").inner_text()
    assert page.goto(f"{ui_server.url}/console").status == 403


@pytest.fixture
def other_site() -> Iterator[tuple[str, dict[str, str]]]:
    """A page on another origin (localhost, another port) that posts a tasting form to
    the UI without a CSRF token, as a forged cross-site request would."""
    target: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            body = (
                "<!doctype html><form id=f method=post "
                f"action='{target['url']}/u/demo-kofi/log'>"
                "<input name=notes value='forged from another site'></form>"
                "<button id=go onclick=\"document.getElementById('f').submit()\">go</button>"
            ).encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/", target
    finally:
        server.shutdown()
        server.server_close()


def test_a_cross_site_form_post_is_refused(page: Any, ui_server: Served, other_site: Any) -> None:
    url, target = other_site
    target["url"] = ui_server.url
    sign_in(page, ui_server, "demo-kofi")
    store = ui_server.app.state.service.store
    before = len(store.records_for_user("demo-kofi", limit=1000))
    page.goto(url)
    with page.expect_navigation():
        page.locator("#go").click()
    assert "/u/demo-kofi/taste" not in page.url  # not accepted
    # Same browser, same session, right origin, but no token: refused too.
    response = page.request.post(
        f"{ui_server.url}/u/demo-kofi/log", form={"notes": "no token"}, max_redirects=0
    )
    assert response.status == 403
    assert len(store.records_for_user("demo-kofi", limit=1000)) == before


def _axe(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


def test_accessibility_basics_with_axe(
    page: Any, ui_server: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    if not AXE.exists():
        pytest.skip(f"axe-core not found at {AXE} (make test fetches it from npm)")
    page.goto(f"{ui_server.url}/login")
    found = {"login": _axe(page)}
    _shot(page, "login", capsys)
    sign_in(page, ui_server, "demo-lena")
    for name in PAGES:
        page.goto(f"{ui_server.url}/u/demo-lena/{name}")
        found[name] = _axe(page)
        record_timing(f"load {name}", _load_ms(page))
        _report(capsys, f"page load /u/demo-lena/{name}: {_load_ms(page):.0f} ms")
        _shot(page, name, capsys)
    page.goto(f"{ui_server.url}/lang/en?next=/u/demo-lena/log")
    found["log (en)"] = _axe(page)
    _shot(page, "log-en", capsys)
    assert found == {k: [] for k in found}


def test_keyboard_only_use_of_the_log_form(page: Any, ui_server: Served) -> None:
    sign_in(page, ui_server, "demo-lena")
    page.goto(f"{ui_server.url}/u/demo-lena/log")
    reached = []
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate("() => document.activeElement.id || document.activeElement.tagName")
        )
    assert "coffee" in reached and "notes" in reached and "m-acidity" in reached
    # Typing and submitting without a mouse.
    page.locator("#notes").focus()
    page.keyboard.type("keyboard only: cocoa and hazelnut")
    page.locator("#log-form button[type=submit]").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/u/demo-lena/taste?saved=1")


CONSOLE_PAGES = ("console", "console/catalogue", "console/catalogue/import", "console/stream")


def test_console_pages_as_admin_with_axe(
    page: Any, ui_server: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    """The console's pages as an operator, on a phone: axe-core on each (both languages
    for the catalogue), a stock change and a CSV import with a bad row, screenshots."""
    if not AXE.exists():
        pytest.skip(f"axe-core not found at {AXE} (make test fetches it from npm)")
    page.goto(f"{ui_server.url}/login")
    page.locator("#username").fill("admin")
    page.locator("#password").fill(ui_server.logins["admin"])
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url("**/console")
    found: dict[str, list[dict[str, Any]]] = {}
    for path in CONSOLE_PAGES:
        page.goto(f"{ui_server.url}/{path}")
        found[path] = _axe(page)
        record_timing(f"load /{path}", _load_ms(page))
        _report(capsys, f"page load /{path}: {_load_ms(page):.0f} ms")
        _shot(page, path.replace("/", "-"), capsys)

    # Change a stock inline: a bad value is shown next to its field, a good one is saved.
    page.goto(f"{ui_server.url}/console/catalogue?q=demo-005")
    card = page.locator("li.coffee[data-coffee='demo-005']")
    card.locator("input[name=stock]").fill("-2")
    card.locator("button[type=submit]").click()
    error = page.locator("li.coffee[data-coffee='demo-005'] .field-error")
    assert "greater than or equal to 0" in error.inner_text()
    found["catalogue (stock error)"] = _axe(page)
    _shot(page, "console-catalogue-error", capsys)
    card = page.locator("li.coffee[data-coffee='demo-005']")
    card.locator("input[name=stock]").fill("12")
    card.locator("button[type=submit]").click()
    page.wait_for_url("**saved=demo-005*")
    store = ui_server.app.state.service.store
    assert store.get_coffee("demo-005").stock == 12

    # Import a CSV with one bad row: the good row is stored, the bad one listed.
    page.goto(f"{ui_server.url}/console/catalogue/import")
    page.locator("#file").set_input_files(
        files=[
            {
                "name": "catalogue.csv",
                "mimeType": "text/csv",
                "buffer": b"id,name,roaster,stock\nbr-imp-1,Browser Import,R,3\n"
                b"br-imp-2,Bad Row,R,many\n",
            }
        ]
    )
    page.locator("#import-form button[type=submit]").click()
    page.wait_for_selector("#import-result")
    assert page.locator("#row-errors tr[data-row='3']").count() == 1
    assert store.get_coffee("br-imp-1") is not None and store.get_coffee("br-imp-2") is None
    found["import (result)"] = _axe(page)
    _shot(page, "console-import-result", capsys)

    page.goto(f"{ui_server.url}/lang/en?next=/console/catalogue")
    found["catalogue (en)"] = _axe(page)
    page.goto(f"{ui_server.url}/console/stream")
    found["stream (en)"] = _axe(page)
    _shot(page, "console-stream-en", capsys)
    page.goto(f"{ui_server.url}/lang/ko?next=/console")
    assert found == {k: [] for k in found}
