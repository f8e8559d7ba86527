"""The console's Models, Experiments and Curation pages over HTTP (no browser): empty
states, admin only, promote / rollback / stop only after their confirmation step (CSRF,
a reason required), the audit log naming the admin, the interval chart, the boxes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from taste2vec.api import create_app
from taste2vec.edge.registry import EdgeRegistry
from taste2vec.registry import open_registry
from taste2vec.service.console_ops import OpsView
from taste2vec.service.controller import evaluate
from taste2vec.service.experiments import create_experiment, stop_experiment
from taste2vec.sim.experiments import drive_exposures
from taste2vec.store import create_store
from taste2vec.ui.charts import interval_bar, interval_series
from tests.api.conftest import ADMIN, make_settings
from tests.model_copies import perturbed_copy
from tests.ui.conftest import LOOPBACK
from tests.ui.test_ui_http import _csrf, _sign_in

pytestmark = [
    pytest.mark.xdist_group("ui"),
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
]

OPS_PAGES = ("/console/models", "/console/experiments", "/console/curation")


def _second_model(tiny_model_dir: Path, out: Path) -> Path:
    """``tiny_model_dir`` with slightly different weights (another weights version)."""
    return perturbed_copy(tiny_model_dir, out)


@pytest.fixture(scope="module")
def ops_client(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An app whose registry has versions 1 (champion) and 2, and an experiment."""
    tmp = tmp_path_factory.mktemp("ui-ops")
    settings = make_settings(tmp, tiny_model_dir, cache_dir=tmp / "cache")
    second = _second_model(tiny_model_dir, tmp / "second" / "model")
    with create_store(settings.database_url) as store:
        registry = open_registry(settings, store)
        one, _ = registry.register(settings.model_dir, actor="test")
        registry.register(second, actor="test")
        registry.promote(one.version, actor="test", reason="first champion")
        create_experiment(registry, treatment_version="2", experiment_id="exp-ui", actor="test")
    with TestClient(create_app(settings), base_url=LOOPBACK) as client:
        client.logins = json.loads((tmp / "demo-logins.json").read_text())  # type: ignore[attr-defined]
        yield client


def _admin(client: Any) -> str:
    assert _sign_in(client, "admin").status_code == 303
    return _csrf(client.get("/console/models").text)


def test_empty_registry_experiments_and_curation_show_empty_states(ui_client: Any) -> None:
    _admin(ui_client)
    console = ui_client.get("/console").text
    for path in OPS_PAGES:
        assert f'href="{path}"' in console
        r = ui_client.get(path)
        assert r.status_code == 200, path
        assert "script-src 'self'" in r.headers["content-security-policy"]
    models = ui_client.get("/console/models").text
    assert 'id="versions-empty"' in models and 'id="audit-empty"' in models
    assert 'id="bundles-empty"' in models or 'id="bundles"' in models
    assert 'id="exp-empty"' in ui_client.get("/console/experiments").text
    assert 'id="curation-empty"' in ui_client.get("/console/curation").text
    ui_client.get("/lang/en")
    try:
        assert "No version is registered yet" in ui_client.get("/console/models").text
        assert "No experiment yet" in ui_client.get("/console/experiments").text
    finally:
        ui_client.get("/lang/ko")


def test_a_taster_gets_403_on_the_ops_pages_and_forms(ops_client: Any) -> None:
    assert _sign_in(ops_client, "demo-ana").status_code == 303
    token = _csrf(ops_client.get("/u/demo-ana/log").text)
    for path in OPS_PAGES:
        r = ops_client.get(path)
        assert r.status_code == 403, path
        assert "관리자 권한" in r.text
    for path, data in (
        ("/console/models/promote", {"alias": "champion", "version": "2", "confirm": "2"}),
        ("/console/models/rollback", {"alias": "champion", "version": "1", "confirm": "1"}),
        ("/console/experiments/exp-ui/stop", {"confirm": "exp-ui"}),
    ):
        r = ops_client.post(path, data={"csrf_token": token, "reason": "x", **data})
        assert r.status_code == 403, path
    aliases = ops_client.get("/v1/models/registry", headers=ADMIN).json()["aliases"]
    assert aliases["champion"] == "1"


def _aliases(client: Any) -> dict[str, str]:
    return dict(client.get("/v1/models/registry", headers=ADMIN).json()["aliases"])


