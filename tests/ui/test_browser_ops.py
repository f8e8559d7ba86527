"""The console's Models, Experiments and Curation pages in a real browser (Debian's
Chromium, headless, Playwright; the session's server and browser from conftest): axe-core
on each page with data (both languages for the models page), an experiment stopped
through its confirmation step, and an operator rollback through the Models page's
confirmation, checked in the audit log (page and store).

The server's model registry is swapped, for this module only, for one of its own (a
separate MLflow database, cache and model name), so the other tests' registry and alias
audit log are untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taste2vec.registry import ModelRegistry
from taste2vec.service.curation_scores import curate_month
from taste2vec.service.experiments import create_experiment
from taste2vec.store import Subscription
from tests.model_copies import perturbed_copy
from tests.ui.conftest import AXE, Served, artifacts_dir, record_timing
from tests.ui.test_browser import _axe, _load_ms, _report
from tests.ui.test_console_ops_http import _drive

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("ui"),
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
]

OPS_PAGES = ("console/models", "console/experiments", "console/curation")
MODEL = "t2v-ui-browser"


def _second_model(model_dir: Path, out: Path) -> Path:
    return perturbed_copy(model_dir, out, seed=11)


@pytest.fixture(scope="module")
def ops_registry(
    ui_server: Served, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModelRegistry]:
    """Versions 1 and 2 (champion: 1 then 2), an experiment with treatment 1, a curation
    run; the server's registry swapped for this one while the module runs."""
    tmp = tmp_path_factory.mktemp("ui-ops-browser")
    app = ui_server.app
    store = app.state.service.store
    registry = ModelRegistry(
        f"sqlite:///{tmp / 'mlflow.db'}", store, name=MODEL, cache_dir=tmp / "cache"
    )
    model_dir = Path(app.state.settings.model_dir)
    one, _ = registry.register(model_dir, actor="test")
    two, _ = registry.register(_second_model(model_dir, tmp / "second" / "model"), actor="test")
    registry.promote(one.version, actor="test", reason="first champion")
    registry.promote(two.version, actor="test", reason="offline win")
    exp = create_experiment(
        registry, treatment_version=one.version, experiment_id="exp-browser", actor="test"
    )
    ctr = {"control": 0.2, "treatment": 0.3}
    for batch in range(3):  # three batches: the interval over time has points to draw
        _drive(store, exp, range(batch * 200, (batch + 1) * 200), ctr, seed=batch)
    for user in ("demo-lena", "demo-ana"):
        store.set_subscription(Subscription(user=user, box_size=2))
    curate_month(app.state.service, "2031-01")
    original = app.state.model_registry
    app.state.model_registry = registry
    try:
        yield registry
    finally:
        app.state.model_registry = original


def _sign_in_admin(page: Any, server: Served) -> None:
    page.goto(f"{server.url}/login")
    page.locator("#username").fill("admin")
    page.locator("#password").fill(server.logins["admin"])
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url("**/console")


def _shot(page: Any, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    _report(capsys, f"screenshot {path}")


def test_ops_pages_with_axe_stop_and_roll_back_through_the_confirmation(
    page: Any,
    ui_server: Served,
    ops_registry: ModelRegistry,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not AXE.exists():
        pytest.skip(f"axe-core not found at {AXE} (make test fetches it from npm)")
    _sign_in_admin(page, ui_server)
    found: dict[str, list[dict[str, Any]]] = {}
    for path in OPS_PAGES:
        page.goto(f"{ui_server.url}/{path}")
        found[path] = _axe(page)
        record_timing(f"load /{path}", _load_ms(page))
        _report(capsys, f"page load /{path}: {_load_ms(page):.0f} ms")
        _shot(page, path.replace("/", "-"), capsys)
    assert page.locator("article.box").count() >= 1  # the curation page has boxes
    page.goto(f"{ui_server.url}/console/experiments")
    card = page.locator("section[data-experiment='exp-browser']")
    assert card.locator("svg.interval").count() == 1  # the current interval
    _report(capsys, f"interval over time: {card.locator('svg.interval-series').count()} chart")

    # Stop the experiment: the first click asks, the confirmation stops it.
    page.goto(f"{ui_server.url}/console/experiments")
    card = page.locator("section[data-experiment='exp-browser']")
    card.locator("input[name=reason]").fill("browser test")
    card.locator("button[type=submit]").click()
    page.wait_for_selector("#stop-form")
    found["experiment stop (confirm)"] = _axe(page)
    assert ops_registry.store.get_experiment("exp-browser").status == "running"
    page.locator("#stop-form button[type=submit]").click()
    page.wait_for_selector("#exp-done")
    assert ops_registry.store.get_experiment("exp-browser").status == "stopped"

    # Roll the champion back from 2 to 1 through the confirmation step.
    page.goto(f"{ui_server.url}/console/models")
    champion = page.locator("#alias-champion")
    assert champion.locator(".alias-version").inner_text() == "2"
    rollback = champion.locator("form[action='/console/models/rollback']")
    rollback.locator("button[type=submit]").click()  # no reason: refused next to the field
    page.wait_for_selector("#err-rollback-champion")
    found["models (reason error)"] = _axe(page)
    assert ops_registry.aliases()["champion"] == "2"
    rollback = page.locator("#alias-champion form[action='/console/models/rollback']")
    rollback.locator("input[name=reason]").fill("browser rollback")
    rollback.locator("button[type=submit]").click()
    page.wait_for_selector("#move-form")
    found["models (confirm)"] = _axe(page)
    _shot(page, "console-models-confirm", capsys)
    assert ops_registry.aliases()["champion"] == "2"  # asking moved nothing
    page.locator("#move-form button[type=submit]").click()
    page.wait_for_selector("#models-done")
    assert ops_registry.aliases()["champion"] == "1"
    assert page.locator("#alias-champion .alias-version").inner_text() == "1"
    row = page.locator("#audit tbody tr").first
    assert row.locator(".action").inner_text() == "rollback"
    assert row.locator(".actor").inner_text() == "admin"
    assert row.locator(".reason").inner_text() == "browser rollback"
    event = ops_registry.history("champion")[0]
    assert (event.action, event.new_version, event.actor) == ("rollback", "1", "admin")
    _shot(page, "console-models-rolled-back", capsys)

    page.goto(f"{ui_server.url}/lang/en?next=/console/models")
    found["models (en)"] = _axe(page)
    page.goto(f"{ui_server.url}/console/experiments")
    found["experiments (en)"] = _axe(page)
    page.goto(f"{ui_server.url}/lang/ko?next=/console")
    assert found == {k: [] for k in found}
