"""One contract suite run over every recommender: the Recommender protocol's promises."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from taste2vec.data.demo import demo_feedback, load_demo_catalogue
from taste2vec.recommend.protocol import Recommender, check_recommendations
from taste2vec.sim.recommend.baselines import (
    ALSRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    RandomRecommender,
)


def _als() -> Recommender:
    pytest.importorskip("implicit")
    return ALSRecommender(seed=0)


FACTORIES: dict[str, Callable[[], Recommender]] = {
    "popularity": PopularityRecommender,
    "item-knn": ItemKNNRecommender,
    "random": RandomRecommender,
    "implicit-als": _als,
}


@pytest.fixture(params=sorted(FACTORIES))
def make(request: pytest.FixtureRequest) -> Callable[[], Recommender]:
    return FACTORIES[request.param]


def test_contract(make: Callable[[], Recommender]) -> None:
    catalogue, feedback = load_demo_catalogue(), demo_feedback()
    ids = {c.id for c in catalogue}
    before = copy.deepcopy(feedback)
    rec = make()
    assert isinstance(rec, Recommender) and rec.name
    rec.fit(catalogue, feedback)
    assert feedback == before  # inputs are not mutated
    users = sorted({f.user for f in feedback}) + ["never-seen"]
    for user in users:
        seen = {f.coffee for f in feedback if f.user == user}
        out = rec.recommend(user, 10, seen)
        check_recommendations(rec.name, out, 10, seen, ids)
        assert len(out) == 10
        assert out == rec.recommend(user, 10, seen)  # deterministic
    # refitting on nothing still works (everyone is cold) and is deterministic across instances
    rec.fit(catalogue, [])
    fresh = make()
    fresh.fit(catalogue, [])
    assert rec.recommend("u", 5, set()) == fresh.recommend("u", 5, set())
    assert len(rec.recommend("u", len(ids) + 5, set())) == len(ids)
