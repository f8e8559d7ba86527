"""Experiments and the controller on the embedded registry: creation checks, automatic
promotion and rollback from stored events, one actor among concurrent controllers, the
lease's fencing, and kill -9 in the middle of a promotion (a real subprocess)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from taste2vec.errors import ConflictError, NotFoundError, SchemaError
from taste2vec.registry import CHALLENGER, CHAMPION
from taste2vec.service.controller import ExperimentController
from taste2vec.service.experiments import create_experiment, stop_experiment
from taste2vec.sim.experiments import drive_exposures
from taste2vec.store import Experiment, Fence, Store, create_store
from tests.experiments.helpers import FAST, registry_in, two_versions


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("experiments")


@pytest.fixture(scope="module")
def store(home: Path) -> Iterator[Store]:
    with create_store(f"sqlite:///{home / 'store.db'}") as opened:
        yield opened


def drive(
    store: Store, exp: Experiment, ctr: dict[str, float], users: int = 600, seed: int = 0
) -> None:
    """Every user sees 4 recommendations under the experiment; each is clicked with the
    probability of the user's arm."""
    drive_exposures(store, exp, range(users), ctr, seed)


def test_create_checks_everything_first_and_changes_nothing_when_refused(
    home: Path, store: Store, tiny_model_dir: Path, other_model_dir: Path
) -> None:
    empty = registry_in(home, store, "no-champion")
    v1, _ = empty.register(tiny_model_dir, actor="ci")
    with pytest.raises(NotFoundError, match="no champion"):
        create_experiment(empty, treatment_version=v1.version, actor="ci")

    registry, v1s, v2s = two_versions(home, store, "checks", tiny_model_dir, other_model_dir)
    before = (registry.aliases(), len(registry.history()))
    with pytest.raises(NotFoundError):
        create_experiment(registry, treatment_version="99", actor="ci")
    with pytest.raises(SchemaError):
        create_experiment(registry, treatment_version="x1", actor="ci")
    with pytest.raises(NotFoundError, match="no challenger"):
        create_experiment(registry, actor="ci")
    with pytest.raises(ConflictError, match="champion already"):
        create_experiment(registry, treatment_version=v1s, actor="ci")
    for share in (0.0, 1.0, 1.5, -0.2):
        with pytest.raises(SchemaError, match="treatment_share"):
            create_experiment(registry, treatment_version=v2s, treatment_share=share, actor="ci")
    with pytest.raises(SchemaError, match="unknown experiment setting"):
        create_experiment(registry, treatment_version=v2s, config={"bogus": 1}, actor="ci")
    with pytest.raises(SchemaError, match="invalid experiment setting"):
        create_experiment(registry, treatment_version=v2s, config={"alpha": 2.0}, actor="ci")
    assert (registry.aliases(), len(registry.history())) == before
    assert store.list_experiments("checks") == []

    exp = create_experiment(registry, treatment_version=v2s, actor="ci")
    assert (exp.control_version, exp.treatment_version, exp.treatment_share) == (v1s, v2s, 0.1)
    assert registry.aliases() == {CHAMPION: v1s, CHALLENGER: v2s}
    with pytest.raises(ConflictError, match="active experiment"):
        create_experiment(registry, treatment_version=v2s, actor="ci")
    stopped = stop_experiment(registry, exp.id, actor="ci", reason="enough")
    assert stopped.status == "stopped" and stopped.ended_at is not None
    assert registry.aliases() == {CHAMPION: v1s}  # challenger cleared, champion unchanged
    with pytest.raises(ConflictError, match="not running"):
        stop_experiment(registry, exp.id, actor="ci")
    with pytest.raises(NotFoundError):
        stop_experiment(registry, "exp-nope", actor="ci")


