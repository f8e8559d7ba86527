"""The curation routes and ``taste2vec curate`` against the tiny model and the demo data."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from taste2vec.api import create_app
from taste2vec.cli import app as cli_app
from taste2vec.curation.run import is_decaf
from taste2vec.store import Store, Subscription, create_store
from tests.api.conftest import ADMIN, make_settings


@pytest.fixture(scope="module")
def client(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("curation-api")
    with TestClient(create_app(make_settings(tmp, tiny_model_dir))) as c:
        c.keys = json.loads((tmp / "demo-keys.json").read_text())  # type: ignore[attr-defined]
        yield c


def store_of(client: TestClient) -> Store:
    store: Store = client.app.state.service.store  # type: ignore[attr-defined]
    return store


def test_subscriptions_runs_boxes_csv_and_ship(client: TestClient) -> None:
    users = ["demo-ana", "demo-ben", "demo-chloe"]
    bodies = [
        {"box_size": 3, "decaf_only": True},
        {"box_size": 4, "exclude_processes": ["natural"], "exclude_origins": ["Ethiopia"]},
        {"box_size": 2},
    ]
    for user, body in zip(users, bodies, strict=True):
        r = client.put(f"/v1/subscriptions/{user}", json=body, headers=ADMIN)
        assert r.status_code == 200, r.text
        assert r.json()["changed"] is True
    assert (
        client.put("/v1/subscriptions/demo-ana", json=bodies[0], headers=ADMIN).json()["changed"]
        is False
    )
    assert client.get("/v1/subscriptions/demo-ben", headers=ADMIN).json()["box_size"] == 4
    user_key = {"Authorization": f"Bearer {client.keys['demo-ana']}"}  # type: ignore[attr-defined]
    assert client.put("/v1/subscriptions/demo-ana", json={}, headers=user_key).status_code == 403
    bad = client.put("/v1/subscriptions/demo-ana", json={"box_size": 0}, headers=ADMIN)
    assert bad.status_code == 422
    bad = client.put(
        "/v1/subscriptions/demo-ana", json={"exclude_processes": ["roasted"]}, headers=ADMIN
    )
    assert bad.status_code == 422
    assert (
        client.post("/v1/curation/runs", json={"month": "2027-13"}, headers=ADMIN).status_code
        == 422
    )

    r = client.post("/v1/curation/runs", json={"month": "2027-01"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["status"] == "draft" and run["summary"]["subscribers"] == 3
    boxes = client.get(f"/v1/curation/runs/{run['id']}/boxes", headers=ADMIN).json()
    picks = boxes["picks"]
    assert boxes["total"] == len(picks) == run["summary"]["picks"]
    by_user: dict[str, list[str]] = {}
    for p in picks:
        by_user.setdefault(p["user"], []).append(p["coffee"])
        assert p["explanation"]
    store = store_of(client)
    coffees = {c: store.get_coffee(c) for box in by_user.values() for c in box}
    assert all(is_decaf(coffees[c]) for c in by_user["demo-ana"])  # type: ignore[arg-type]
    assert len(by_user["demo-ana"]) == 3 - run["summary"]["short_boxes"].get("demo-ana", 0)
    for c in by_user["demo-ben"]:
        assert coffees[c].process != "natural" and coffees[c].origin_country != "Ethiopia"  # type: ignore[union-attr]
    assert len(by_user["demo-ben"]) == 4 and len(by_user["demo-chloe"]) == 2

    text = client.get(f"/v1/curation/runs/{run['id']}/boxes.csv", headers=ADMIN)
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(text.text)))
    assert rows[0][:5] == ["month", "run_id", "status", "user", "slot"]
    assert len(rows) == len(picks) + 1

    again = client.post("/v1/curation/runs", json={"month": "2027-01"}, headers=ADMIN).json()
    assert again["id"] != run["id"]  # the draft is replaced, not added to
    assert client.get(f"/v1/curation/runs/{run['id']}", headers=ADMIN).status_code == 404
    listed = client.get("/v1/curation/runs", headers=ADMIN).json()
    assert [r["id"] for r in listed if r["month"] == "2027-01"] == [again["id"]]

    shipped = client.post(f"/v1/curation/runs/{again['id']}/ship", headers=ADMIN).json()
    assert shipped["shipped"] is True and shipped["run"]["status"] == "shipped"
    repeat = client.post(f"/v1/curation/runs/{again['id']}/ship", headers=ADMIN).json()
    assert repeat["shipped"] is False  # never ships twice
    r = client.post("/v1/curation/runs", json={"month": "2027-01"}, headers=ADMIN)
    assert r.status_code == 409
    assert client.get("/v1/curation/runs/nope/boxes", headers=ADMIN).status_code == 404
    assert client.get("/v1/curation/runs", headers=user_key).status_code == 403


def test_cli_curate_writes_csv_and_refuses_a_shipped_month(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, tiny_model_dir)
    monkeypatch.setenv("T2V_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("T2V_CACHE_DIR", str(settings.cache_dir))
    with create_store(settings.database_url) as store:
        from taste2vec.data.demo import load_demo_catalogue

        store.upsert_coffees(load_demo_catalogue())
        for i in range(5):
            store.set_subscription(Subscription(user=f"sub-{i}", box_size=3))
    runner = CliRunner()
    out = tmp_path / "boxes.csv"
    args = ["curate", "--month", "2027-02", "--model", str(settings.model_dir), "--csv", str(out)]
    result = runner.invoke(cli_app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    assert run["summary"]["picks"] == 15 and run["status"] == "draft"
    assert len(out.read_text().splitlines()) == 16
    result = runner.invoke(cli_app, [*args, "--ship", "--solver", "greedy"])
    assert result.exit_code == 0, result.output
    assert "shipped" in result.output and "5 subscribers" in result.output
    result = runner.invoke(cli_app, args)
    assert result.exit_code == 2 and "shipped" in result.output
    result = runner.invoke(cli_app, ["curate", "--month", "02-2027"])
    assert result.exit_code == 2 and "YYYY-MM" in result.output