def test_models_page_promote_and_rollback_need_confirmation_reason_and_csrf(
    ops_client: Any,
) -> None:
    token = _admin(ops_client)
    html = ops_client.get("/console/models").text
    assert re.search(r'<tr data-version="2">', html) and re.search(r'<tr data-version="1">', html)
    assert 'id="alias-champion"' in html and "first champion" in html  # the audit log
    # no reason: refused next to the field, nothing moves
    r = ops_client.post(
        "/console/models/promote",
        data={"csrf_token": token, "alias": "champion", "version": "2", "reason": " "},
    )
    assert r.status_code == 422 and 'id="err-promote-champion"' in r.text
    assert 'aria-describedby="err-promote-champion"' in r.text
    bad = ops_client.post(
        "/console/models/promote",
        data={"csrf_token": token, "alias": "champion", "version": "x1", "reason": "r"},
    )
    assert bad.status_code == 422
    assert (
        ops_client.post(
            "/console/models/promote",
            data={"csrf_token": token, "alias": "production", "version": "2", "reason": "r"},
        ).status_code
        == 422
    )
    # without the token, or from another origin: refused
    assert (
        ops_client.post(
            "/console/models/promote",
            data={"alias": "champion", "version": "2", "reason": "r", "confirm": "2"},
        ).status_code
        == 403
    )
    assert (
        ops_client.post(
            "/console/models/promote",
            data={
                "csrf_token": token,
                "alias": "champion",
                "version": "2",
                "reason": "r",
                "confirm": "2",
            },
            headers={"Origin": "https://evil.example"},
        ).status_code
        == 403
    )
    assert _aliases(ops_client)["champion"] == "1"
    # the first step shows the confirmation and moves nothing
    step = ops_client.post(
        "/console/models/promote",
        data={"csrf_token": token, "alias": "champion", "version": "2", "reason": "<b>A/B</b>"},
    )
    assert step.status_code == 200 and 'id="move-form"' in step.text
    assert 'name="confirm" value="2"' in step.text and "&lt;b&gt;A/B&lt;/b&gt;" in step.text
    assert _aliases(ops_client)["champion"] == "1"
    done = ops_client.post(
        "/console/models/promote",
        data={
            "csrf_token": token,
            "alias": "champion",
            "version": "2",
            "reason": "<b>A/B</b>",
            "confirm": "2",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/console/models?")
    assert _aliases(ops_client)["champion"] == "2"
    page = ops_client.get(done.headers["location"]).text
    assert 'id="models-done"' in page
    audit = page[page.index('id="audit"') :]
    first = audit[: audit.index("</tr>", audit.index("<tbody>"))]
    assert '<td class="action">promote</td>' in first and '<td class="actor">admin</td>' in first
    assert "&lt;b&gt;A/B&lt;/b&gt;" in first  # escaped
    # rollback: offered back to 1, confirmed, audited with the admin as actor
    assert 'action="/console/models/rollback"' in page
    step = ops_client.post(
        "/console/models/rollback",
        data={"csrf_token": token, "alias": "champion", "version": "1", "reason": "regression"},
    )
    assert step.status_code == 200 and 'name="confirm" value="1"' in step.text
    assert _aliases(ops_client)["champion"] == "2"
    done = ops_client.post(
        "/console/models/rollback",
        data={
            "csrf_token": token,
            "alias": "champion",
            "version": "1",
            "reason": "regression",
            "confirm": "1",
        },
    )
    assert done.status_code == 200  # followed the redirect to the page
    assert _aliases(ops_client)["champion"] == "1"
    history = ops_client.get(
        "/v1/models/registry/history", headers=ADMIN, params={"alias": "champion"}
    ).json()["events"]
    assert (history[0]["action"], history[0]["actor"], history[0]["reason"]) == (
        "rollback",
        "admin",
        "regression",
    )
    assert history[0]["new_version"] == "1"
    # an unknown version is refused at the confirmation step
    missing = ops_client.post(
        "/console/models/promote",
        data={"csrf_token": token, "alias": "champion", "version": "99", "reason": "r"},
    )
    assert missing.status_code == 404 and 'id="err-promote-champion"' in missing.text


def test_experiments_page_shows_arms_srm_interval_and_stops_after_confirmation(
    ops_client: Any,
) -> None:
    token = _admin(ops_client)
    html = ops_client.get("/console/experiments").text
    assert 'data-experiment="exp-ui"' in html and "(running)" in html
    assert '<tr data-arm="treatment"><td>treatment</td><td>2</td><td>10%</td>' in html
    assert '<tr data-arm="control"><td>control</td><td>1</td><td>90%</td>' in html
    assert 'class="decision">continue' in html  # evaluated now: no events, continue
    assert 'action="/console/experiments/exp-ui/stop"' in html
    # no reason: refused; the first step asks; only the confirm form stops it
    r = ops_client.post("/console/experiments/exp-ui/stop", data={"csrf_token": token})
    assert r.status_code == 422 and "field-error" in r.text
    step = ops_client.post(
        "/console/experiments/exp-ui/stop", data={"csrf_token": token, "reason": "enough"}
    )
    assert step.status_code == 200 and 'name="confirm" value="exp-ui"' in step.text
    exp = ops_client.get("/v1/experiments/exp-ui", headers=ADMIN).json()
    assert exp["status"] == "running"
    assert (
        ops_client.post(
            "/console/experiments/exp-ui/stop",
            data={"reason": "enough", "confirm": "exp-ui"},
        ).status_code
        == 403
    )
    done = ops_client.post(
        "/console/experiments/exp-ui/stop",
        data={"csrf_token": token, "reason": "enough", "confirm": "exp-ui"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    exp = ops_client.get("/v1/experiments/exp-ui", headers=ADMIN).json()
    assert exp["status"] == "stopped" and exp["end_reason"] == "enough"
    page = ops_client.get(done.headers["location"]).text
    assert 'id="exp-done"' in page and "(stopped)" in page
    assert 'action="/console/experiments/exp-ui/stop"' not in page
    again = ops_client.post(
        "/console/experiments/exp-ui/stop",
        data={"csrf_token": token, "reason": "again", "confirm": "exp-ui"},
    )
    assert again.status_code == 409
    assert (
        ops_client.post(
            "/console/experiments/nope/stop", data={"csrf_token": token, "reason": "r"}
        ).status_code
        == 404
    )


def test_the_interval_chart_draws_the_interval_thresholds_and_estimate() -> None:
    svg = str(interval_bar((0.06, 0.2), 0.05, 0.13, "exp <x>: ctr"))
    assert svg.startswith('<svg class="chart interval"') and 'role="img"' in svg
    assert "exp &lt;x&gt;: ctr" in svg and "<x>" not in svg
    assert svg.count('stroke-dasharray="4 3"') == 2
    assert "+5%" in svg and "-5%" in svg and "+0%" in svg
    wide = str(interval_bar((-0.3, 0.9), 0.05, 0.3, "t"))  # no room beside zero
    assert "+5%" not in wide and "+90%" in wide and "-90%" in wide
    assert 'fill="#1e8449"' in svg  # entirely above +5%: green (promote side)
    assert "<circle" in svg
    below = str(interval_bar((-0.3, -0.1), 0.05, None, "t"))
    assert 'fill="#b03a2e"' in below and "<circle" not in below
    across = str(interval_bar((-0.02, 0.04), 0.05, 0.01, "t"))
    assert 'fill="#1f4e79"' in across


def test_curation_page_shows_the_latest_run_its_boxes_and_pages(ops_client: Any) -> None:
    _admin(ops_client)
    for user in ("demo-ana", "demo-ben", "demo-chloe"):
        r = ops_client.put(f"/v1/subscriptions/{user}", headers=ADMIN, json={"box_size": 2})
        assert r.status_code in (200, 201), r.text
    r = ops_client.post("/v1/curation/runs", headers=ADMIN, json={"month": "2027-01"})
    assert r.status_code == 201, r.text
    run = r.json()
    html = ops_client.get("/console/curation").text
    assert "2027-01" in html and 'id="run-status">draft' in html
    assert f'id="run-subscribers">{run["summary"]["subscribers"]}' in html
    boxes = re.findall(r'<article class="box" data-user="([^"]+)"', html)
    assert boxes and set(boxes) <= {"demo-ana", "demo-ben", "demo-chloe"}
    picks = ops_client.get(f"/v1/curation/runs/{run['id']}/boxes", headers=ADMIN).json()
    first = picks["picks"][0]
    assert f'data-coffee="{first["coffee"]}"' in html
    name = ops_client.get(f"/v1/coffees/{first['coffee']}", headers=ADMIN).json()["name"]
    assert str(escape(name)) in html  # the catalogue's name beside the id
    assert 'class="explanation"' in html
    assert 'class="hint churn"' in html or 'id="churn-off"' in html
    assert ops_client.get("/console/curation?month=2027-13").status_code == 422
    assert ops_client.get("/console/curation?page=0").status_code == 422
    assert ops_client.get("/console/curation?month=2026-02").status_code == 200  # falls back


def _drive(store: Any, exp: Any, users: range, ctr: dict[str, float], seed: int) -> None:
    """Each user sees 4 recommendations under ``exp``; each is clicked with the
    probability of the user's arm."""
    drive_exposures(store, exp, users, ctr, seed, coffees=("demo-001", "demo-002"))


def test_the_interval_over_time_is_replayed_from_the_stored_events(ops_client: Any) -> None:
    """Two batches of events: the replay at a time between them sees only the first
    batch; at the end it matches the controller's own evaluation; the page draws it."""
    _admin(ops_client)
    registry = ops_client.app.state.model_registry
    store = registry.store
    active = store.active_experiment(registry.name)
    if active is not None:  # left running by an earlier test
        stop_experiment(registry, active.id, actor="test")
    champion = registry.aliases()["champion"]
    treatment = "2" if champion == "1" else "1"
    exp = create_experiment(
        registry, treatment_version=treatment, experiment_id="exp-replay", actor="test"
    )
    ctr = {"control": 0.2, "treatment": 0.3}
    _drive(store, exp, range(0, 300), ctr, seed=1)
    between = datetime.now(UTC)
    _drive(store, exp, range(300, 600), ctr, seed=2)
    view = OpsView(registry, ops_client.app.state.settings.model_dir)
    first = view.interval_history(exp, points=1, now=between)
    later = datetime.now(UTC)
    full = view.interval_history(exp, points=1, now=later)
    assert len(first) == 1 and len(full) == 1
    assert first[0].users == 300 and full[0].users == 600
    assert first[0].low < first[0].high and full[0].low < full[0].high
    current = evaluate(store, exp, now=later)
    assert [full[0].low, full[0].high] == pytest.approx(current["evidence"]["primary"]["interval"])
    several = view.interval_history(exp, points=6, now=later)
    assert 1 <= len(several) <= 6 and several[-1].users == 600
    assert [p.at for p in several] == sorted(p.at for p in several)

    html = ops_client.get("/console/experiments").text
    card = html[html.index('data-experiment="exp-replay"') :]
    card = card[: card.index("</section>")]
    assert 'class="interval">[' in card  # the current interval, evaluated now
    if len(view.interval_history(exp)) >= 2:  # events stored at >= 2 of the 12 checkpoints
        assert '<svg class="chart interval-series"' in card
    assert '<svg class="chart interval"' in card
    stop_experiment(registry, "exp-replay", actor="test")


def test_the_interval_series_chart_draws_one_bar_per_checkpoint() -> None:
    svg = str(
        interval_series(
            [("12-01 10:00", -0.4, 0.5, 0.05), ("12-02 10:00", 0.07, 0.2, 0.13)],
            0.05,
            "exp <y>",
        )
    )
    assert 'class="chart interval-series"' in svg and "exp &lt;y&gt;" in svg
    assert svg.count('stroke-width="5"') == 2  # two interval bars
    assert 'stroke="#1e8449"' in svg and 'stroke="#1f4e79"' in svg
    assert svg.count('stroke-dasharray="4 3"') == 2 and "<polyline" in svg


def test_models_page_lists_edge_bundles_with_their_parity_reports(ops_client: Any) -> None:
    """Bundles registered in the edge folder beside the model directory (as `taste2vec
    export` does) are listed with the parity gate's verdict and failures (escaped)."""
    _admin(ops_client)
    edge = EdgeRegistry.beside(ops_client.app.state.settings.model_dir)
    version = "ui-edge-test"
    base = {"source": "test", "n_records": 8, "min_cosine": 0.9995, "top10_overlap": 1.0}
    edge.register(version, "onnx", b"archive-onnx", parity={**base, "passed": True})
    edge.register(
        version,
        "tflite-int8",
        b"archive-tflite",
        parity={**base, "min_cosine": 0.91, "passed": False, "failures": ["cosine <b>0.91</b>"]},
        aliases=(),
    )
    html = ops_client.get("/console/models").text
    rows = {
        fmt: html[html.index(f'data-bundle="{version}/{fmt}"') :].split("</tr>")[0]
        for fmt in ("onnx", "tflite-int8")
    }
    assert "latest" in rows["onnx"] and 'class="state-running"' in rows["onnx"]
    assert "0.9995" in rows["onnx"] and f"<td>{len(b'archive-onnx')}</td>" in rows["onnx"]
    assert 'class="state-stopped"' in rows["tflite-int8"]
    assert "cosine &lt;b&gt;0.91&lt;/b&gt;" in rows["tflite-int8"]
