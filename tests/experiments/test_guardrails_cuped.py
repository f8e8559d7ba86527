"""The controller's guardrail and CUPED inputs (issue 12 gaps 1 and 2).

* Per-arm request outcomes: every serving process writes its own cumulative counts to
  the store (``Store.record_arm_requests``), the controller sums them; a treatment that
  errors or is slow is rolled back, an arm without counts is missing (never a breach).
  One test drives real requests through a service's ``ArmRouter`` whose treatment model
  fails.
* CUPED: the controller reads each user's pre-experiment CTR from the store's events and
  passes it as the covariate; on correlated pre-period data the decision's variance falls.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from taste2vec.errors import NotFoundError, SchemaError
from taste2vec.experiments.assignment import arm_of
from taste2vec.experiments.metrics import ArmMetrics, PrePeriod
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.registry import CHALLENGER, CHAMPION, ModelRegistry
from taste2vec.service import TasteService, seed_demo
from taste2vec.service.arms import ArmRouter
from taste2vec.service.console_ops import OpsView
from taste2vec.service.controller import ExperimentController, evaluate
from taste2vec.service.experiments import create_experiment
from taste2vec.store import ArmRequests, Experiment, Store, create_store
from taste2vec.stream.events import RecommendationClicked, RecommendationShown
from tests.experiments.helpers import FAST, two_versions


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guardrails")


@pytest.fixture(scope="module")
def store(home: Path) -> Iterator[Store]:
    with create_store(f"sqlite:///{home / 'store.db'}") as opened:
        seed_demo(opened, home / "keys.json")
        yield opened


def _experiment(
    home: Path, store: Store, name: str, v1_dir: Path, v2_dir: Path, **config: Any
) -> tuple[ModelRegistry, Experiment]:
    registry, _, v2 = two_versions(home, store, name, v1_dir, v2_dir)
    exp = create_experiment(
        registry,
        treatment_version=v2,
        treatment_share=0.5,
        config={**FAST, **config},
        actor="ci",
    )
    return registry, exp


def _guardrail(decision: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [g for g in decision["evidence"]["guardrails"] if g["name"] == name]
    return found


def test_arm_request_counts_are_summed_over_processes(store: Store) -> None:
    exp = store.create_experiment(
        experiment_id="counts",
        model_name="counts",
        control_version="1",
        treatment_version="2",
        treatment_share=0.5,
        salt="s",
        config={},
        created_by="ci",
    )
    assert store.arm_requests(exp.id, 250.0) == {}
    store.record_arm_requests(exp.id, "treatment", "a", ArmRequests(10, 1, 2, 250.0))
    store.record_arm_requests(exp.id, "treatment", "a", ArmRequests(30, 3, 4, 250.0))  # grows
    store.record_arm_requests(exp.id, "treatment", "b", ArmRequests(5, 0, 1, 250.0))
    store.record_arm_requests(exp.id, "control", "b", ArmRequests(7, 0, 0, 250.0))
    store.record_arm_requests(exp.id, "control", "c", ArmRequests(9, 9, 9, 100.0))  # other limit
    assert store.arm_requests(exp.id, 250.0) == {
        "treatment": ArmRequests(35, 3, 5, 250.0),
        "control": ArmRequests(7, 0, 0, 250.0),
    }
    with pytest.raises(SchemaError, match="inconsistent"):
        store.record_arm_requests(exp.id, "control", "d", ArmRequests(1, 2, 0, 250.0))
    with pytest.raises(SchemaError, match="limit_ms"):
        store.record_arm_requests(exp.id, "control", "d", ArmRequests(1, 0, 0, 0.0))


@pytest.mark.parametrize(
    ("treatment", "breached"),
    [
        (ArmRequests(2000, 0, 400, 250.0), "latency_p99"),  # 20% of requests over 250 ms
        (ArmRequests(2000, 200, 10, 250.0), "error_rate"),  # 10% errors vs 0.1%
    ],
)
def test_a_slow_or_failing_treatment_is_rolled_back(
    home: Path,
    store: Store,
    tiny_model_dir: Path,
    other_model_dir: Path,
    treatment: ArmRequests,
    breached: str,
) -> None:
    registry, exp = _experiment(home, store, f"bad-{breached}", tiny_model_dir, other_model_dir)
    v1 = exp.control_version
    controller = ExperimentController(registry, interval_s=1)
    [first] = controller.tick()  # no request counts yet: missing, never a breach
    assert first.action == "continue"
    decision = store.get_experiment(exp.id).last_decision
    assert decision is not None
    assert {g["status"] for g in decision["evidence"]["guardrails"]} >= {"missing"}
    assert _guardrail(decision, "latency_p99")["status"] == "missing"
    assert _guardrail(decision, "error_rate")["status"] == "missing"

    # two serving processes wrote their counts (the controller may run anywhere else)
    half = ArmRequests(treatment.requests // 2, treatment.errors // 2, treatment.slower // 2, 250.0)
    store.record_arm_requests(exp.id, "control", "replica-1", ArmRequests(1000, 1, 3, 250.0))
    store.record_arm_requests(exp.id, "control", "replica-2", ArmRequests(1000, 1, 2, 250.0))
    store.record_arm_requests(exp.id, "treatment", "replica-1", half)
    store.record_arm_requests(exp.id, "treatment", "replica-2", half)
    [acted] = controller.tick()
    assert (acted.action, acted.status) == ("rollback", "rolled_back")
    assert any(f"guardrail breached: {breached}" in r for r in acted.reasons)
    assert registry.aliases() == {CHAMPION: v1}  # challenger cleared, champion unchanged
    done = store.get_experiment(exp.id)
    assert done.last_decision is not None
    assert _guardrail(done.last_decision, breached)["status"] == "breached"
    assert done.last_decision["requests"]["treatment"]["requests"] == treatment.requests
    [move] = [e for e in registry.history(CHALLENGER) if e.new_version is None]
    assert move.evidence["decision"]["action"] == "rollback"


def test_healthy_counts_and_an_arm_without_counts_are_no_breach(
    home: Path, store: Store, tiny_model_dir: Path, other_model_dir: Path
) -> None:
    registry, exp = _experiment(home, store, "healthy", tiny_model_dir, other_model_dir)
    # the treatment's counts only: the error-rate guardrail needs both arms (missing)
    store.record_arm_requests(exp.id, "treatment", "r", ArmRequests(3000, 3, 10, 250.0))
    decision = evaluate(store, exp)
    assert decision["action"] == "continue"
    assert _guardrail(decision, "latency_p99")["status"] == "ok"
    assert _guardrail(decision, "error_rate")["status"] == "missing"
    store.record_arm_requests(exp.id, "control", "r", ArmRequests(3000, 2, 12, 250.0))
    decision = evaluate(store, exp)
    assert _guardrail(decision, "error_rate")["status"] == "ok"
    [acted] = ExperimentController(registry, interval_s=1).tick()
    assert acted.action == "continue" and registry.aliases()[CHALLENGER] == exp.treatment_version


def test_a_treatment_model_that_fails_in_a_service_is_rolled_back(
    home: Path, store: Store, tiny_model_dir: Path, other_model_dir: Path, minilm: Any
) -> None:
    """Real requests through ``TasteService.recommend_served``: the router counts each
    arm's outcomes and writes them to the store; the controller rolls the treatment back."""
    registry, exp = _experiment(home, store, "failing", tiny_model_dir, other_model_dir)

    def load(path: Path) -> Taste2Vec:
        return Taste2Vec.load(path, text_encoder=minilm)

    service = TasteService(store, load(tiny_model_dir))
    router = ArmRouter(service, registry, load)
    service.arms = router
    router.sync_once()
    assert router.treatment is not None

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("treatment model broken")

    router.treatment.engine.recommend = broken  # type: ignore[method-assign]
    failed = 0
    users = [f"user-{i}" for i in range(60)]
    for user in users:
        try:
            assignment, items = service.recommend_served(user, 3)
            assert assignment is not None and assignment.arm == "control" and items
        except RuntimeError:
            failed += 1
            assert arm_of(exp.salt, user, 0.5) == "treatment"
    treated = sum(arm_of(exp.salt, u, 0.5) == "treatment" for u in users)
    assert failed == treated > 5
    with pytest.raises(NotFoundError):  # a client error is not counted as an arm error
        router.treatment.engine.recommend = _raise_not_found  # type: ignore[method-assign]
        service.recommend_served(next(u for u in users if arm_of(exp.salt, u, 0.5) != "control"), 3)
    router.sync_once()  # writes this process's counts
    counts = store.arm_requests(exp.id, 250.0)
    assert counts["treatment"].requests == treated + 1
    assert counts["treatment"].errors == treated
    assert counts["control"].requests == len(users) - treated
    assert counts["control"].errors == 0
    [acted] = ExperimentController(registry, interval_s=1).tick()
    assert (acted.action, acted.status) == ("rollback", "rolled_back")
    assert any("error_rate" in r for r in acted.reasons)
    router.sync_once()
    assert router.treatment is None  # routing ended with the experiment


