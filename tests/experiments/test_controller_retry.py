"""The standalone controller (``taste2vec controller``) survives a store that fails for a
while: each failed round is retried with the runtime's backoff, the holder (and so the
fenced lease) stays the same, and an interrupted promotion is finished exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import taste2vec.store as store_module
from taste2vec.cli import app
from taste2vec.errors import StoreError
from taste2vec.registry import CHAMPION, ModelRegistry
from taste2vec.service.controller import ControllerAction, ExperimentController
from taste2vec.service.experiments import create_experiment
from taste2vec.service.runtime import Backoff
from taste2vec.sim.experiments import drive_exposures
from taste2vec.store import Store, create_store
from tests.experiments.helpers import FAST, two_versions


class FlakyStore:
    """A store whose named methods raise :class:`StoreError` (as an unreachable database
    does) for their first calls; ``when`` narrows which calls fail."""

    def __init__(self, store: Store, failures: dict[str, int], when: Any = None) -> None:
        self._store = store
        self.failures = dict(failures)
        self.when = when or (lambda name, kwargs: True)
        self.raised: list[str] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if name not in self.failures:
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.failures[name] > 0 and self.when(name, kwargs):
                self.failures[name] -= 1
                self.raised.append(name)
                raise StoreError("could not connect to the database (simulated outage)")
            return target(*args, **kwargs)

        return call


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with create_store(f"sqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


def test_a_failing_store_is_retried_and_the_promotion_finishes_once(
    tmp_path: Path, store: Store, tiny_model_dir: Path, other_model_dir: Path
) -> None:
    registry, _, v2 = two_versions(tmp_path, store, "retry", tiny_model_dir, other_model_dir)
    exp = create_experiment(
        registry, treatment_version=v2, treatment_share=0.5, config=FAST, actor="ci"
    )
    drive_exposures(store, exp, range(600), {"control": 0.2, "treatment": 0.4}, 0)

    controller = ExperimentController(registry, interval_s=0.01)
    # two rounds cannot reach the store at all; the third loses it after the champion
    # moved, before the experiment is marked promoted
    flaky = FlakyStore(
        store,
        {"acquire_lease": 2, "transition_experiment": 1},
        when=lambda name, kw: name == "acquire_lease" or kw.get("status") == "promoted",
    )
    controller.store = flaky  # type: ignore[assignment]
    seen: list[ControllerAction] = []

    def collect(actions: list[ControllerAction]) -> None:
        seen.extend(actions)

    stop = threading.Event()

    def until_done(actions: list[ControllerAction]) -> None:
        collect(actions)
        if any(a.status == "promoted" for a in actions):
            stop.set()

    assert controller.serve(
        stop, backoff=Backoff(0.001, 0.01), max_failures=10, on_actions=until_done
    )
    assert flaky.raised == ["acquire_lease", "acquire_lease", "transition_experiment"]
    assert controller.failures == 3 and "simulated outage" in (controller.last_error or "")
    assert [(a.action, a.status) for a in seen] == [("promote", "promoted")]
    assert store.get_experiment(exp.id).status == "promoted"
    assert registry.aliases() == {CHAMPION: v2}
    promotions = [e for e in registry.history(CHAMPION) if e.evidence.get("experiment") == exp.id]
    assert len(promotions) == 1  # the redone step did not move the champion again
    lease = store.lease(controller.lease_name)
    assert lease is not None and lease[:2] == (controller.holder, 1)  # never lost, same token


def test_serve_gives_up_after_max_failures(tmp_path: Path, store: Store) -> None:
    registry = ModelRegistry(
        f"sqlite:///{tmp_path / 'mlflow.db'}", store, name="down", cache_dir=tmp_path / "cache"
    )
    controller = ExperimentController(registry, interval_s=0.01)
    controller.store = FlakyStore(store, {"acquire_lease": 100})  # type: ignore[assignment]
    ok = controller.serve(
        threading.Event(), once=True, backoff=Backoff(0.001, 0.01), max_failures=3
    )
    assert not ok and controller.failures == 3


def test_cli_controller_retries_a_store_that_is_down_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "T2V_REGISTRY_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "T2V_REGISTRY_MODEL_NAME": "cli-retry",
        "T2V_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "T2V_CACHE_DIR": str(tmp_path / "cache"),
    }
    real = store_module.create_store
    attempts: list[str] = []

    def down_twice(url: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(str(url))
        if len(attempts) <= 2:
            raise StoreError("could not connect to the database (simulated outage)")
        return real(url, *args, **kwargs)

    monkeypatch.setattr(store_module, "create_store", down_twice)
    result = CliRunner().invoke(app, ["controller", "--once"], env=env)
    assert result.exit_code == 0, result.output
    assert len(attempts) == 3
    assert result.output.count("simulated outage") == 2 and "retrying in" in result.output

    attempts.clear()
    monkeypatch.setattr(store_module, "create_store", _always_down)
    result = CliRunner().invoke(app, ["controller", "--once", "--max-failures", "2"], env=env)
    assert result.exit_code == 1 and "simulated outage" in result.output, result.output


def _always_down(*args: Any, **kwargs: Any) -> Any:
    raise StoreError("could not connect to the database (simulated outage)")
