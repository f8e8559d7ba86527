"""Screenshots of the web UI for the README (docs/img/ui-*.png), from a real browser.

Serves the app with the trained model (``artifacts/model``, as ``make run`` leaves it) on
a temporary SQLite store with the demo, signs in as a demo taster in Debian's headless
Chromium (Playwright; never ``playwright install``) and saves phone-sized screenshots of
the taster's pages, then signs in as ``admin`` for the console's catalogue (after a CSV
import with bad rows) and stream pages, then the models page (the trained model registered
and made champion) and the curation page (the demo tasters subscribed, next month
curated). Also prints the pages' load times as the browser measured them.

    .venv/bin/python scripts/ui_screenshots.py [--model artifacts/model] [--out docs/img]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from playwright.sync_api import FilePayload, Page, sync_playwright

from taste2vec.api import create_app
from taste2vec.config import Settings
from taste2vec.service.curation_scores import curate_month
from taste2vec.store import Subscription

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _load_ms(page: Page) -> float:
    return float(
        page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return n.loadEventEnd - n.startTime; }"
        )
    )


def _console(page: Page, base: str, logins: dict[str, str], out: Path) -> None:
    """The operator console as admin: the catalogue after an import with one bad row,
    and the stream page (looked at twice, so that it shows rates)."""
    page.goto(f"{base}/lang/ko?next=/login")
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("#username", "admin")
    page.fill("#password", logins["admin"])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/console")
    page.goto(f"{base}/console/catalogue")
    print(f"{out / 'ui-console-catalogue.png'}  (page load {_load_ms(page):.0f} ms)")
    page.screenshot(path=str(out / "ui-console-catalogue.png"))
    page.goto(f"{base}/console/catalogue/import")
    upload: FilePayload = {
        "name": "new-coffees.csv",
        "mimeType": "text/csv",
        "buffer": (
            b"id,name,roaster,origin_country,stock,acidity\n"
            b"shot-1,Huila Pink Bourbon,Example Roasters,Colombia,12,8\n"
            b"shot-2,Kochere Washed,Example Roasters,Ethiopia,-4,7\n"
            b"shot-3,Nyeri AA,Example Roasters,Kenya,6,12\n"
        ),
    }
    page.set_input_files("#file", files=[upload])
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-result")
    page.screenshot(path=str(out / "ui-console-import.png"), full_page=True)
    print(out / "ui-console-import.png")
    page.goto(f"{base}/lang/en?next=/console/stream")
    time.sleep(1.0)
    page.goto(f"{base}/console/stream")
    print(f"{out / 'ui-console-stream.png'}  (page load {_load_ms(page):.0f} ms)")
    page.screenshot(path=str(out / "ui-console-stream.png"), full_page=True)


def _console_ops(page: Page, base: str, app: FastAPI, out: Path) -> None:
    """The models page with the trained model registered as champion, and the curation
    page after curating next month for the demo tasters (each subscribed, box of 4)."""
    registry = app.state.model_registry
    info, _ = registry.register(app.state.settings.model_dir, actor="ui_screenshots")
    registry.promote(info.version, actor="ui_screenshots", reason="first champion")
    service = app.state.service
    for user in service.store.list_users(limit=200):
        service.store.set_subscription(Subscription(user=user.id, box_size=4))
    today = datetime.now(UTC).date()
    month = f"{today.year + today.month // 12}-{today.month % 12 + 1:02d}"
    curate_month(service, month)
    for path, name in (
        ("console/models", "ui-console-models"),
        ("console/curation", "ui-console-curation"),
    ):
        page.goto(f"{base}/{path}")
        print(f"{out / (name + '.png')}  (page load {_load_ms(page):.0f} ms)")
        page.screenshot(path=str(out / f"{name}.png"), full_page=path.endswith("models"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--user", default="demo-ana")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="t2v-shots-"))
    shutil.copytree(args.model, tmp / "model")
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{tmp / 't2v.db'}",
        model_dir=tmp / "model",
        cache_dir=tmp / "cache",  # the registry's downloads: not the shared cache
        online_learning=False,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.1)
    base = f"http://127.0.0.1:{port}"
    logins = json.loads((tmp / "demo-logins.json").read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(tmp / "profile"),
                executable_path="/usr/bin/chromium",
                headless=True,
                args=ARGS,
                viewport={"width": 390, "height": 844},
                device_scale_factor=1,
            )
            page = context.new_page()
            page.goto(f"{base}/login")
            page.screenshot(path=str(args.out / "ui-login.png"))
            page.fill("#username", args.user)
            page.fill("#password", logins[args.user])
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_url(f"**/u/{args.user}/taste")
            for name, lang in (
                ("taste", "ko"),
                ("log", "ko"),
                ("recommendations", "ko"),
                ("signals", "en"),
            ):
                page.goto(f"{base}/lang/{lang}?next=/u/{args.user}/{name}")
                ms = page.evaluate(
                    "() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return n.loadEventEnd - n.startTime; }"
                )
                if name == "log":
                    page.fill("#notes", "자몽과 재스민, 꿀 같은 단맛. Very bright, tea-like.")
                    page.wait_for_function("() => document.getElementById('heard').dataset.text")
                path = args.out / f"ui-{name}.png"
                page.screenshot(path=str(path), full_page=name != "log")
                print(f"{path}  (page load {ms:.0f} ms)")
            _console(page, base, logins, args.out)
            _console_ops(page, base, app, args.out)
            context.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
