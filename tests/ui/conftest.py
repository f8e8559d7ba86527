"""The web UI's tests: one app per module for the HTTP tests; one real server (uvicorn on
127.0.0.1) and one headless Chromium for the whole session of browser tests.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``make test``), driven by
Playwright for Python; ``playwright install`` is never run. axe-core comes from npm at
install time (``make`` puts it in ``.cache/axe-core``). Screenshots and timings go to
``.cache/ui-artifacts`` (the path is printed).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from taste2vec.api import create_app
from taste2vec.sim.server import free_port
from tests.api.conftest import make_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(".cache/axe-core/package/axe.min.js")
ARTIFACTS = Path(".cache/ui-artifacts").resolve()
LOOPBACK = "http://127.0.0.1"


@dataclass
class Served:
    """A running app: its URL, the app (for its service), the demo sign-ins and keys."""

    url: str
    app: FastAPI
    logins: dict[str, str]
    keys: dict[str, str]


@pytest.fixture(scope="module")
def ui_client(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A TestClient on loopback (so the session cookie is not Secure-only) with the demo."""
    tmp = tmp_path_factory.mktemp("ui")
    app = create_app(make_settings(tmp, tiny_model_dir))
    with TestClient(app, base_url=LOOPBACK) as client:
        client.logins = json.loads((tmp / "demo-logins.json").read_text())  # type: ignore[attr-defined]
        client.keys = json.loads((tmp / "demo-keys.json").read_text())  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="session")
def ui_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app served by uvicorn in a thread, once per session (browser tests share it)."""
    import uvicorn

    tmp = tmp_path_factory.mktemp("ui-server")
    app = create_app(make_settings(tmp, tiny_model_dir))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="ui-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the UI test server did not start")
        time.sleep(0.05)
    try:
        yield Served(
            f"http://127.0.0.1:{port}",
            app,
            json.loads((tmp / "demo-logins.json").read_text()),
            json.loads((tmp / "demo-keys.json").read_text()),
        )
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium with a fresh profile (user-data-dir); CSP bypassed only so
    that axe-core can be injected."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            bypass_csp=True,
            viewport={"width": 390, "height": 844},  # a phone
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: Any, ui_server: Served) -> Iterator[Any]:
    browser_context.clear_cookies()
    p = browser_context.new_page()
    try:
        yield p
    finally:
        p.close()


def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def record_timing(name: str, value_ms: float) -> None:
    """Append a measured figure to .cache/ui-artifacts/timings.jsonl (printed, never
    asserted)."""
    path = artifacts_dir() / "timings.jsonl"
    with path.open("a") as fh:
        fh.write(json.dumps({"name": name, "ms": round(value_ms, 1), "at": time.time()}) + "\n")


def sign_in(page: Any, server: Served, name: str) -> None:
    page.goto(f"{server.url}/login")
    page.locator("#username").fill(name)
    page.locator("#password").fill(server.logins[name])
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(f"**/u/{name}/taste")


def clear_failures(store: Any) -> None:
    """Forget the failed sign-ins of the throttle tests (the address counter too)."""
    for key in ("addr:127.0.0.1", "addr:testclient"):
        store.clear_login_failures(key)


__all__ = ["AXE", "Served", "artifacts_dir", "clear_failures", "record_timing", "sign_in"]
