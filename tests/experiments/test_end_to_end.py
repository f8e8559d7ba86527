"""The A/B workflow end to end, through the HTTP API of a service that follows the registry.

1. ``tiny_model_dir`` is a challenger trained by the session fixture; the champion at the
   start is a deliberately broken copy of it (every weight drowned in noise);
2. the challenger is registered through ``POST /v1/models/registry/versions``;
3. an experiment starts through ``POST /v1/experiments`` (half the users in the treatment,
   small minimum sizes so the test stays short);
4. simulated subscribers go through the service: each has a hidden preferred roast level,
   says so with a few likes and dislikes (``POST /v1/feedback``), asks for
   recommendations (the answer names their arm and the model version that served it)
   and may click the first one (``POST /v1/events``, ``recommendation_clicked``);
5. the service's own controller promotes the better-performing treatment; a second
   experiment with another broken version is rolled back;
6. the audit log holds both actions with their evidence;
7. after a restart the champion is still the promoted version.

**What "better" means here.** A subscriber clicks the first recommendation only when it
is of their roast level, and then with a probability that depends on the model version
that served the answer (:data:`CLICK_WHEN_MATCHED`: 0.95 for the trained model, 0.25 for a
broken one). The version-dependent part is a stand-in: this recommender's first pick
barely depends on the model once the crowd's statistics are fitted (measured once by
hand with 200 such subscribers in a TasteService: first pick of the preferred roast 0.55
for the trained model, 0.54 for the noise-destroyed one), so a click rule on the ranking
alone could not tell them apart in a test of this size. The test checks the experiment machinery
(assignment, per-arm serving, events, statistics, controller, audit log, restart), not
which model is better.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from taste2vec.api.app import create_app
from taste2vec.config import Settings
from taste2vec.model.artifact import weights_version
from taste2vec.registry import open_registry
from taste2vec.store import create_store
from tests.api.conftest import ADMIN, make_settings
from tests.experiments.conftest import perturbed_copy

CLICK_WHEN_MATCHED = {"good": 0.95, "broken": 0.25}
FAST = {"min_users_per_arm": 60, "min_duration_s": 0, "tuning": 600}
USERS = 160  # per experiment at most; 3 recommendation requests each


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ab-e2e")


@pytest.fixture(scope="module")
def broken_dirs(tiny_model_dir: Path, home: Path) -> tuple[Path, Path]:
    return (
        perturbed_copy(tiny_model_dir, home / "broken-1" / "model", 10.0, 11),
        perturbed_copy(tiny_model_dir, home / "broken-2" / "model", 10.0, 12),
    )


@pytest.fixture(scope="module")
def settings(home: Path, broken_dirs: tuple[Path, Path]) -> Settings:
    return make_settings(
        home,
        broken_dirs[0],  # the champion the service starts with
        model_source="registry",
        registry_poll_s=0.2,
        follow_interval_s=0.2,
        controller_interval_s=1.0,
        rate_limit_per_s=0,
        cache_dir=home / "cache",
    )


def _wait(what: str, check: Any, timeout: float = 180.0, show: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}: {show() if show else ''}")


def _ended(client: TestClient, exp_id: str) -> dict[str, Any] | None:
    exp = _experiment(client, exp_id)
    return exp if exp["status"] in ("promoted", "rolled_back", "halted", "stopped") else None


def _drive(
    client: TestClient, exp_id: str, tag: str, seed: int, good_version: str
) -> dict[str, int]:
    """Simulated subscribers through the API until the experiment ends (the controller
    may decide while they are still coming: it is a sequential test); requests per arm."""
    coffees = client.get("/v1/coffees?limit=500", headers=ADMIN).json()
    by_level: dict[str, list[str]] = {}
    for c in coffees:
        if c.get("roast_level") and c.get("stock", 0) > 0:
            by_level.setdefault(c["roast_level"], []).append(c["id"])
    levels = sorted(lv for lv, ids in by_level.items() if len(ids) >= 4)
    roast = {c["id"]: c.get("roast_level") for c in coffees}
    rng = np.random.default_rng(seed)
    requests = {"control": 0, "treatment": 0}
    now = datetime.now(UTC).isoformat()
    for u in range(USERS):
        user = f"{tag}-{u:04d}"
        level = levels[u % len(levels)]
        mine = by_level[level]
        others = [c for lv in levels if lv != level for c in by_level[lv]]
        picks = [(c, "liked") for c in rng.choice(mine, 2, replace=False)]
        picks += [(c, "disliked") for c in rng.choice(others, 2, replace=False)]
        for i, (coffee, signal) in enumerate(picks):
            body = {"id": f"{user}-fb{i}", "user": user, "coffee": str(coffee), "signal": signal}
            r = client.post("/v1/feedback", json=body, headers=ADMIN)
            assert r.status_code == 201, r.text
        clicks = []
        for r_i in range(3):
            r = client.get(f"/v1/users/{user}/recommendations?k=5", headers=ADMIN)
            assert r.status_code == 200, r.text
            answer = r.json()
            if answer["experiment"] is None:  # the controller decided: the experiment ended
                return requests
            assert answer["experiment"] == exp_id and answer["arm"] in requests, answer
            requests[answer["arm"]] += 1
            top = answer["items"][0]["coffee"]
            served_by = "good" if answer["model_version"] == good_version else "broken"
            if roast.get(top) == level and rng.random() < CLICK_WHEN_MATCHED[served_by]:
                clicks.append(
                    {
                        "type": "recommendation_clicked",
                        "event_id": f"{user}-click{r_i}",
                        "user": user,
                        "event_time": now,
                        "coffee": top,
                        "request": answer["request"],
                    }
                )
        if clicks:
            r = client.post("/v1/events", json=clicks, headers=ADMIN)
            assert r.status_code in (200, 201), r.text
    return requests


def _experiment(client: TestClient, exp_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/experiments/{exp_id}", headers=ADMIN)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _serving(client: TestClient) -> str:
    return str(client.get("/v1/models/registry", headers=ADMIN).json()["serving"])


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with create_store(settings.database_url) as store:  # the champion before the app starts
        registry = open_registry(settings, store)
        info, _ = registry.register(settings.model_dir, actor="test", description="broken")
        registry.promote(info.version, actor="test", reason="first champion")
    with TestClient(create_app(settings)) as c:
        yield c


def test_promote_a_better_performing_treatment_roll_back_a_worse_one_and_survive_a_restart(
    client: TestClient,
    settings: Settings,
    tiny_model_dir: Path,
    broken_dirs: tuple[Path, Path],
) -> None:
    # 2. register the trained challenger through the API
    r = client.post(
        "/v1/models/registry/versions", headers=ADMIN, json={"model_dir": str(tiny_model_dir)}
    )
    assert r.status_code == 201, r.text
    good = r.json()["version"]["version"]
    # bad input changes nothing
    assert (
        client.post("/v1/experiments", headers=ADMIN, json={}).status_code == 404
    )  # no challenger
    bad = {"treatment_version": "99"}
    assert client.post("/v1/experiments", headers=ADMIN, json=bad).status_code == 404
    bad = {"treatment_version": good, "treatment_share": 1.5}
    assert client.post("/v1/experiments", headers=ADMIN, json=bad).status_code == 422
    assert client.post("/v1/experiments", json={"treatment_version": good}).status_code == 401
    assert client.get("/v1/models/registry", headers=ADMIN).json()["aliases"] == {"champion": "1"}

    # 3. start the experiment
    config = {**FAST, "pre_period_s": 3600}
    body = {"treatment_version": good, "treatment_share": 0.5, "config": config, "id": "ab-good"}
    r = client.post("/v1/experiments", headers=ADMIN, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["control_version"] == "1" and r.json()["status"] == "running"
    again = client.post("/v1/experiments", headers=ADMIN, json={**body, "id": "ab-two"})
    assert again.status_code == 409  # one active experiment per model
    _wait(
        "the treatment model to be served",
        lambda: client.get("/v1/users/probe/recommendations", headers=ADMIN).json()["experiment"],
    )

    # 4.-5. simulated subscribers; the controller promotes
    good_weights = weights_version(tiny_model_dir)
    served = _drive(client, "ab-good", "sub-a", seed=1, good_version=good_weights)
    assert min(served.values()) >= 60, served
    done = _wait(
        "the controller to promote",
        lambda: _ended(client, "ab-good"),
        show=lambda: _experiment(client, "ab-good"),
    )
    decision = done["last_decision"]
    assert done["status"] == "promoted", decision["reasons"]
    lift = decision["evidence"]["primary"]["relative_lift"]
    assert decision["evidence"]["primary"]["interval"][0] > 0.05 and lift > 0.05
    assert decision["users"]["control"] >= 60 and decision["users"]["treatment"] >= 60
    assert decision["pre_period"]["window_s"] == 3600  # the API's pre_period_s setting
    # every routed request was counted in its arm and reached the store (guardrail input)
    store = client.app.state.service.store  # type: ignore[attr-defined]

    def both_arms() -> Any:
        found = store.arm_requests("ab-good", 250.0)
        return found if {"control", "treatment"} <= set(found) else None

    counts = _wait("the per-arm request counts in the store", both_arms)
    assert counts["control"].requests >= 60 and counts["treatment"].requests >= 60
    assert counts["control"].errors == counts["treatment"].errors == 0
    _wait(
        "every user to be served the new champion",
        lambda: _serving(client) == weights_version(tiny_model_dir),
    )

    # a deliberately broken challenger is rolled back
    r = client.post(
        "/v1/models/registry/versions", headers=ADMIN, json={"model_dir": str(broken_dirs[1])}
    )
    broken = r.json()["version"]["version"]
    body = {"treatment_version": broken, "treatment_share": 0.5, "config": FAST, "id": "ab-bad"}
    r = client.post("/v1/experiments", headers=ADMIN, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["control_version"] == good
    _wait(
        "the broken treatment to be served",
        lambda: (
            client.get("/v1/users/probe2/recommendations", headers=ADMIN).json()["experiment"]
            == "ab-bad"
        ),
    )
    _drive(client, "ab-bad", "sub-b", seed=2, good_version=good_weights)
    done = _wait(
        "the controller to roll back",
        lambda: _ended(client, "ab-bad"),
        show=lambda: _experiment(client, "ab-bad"),
    )
    assert done["status"] == "rolled_back", done["last_decision"]["reasons"]
    assert done["last_decision"]["evidence"]["primary"]["interval"][1] < -0.05

    # 6. the audit log
    history = client.get("/v1/models/registry/history", headers=ADMIN).json()
    events = history["events"] if isinstance(history, dict) else history
    by_controller = [e for e in events if str(e["actor"]).startswith("controller:")]
    kinds = [(e["alias"], e["action"], e["new_version"]) for e in by_controller]
    assert ("champion", "promote", good) in kinds
    assert ("challenger", "remove", None) in kinds
    promote = next(e for e in by_controller if e["action"] == "promote")
    assert promote["evidence"]["experiment"] == "ab-good"
    assert promote["evidence"]["decision"]["action"] == "promote"
    removal = next(
        e for e in by_controller if e["alias"] == "challenger" and e["previous_version"] == broken
    )
    assert removal["evidence"]["decision"]["action"] == "rollback"
    assert client.get("/v1/models/registry", headers=ADMIN).json()["aliases"] == {"champion": good}
    # answers are plain again: no experiment is active
    plain = client.get("/v1/users/sub-b-0000/recommendations", headers=ADMIN).json()
    _wait(
        "the experiment to end on the serving side",
        lambda: (
            client.get("/v1/users/sub-b-0001/recommendations", headers=ADMIN).json()["experiment"]
            is None
        ),
    )
    assert plain["model_version"] in (
        weights_version(tiny_model_dir),
        weights_version(broken_dirs[1]),
    )

    # 7. restart: the champion survives
    client.__exit__(None, None, None)
    with TestClient(create_app(settings)) as again_client:
        assert _serving(again_client) == weights_version(tiny_model_dir)
        listing = again_client.get("/v1/experiments", headers=ADMIN).json()["experiments"]
        assert {e["id"]: e["status"] for e in listing} == {
            "ab-bad": "rolled_back",
            "ab-good": "promoted",
        }
