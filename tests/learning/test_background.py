"""BackgroundLearner: starts, learns on its own thread, survives failures, stops cleanly."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import torch

from taste2vec.learning.background import BackgroundLearner
from taste2vec.learning.learner import LearnerConfig, OnlineLearner, clone_model
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import Coffee


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def learner(tiny_model: Taste2Vec, catalogue: list[Coffee], sim_data) -> OnlineLearner:  # type: ignore[no-untyped-def]
    _, validation = sim_data
    return OnlineLearner(
        clone_model(tiny_model), catalogue, validation, config=LearnerConfig(lr=1e-3)
    )


def _user_ordered(sim_data) -> list:  # type: ignore[no-untyped-def, type-arg]
    return sorted(sim_data[0], key=lambda x: x.user)


def test_updates_every_n_reactions_and_stops_cleanly(learner: OnlineLearner, sim_data) -> None:  # type: ignore[no-untyped-def]
    threads_before = torch.get_num_threads()
    bg = BackgroundLearner(learner, every_n=32, every_s=60.0)
    bg.start()
    bg.start()  # a second start is a no-op
    assert bg.running
    for x in _user_ordered(sim_data)[:200]:
        bg.observe(x)
    assert _wait(lambda: bg.gates >= 2)
    assert bg.stop(timeout=10) and not bg.running
    assert bg.failures == 0 and bg.updates >= 2
    assert bg.last_decision is not None
    assert bg.torch_threads == 1
    assert torch.get_num_threads() == threads_before  # the caller's setting is untouched


def test_updates_after_every_s_seconds_with_few_reactions(
    learner: OnlineLearner,
    sim_data,  # type: ignore[no-untyped-def]
) -> None:
    with BackgroundLearner(learner, every_n=10_000, every_s=0.2) as bg:
        for x in _user_ordered(sim_data)[:40]:
            bg.observe(x)
        assert _wait(lambda: bg.updates >= 1)
    assert not bg.running


def test_failures_are_counted_never_raised(
    learner: OnlineLearner,
    sim_data,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    def boom() -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(learner, "step", boom)
    bg = BackgroundLearner(learner, every_n=8, every_s=60.0)
    bg.start()
    for x in _user_ordered(sim_data)[:64]:
        bg.observe(x)  # never raises
    assert _wait(lambda: bg.failures >= 2)
    assert bg.running and bg.last_error == "RuntimeError: simulated failure"
    assert learner.holder.version == 0
    assert bg.stop(timeout=10)


def test_stop_without_start_and_bad_arguments(learner: OnlineLearner) -> None:
    assert BackgroundLearner(learner).stop()
    with pytest.raises(ValueError):
        BackgroundLearner(learner, every_n=0)
