"""Screenshots of the web UI for the README (docs/img/ui-*.png), from a real browser.

Serves the app with the trained model (``artifacts/model``, as ``make run`` leaves it) on
a temporary SQLite store with the demo, signs in as a demo taster in Debian's headless
Chromium (Playwright; never ``playwright install``) and saves phone-sized screenshots of
the taster's pages. Also prints each page's load time as the browser measured it.

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
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from taste2vec.api import create_app
from taste2vec.config import Settings

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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
        online_learning=False,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), "127.0.0.1", port))
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
            context.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