def test_controller_promotes_a_better_treatment(
    home: Path, store: Store, tiny_model_dir: Path, other_model_dir: Path
) -> None:
    registry, v1, v2 = two_versions(home, store, "better", tiny_model_dir, other_model_dir)
    exp = create_experiment(
        registry, treatment_version=v2, treatment_share=0.5, config=FAST, actor="ci"
    )
    controller = ExperimentController(registry, interval_s=1)
    [first] = controller.tick()
    assert first.action == "continue"  # no data yet
    drive(store, exp, {"control": 0.2, "treatment": 0.4})
    [acted] = controller.tick()
    assert (acted.action, acted.status) == ("promote", "promoted")
    assert registry.aliases() == {CHAMPION: v2}
    done = store.get_experiment(exp.id)
    assert done.status == "promoted" and done.last_decision is not None
    assert done.last_decision["action"] == "promote"
    moves = registry.history()
    promote = next(m for m in moves if m.alias == CHAMPION and m.action == "promote")
    assert promote.new_version == v2 and promote.actor.startswith("controller:")
    assert promote.evidence["experiment"] == exp.id
    interval = promote.evidence["decision"]["evidence"]["primary"]["interval"]
    assert interval[0] > 0.05  # the always-valid interval cleared +5%
    assert moves[0].alias == CHALLENGER and moves[0].action == "remove"
    assert controller.tick() == []  # nothing active any more


def test_controller_rolls_back_a_worse_treatment_and_waits_for_min_size(
    home: Path, store: Store, tiny_model_dir: Path, other_model_dir: Path
) -> None:
    registry, v1, v2 = two_versions(home, store, "worse", tiny_model_dir, other_model_dir)
    # A better treatment below the minimum sample size is not promoted yet.
    wait = create_experiment(
        registry,
        treatment_version=v2,
        treatment_share=0.5,
        config={**FAST, "min_users_per_arm": 10_000},
        actor="ci",
    )
    drive(store, wait, {"control": 0.2, "treatment": 0.4}, seed=1)
    controller = ExperimentController(registry, interval_s=1)
    [waiting] = controller.tick()
    assert waiting.action == "continue"
    assert any("10000" in r or "10,000" in r for r in waiting.reasons), waiting.reasons
    assert registry.aliases()[CHAMPION] == v1
    stop_experiment(registry, wait.id, actor="ci")

    exp = create_experiment(
        registry, treatment_version=v2, treatment_share=0.5, config=FAST, actor="ci"
    )
    drive(store, exp, {"control": 0.4, "treatment": 0.2}, seed=2)
    [acted] = controller.tick()
    assert (acted.action, acted.status) == ("rollback", "rolled_back")
    assert registry.aliases() == {CHAMPION: v1}
    last = registry.history(limit=1)[0]
    assert (last.alias, last.action, last.previous_version) == (CHALLENGER, "remove", v2)
    assert last.evidence["decision"]["action"] == "rollback"