def _raise_not_found(*args: Any, **kwargs: Any) -> Any:
    raise NotFoundError("no such coffee")


# ---------------------------------------------------------------------------- CUPED


def _shown_and_clicked(
    user: str, tag: str, p: float, n: int, rng: np.random.Generator, exp: Experiment | None
) -> list[RecommendationShown | RecommendationClicked]:
    now = datetime.now(UTC)
    arm = None if exp is None else arm_of(exp.salt, user, exp.treatment_share)
    out: list[RecommendationShown | RecommendationClicked] = []
    for r in range(n):
        request = f"{user}-{tag}{r}"
        out.append(
            RecommendationShown(
                event_id=f"shown:{request}",
                user=user,
                event_time=now,
                request=request,
                coffees=["c1", "c2"],
                experiment=None if exp is None else exp.id,
                arm=arm,
            )
        )
        if rng.random() < p:
            out.append(
                RecommendationClicked(
                    event_id=f"click:{request}",
                    user=user,
                    event_time=now,
                    coffee="c1",
                    request=request,
                )
            )
    return out


def _add(store: Store, events: list[Any]) -> None:
    for start in range(0, len(events), 2000):
        assert not [
            r for r in store.add_events(events[start : start + 2000]) if isinstance(r, Exception)
        ]


def test_the_controller_uses_each_users_pre_period_ctr_as_cuped_covariate(
    home: Path, store: Store, tiny_model_dir: Path, other_model_dir: Path
) -> None:
    """Users differ in click propensity (Beta(2, 5)); the 20 requests each saw before the
    experiment predict their CTR in it, so CUPED shrinks the variance by about r² (here
    ≈ 0.55 for the per-user CTR). A fifth of the users have no pre-period history."""
    rng = np.random.default_rng(12)
    name = "cuped"
    users = [f"{name}-u{i}" for i in range(600)]
    propensity = {u: float(rng.beta(2, 5)) for u in users}
    pre_events: list[Any] = []
    for u in users[:480]:  # the pre-period: before the experiment is created
        pre_events += _shown_and_clicked(u, "pre", propensity[u], 20, rng, None)
    _add(store, pre_events)
    registry, exp = _experiment(
        home, store, name, tiny_model_dir, other_model_dir, primary="ctr_per_user"
    )
    during: list[Any] = []
    for u in users:
        during += _shown_and_clicked(u, "exp", propensity[u], 20, rng, exp)
    _add(store, during)

    with_cuped = evaluate(store, exp)
    without = evaluate(store, dataclasses.replace(exp, config={**exp.config, "pre_period_s": 0}))
    assert with_cuped["pre_period"]["users_with_history"]["ctr"] >= 480
    assert without["pre_period"] is None and without["evidence"]["primary"]["cuped"] is None
    cu = with_cuped["evidence"]["primary"]["cuped"]
    assert cu is not None and cu["theta"] > 0.5  # x and y measure the same propensity
    assert cu["variance_ratio"] < 0.7  # about 1 - r² = 0.45 with 4/5 of users' history

    def width(decision: dict[str, Any]) -> float:
        low, high = decision["evidence"]["primary"]["interval"]
        return float(high - low)

    assert width(with_cuped) < 0.85 * width(without)

    # The controller's stored decision is the CUPED one; per-request CTR gets it too.
    [acted] = ExperimentController(registry, interval_s=1).tick()
    assert acted.action == "continue"  # no true lift
    stored = store.get_experiment(exp.id).last_decision
    assert stored is not None and stored["evidence"]["primary"]["cuped"] is not None
    # the console's interval over time replays the same CUPED decision
    last = OpsView(registry, tiny_model_dir).interval_history(exp, points=2)[-1]
    low, high = stored["evidence"]["primary"]["interval"]
    assert (last.low, last.high) == pytest.approx((low, high), rel=1e-9)
    per_request = dataclasses.replace(exp, config={**exp.config, "primary": "recommendation_ctr"})
    assert evaluate(store, per_request)["evidence"]["primary"]["cuped"]["variance_ratio"] < 1


