"""Fixtures for the online-learning tests: the tiny trained model, the demo catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from taste2vec.data.demo import load_demo_catalogue
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import Coffee, Feedback, FeedbackSignal

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path, minilm) -> Taste2Vec:  # type: ignore[no-untyped-def]
    """The session's tiny trained model (never modify it: clone it first)."""
    return Taste2Vec.load(tiny_model_dir, text_encoder=minilm)


@pytest.fixture(scope="session")
def catalogue() -> list[Coffee]:
    return load_demo_catalogue()


def fb(
    user: str,
    coffee: str,
    signal: str = "liked",
    rating: int | None = None,
    step: int = 0,
    fid: str | None = None,
) -> Feedback:
    """A reaction with a readable id and a timestamp ``step`` minutes after T0."""
    return Feedback(
        id=fid or f"{user}-{coffee}-{step}",
        user=user,
        coffee=coffee,
        signal=FeedbackSignal(signal),
        rating=rating,
        timestamp=T0 + timedelta(minutes=step),
    )


@pytest.fixture(scope="session")
def sim_data(catalogue: list[Coffee]):  # type: ignore[no-untyped-def]
    """SIMULATED feedback: (stream in time order, ValidationSet of held-out reactions)."""
    from taste2vec.learning.validation import ValidationSet
    from taste2vec.sim.subscribers import (
        HarnessConfig,
        catalogue_from_coffees,
        make_subscribers,
        reveal_feedback,
    )

    sim = catalogue_from_coffees(catalogue)
    people = make_subscribers(sim, HarnessConfig(n_users=60, seed=3))
    events = [x for items in reveal_feedback(people, sim, 24, seed=3) for x in items]
    validation = ValidationSet.from_feedback(events, holdout_share=0.25)
    stream = sorted(
        (x for x in events if x.id not in validation.held_out_ids),
        key=lambda x: (x.timestamp, x.id),
    )
    return stream, validation


@pytest.fixture(scope="session")
def better_model(tiny_model: Taste2Vec, catalogue: list[Coffee], sim_data):  # type: ignore[no-untyped-def]
    """A model the gate (``gate_z=0``) ranks above ``tiny_model`` on ``sim_data``'s
    validation set: the first candidate an online learner promotes from the stream."""
    from taste2vec.learning.learner import LearnerConfig, OnlineLearner, clone_model

    stream, validation = sim_data
    learner = OnlineLearner(
        clone_model(tiny_model), catalogue, validation, config=LearnerConfig(lr=1e-3, gate_z=0.0)
    )
    for i, x in enumerate(stream, start=1):
        learner.observe(x)
        if i % 48 == 0:
            learner.step()
            if learner.promote().promoted:
                return learner.holder.get()
    raise AssertionError("no candidate passed the gate on the simulated stream")