def test_two_controllers_at_once_only_one_acts(
    home: Path, store: Store, tiny_model_dir: Path, other_model_dir: Path
) -> None:
    registry, v1, v2 = two_versions(home, store, "pair", tiny_model_dir, other_model_dir)
    exp = create_experiment(
        registry, treatment_version=v2, treatment_share=0.5, config=FAST, actor="ci"
    )
    drive(store, exp, {"control": 0.2, "treatment": 0.4}, seed=3)
    # two registries (separate MLflow clients), as two processes would have
    a = ExperimentController(registry_in(home, store, "pair"), interval_s=1, holder="a")
    b = ExperimentController(registry_in(home, store, "pair"), interval_s=1, holder="b")
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def run(c: ExperimentController) -> None:
        barrier.wait()
        results[c.holder] = c.tick()

    threads = [threading.Thread(target=run, args=(c,)) for c in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    acted = [h for h, r in results.items() if r]
    assert len(acted) == 1, results
    assert a.rounds_led + b.rounds_led == 1
    promotes = [m for m in registry.history(CHAMPION) if m.action == "promote"]
    assert [m.new_version for m in promotes if m.actor.startswith("controller:")] == [v2]
    assert store.get_experiment(exp.id).status == "promoted"


def test_a_controller_that_lost_its_lease_cannot_act(store: Store) -> None:
    fence_a = store.acquire_lease("fence-test", "a", ttl_s=0.05)
    assert fence_a is not None
    assert store.acquire_lease("fence-test", "b", ttl_s=30) is None  # a holds it
    threading.Event().wait(0.1)  # a's lease expires (a paused, e.g. a long GC)
    fence_b = store.acquire_lease("fence-test", "b", ttl_s=30)
    assert fence_b is not None and fence_b.token == fence_a.token + 1
    exp = store.create_experiment(
        experiment_id="fence-exp",
        model_name="fence-model",
        control_version="1",
        treatment_version="2",
        treatment_share=0.1,
        salt="s",
        config={},
        created_by="ci",
    )
    stale = Fence("fence-test", "a", fence_a.token)
    assert (
        store.transition_experiment(exp.id, expected=("running",), status="promoting", fence=stale)
        is None
    )
    assert store.get_experiment(exp.id).status == "running"
    assert store.record_decision(exp.id, {"action": "continue"}, fence_b)
    assert store.acquire_lease("fence-test", "a", ttl_s=30) is None
    assert store.release_lease(fence_b)
    assert store.acquire_lease("fence-test", "a", ttl_s=30) is not None


_CONTROLLER = textwrap.dedent(
    """
    import sys
    from taste2vec.registry import ModelRegistry
    from taste2vec.service.controller import ExperimentController
    from taste2vec.store import create_store

    home, name = sys.argv[1], sys.argv[2]
    store = create_store(f"sqlite:///{home}/store.db")
    registry = ModelRegistry(
        f"sqlite:///{home}/mlflow.db", store, name=name, cache_dir=f"{home}/cache"
    )
    ExperimentController(registry, interval_s=1, lease_ttl_s=2.0).tick()
    """
)


@pytest.mark.parametrize("point", ["experiment-promoting", "alias-logged"])
def test_kill_9_mid_promotion_leaves_aliases_and_audit_log_consistent(
    home: Path, store: Store, tiny_model_dir: Path, other_model_dir: Path, point: str
) -> None:
    name = f"kill-{point}"
    registry, v1, v2 = two_versions(home, store, name, tiny_model_dir, other_model_dir)
    exp = create_experiment(
        registry, treatment_version=v2, treatment_share=0.5, config=FAST, actor="ci"
    )
    drive(store, exp, {"control": 0.2, "treatment": 0.4}, seed=4)
    env = {**os.environ, "T2V_CRASH_AT": point}
    proc = subprocess.run(
        [sys.executable, "-c", _CONTROLLER, str(home), name],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert store.get_experiment(exp.id).status == "promoting"
    # Whatever MLflow holds now, the audit log is the truth and reconcile agrees with it.
    log_champion = registry.history(CHAMPION, limit=1)[0].new_version
    assert log_champion == (v2 if point == "alias-logged" else v1)
    assert registry.reconcile(CHAMPION) == log_champion
    assert registry.aliases()[CHAMPION] == log_champion
    # The next controller (after the dead one's lease expired) finishes the promotion.
    threading.Event().wait(2.1)
    again = subprocess.run(
        [sys.executable, "-c", _CONTROLLER, str(home), name],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert store.get_experiment(exp.id).status == "promoted"
    assert registry.aliases() == {CHAMPION: v2}
    champion_moves = registry.history(CHAMPION)
    assert [m.new_version for m in champion_moves if m.action == "promote"] == [v2, v1]
    assert [m.move for m in champion_moves] == sorted(
        (m.move for m in champion_moves), reverse=True
    )
    assert all(
        newer.previous_version == older.new_version
        for newer, older in zip(champion_moves, champion_moves[1:], strict=False)
    )