def test_pre_period_setting_is_validated(
    home: Path, store: Store, tiny_model_dir: Path, other_model_dir: Path
) -> None:
    registry = ModelRegistry(
        f"sqlite:///{home / 'mlflow.db'}", store, name="cuped", cache_dir=home / "cache"
    )
    for bad in (-1, "7d", True, 10**9):
        with pytest.raises(SchemaError, match="pre_period_s"):
            create_experiment(registry, config={"pre_period_s": bad}, actor="ci")


def test_pre_period_covariates_per_metric_with_imputation() -> None:
    """The sums ``decide`` gets: per request for CTR, per user for ctr_per_user, per rating
    for satisfaction; a user without history gets the mean of those with one."""
    t0 = datetime.now(UTC)
    salt = next(
        s
        for s in (f"s{i}" for i in range(1000))
        if {arm_of(s, u, 0.5) for u in ("a", "b", "c")} == {"control"}
    )
    pre = PrePeriod(86400)
    for request, clicked in (("p1", True), ("p2", False), ("p3", False), ("p4", False)):
        pre.add("a", "recommendation_shown", {"request": request})
        if clicked:
            pre.add("a", "recommendation_clicked", {"request": request})
    pre.add("b", "recommendation_shown", {"request": "q1"})
    pre.add("b", "recommendation_clicked", {"request": "q1"})
    pre.add("a", "box_rated", {"rating": 2})
    pre.add("a", "box_rated", {"rating": 4})
    metrics = ArmMetrics("e", salt, 0.5)
    for user, requests, clicks, ratings in (("a", 2, 1, [5]), ("b", 1, 0, []), ("c", 1, 1, [1, 3])):
        for r in range(requests):
            metrics.add(
                user,
                "recommendation_shown",
                {"experiment": "e", "arm": "control", "request": f"{user}{r}"},
                t0,
            )
        for r in range(clicks):
            metrics.add(user, "recommendation_clicked", {"request": f"{user}{r}"}, t0)
        for rating in ratings:
            metrics.add(user, "box_rated", {"rating": rating}, t0)
    control, treatment = metrics.arm_data(pre)
    assert treatment.users == 0 and control.users == 3
    x = {"a": 0.25, "b": 1.0, "c": (0.25 + 1.0) / 2}  # c: no history, the mean
    ctr = control.metrics["recommendation_ctr"]
    assert (ctr.n, ctr.total) == (4, 2)
    assert ctr.pre_total == pytest.approx(2 * x["a"] + x["b"] + x["c"])
    assert ctr.pre_total_sq == pytest.approx(2 * x["a"] ** 2 + x["b"] ** 2 + x["c"] ** 2)
    assert ctr.cross_total == pytest.approx(1 * x["a"] + 0 * x["b"] + 1 * x["c"])
    per_user = control.metrics["ctr_per_user"]
    assert per_user.cross_total == pytest.approx(0.5 * x["a"] + 0.0 * x["b"] + 1.0 * x["c"])
    sat = control.metrics["user_satisfaction"]  # only a has a pre-period rating (3.0)
    assert (sat.n, sat.total) == (3, 9)
    assert sat.pre_total == pytest.approx(3.0 + 2 * 3.0)
    assert sat.cross_total == pytest.approx(3.0 * 5 + 3.0 * 4)
    assert control.metrics["subscription_retention"].pre_total is None  # no covariate
    no_history = metrics.arm_data(PrePeriod(86400))[0]
    assert not no_history.metrics["recommendation_ctr"].has_covariate
