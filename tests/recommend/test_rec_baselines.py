"""Baseline recommenders on small constructed cases."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest

from taste2vec.errors import MissingExtraError
from taste2vec.schema import Coffee, Feedback, FeedbackSignal
from taste2vec.sim.recommend.baselines import (
    ALSRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    RandomRecommender,
    preference_table,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CATALOGUE = [Coffee(id=c, name=c) for c in ("a", "b", "c", "d", "e", "f")]


def fb(user: str, coffee: str, signal: str, rating: int | None = None, t: int = 0) -> Feedback:
    return Feedback(
        id=f"{user}-{coffee}-{t}",
        user=user,
        coffee=coffee,
        signal=FeedbackSignal(signal),
        rating=rating,
        timestamp=T0 + timedelta(hours=t),
    )


def test_preference_table_keeps_the_latest_and_ignores_unknown_coffees() -> None:
    events = [
        fb("u", "a", "liked", t=2),
        fb("u", "a", "disliked", t=1),
        fb("u", "b", "rated", 4),
        fb("u", "b", "skipped", t=3),
        fb("u", "zzz", "liked"),
    ]
    assert preference_table(events, {"a", "b"}) == {"u": {"a": 1.0, "b": -0.25}}
    assert preference_table([fb("v", "c", "rated", 1)]) == {"v": {"c": -1.0}}


def test_popularity_counts_positive_feedback_ties_by_id() -> None:
    rec = PopularityRecommender()
    events = [
        fb("u1", "c", "liked"),
        fb("u2", "c", "rated", 5),
        fb("u3", "c", "disliked"),
        fb("u1", "e", "rated", 4),
        fb("u2", "d", "liked"),
        fb("u3", "b", "rated", 3),  # neutral: not positive
        fb("u3", "a", "skipped"),
    ]
    rec.fit(CATALOGUE, events)
    assert rec.recommend("anyone", 4, set()) == ["c", "d", "e", "a"]
    assert rec.recommend("u1", 3, {"c", "a"}) == ["d", "e", "b"]
    rec.fit(CATALOGUE, [])  # refit replaces the old counts
    assert rec.recommend("anyone", 3, set()) == ["a", "b", "c"]


def test_item_knn_recommends_what_similar_users_liked() -> None:
    # u1..u3 like a and b together; u4, u5 like c and d together; u6 likes a only
    events = [fb(u, c, "liked") for u in ("u1", "u2", "u3") for c in ("a", "b")]
    events += [fb(u, c, "liked") for u in ("u4", "u5") for c in ("c", "d")]
    events += [fb("u6", "a", "liked"), fb("u6", "e", "disliked")]
    rec = ItemKNNRecommender()
    rec.fit(CATALOGUE, events)
    assert rec.recommend("u6", 1, {"a", "e"}) == ["b"]
    top = rec.recommend("u4", 2, set())
    assert top[0] in {"c", "d"}
    # a user whose only positive is c gets d first
    rec.fit(CATALOGUE, [*events, fb("u7", "c", "rated", 5)])
    assert rec.recommend("u7", 1, {"c"}) == ["d"]


def test_item_knn_falls_back_to_popularity_for_cold_users() -> None:
    events = [fb("u1", "b", "liked"), fb("u2", "b", "liked"), fb("u2", "d", "liked")]
    events += [fb("u3", "a", "disliked")]
    knn, pop = ItemKNNRecommender(), PopularityRecommender()
    knn.fit(CATALOGUE, events)
    pop.fit(CATALOGUE, events)
    assert knn.recommend("new", 3, set()) == pop.recommend("new", 3, set()) == ["b", "d", "a"]
    assert knn.recommend("u3", 3, {"a"}) == pop.recommend("u3", 3, {"a"})  # no positives


def test_random_is_a_fixed_order_per_user_and_seed() -> None:
    rec = RandomRecommender(seed=1)
    rec.fit(CATALOGUE, [])
    assert rec.recommend("u", 6, set()) == rec.recommend("u", 6, set())
    assert sorted(rec.recommend("u", 6, set())) == [c.id for c in CATALOGUE]
    orders = {tuple(rec.recommend(f"u{i}", 6, set())) for i in range(10)}
    assert len(orders) > 1
    assert "a" not in rec.recommend("u", 6, {"a"})


def test_als_without_the_extra_names_the_pip_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "implicit.als", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'taste2vec\[bench\]'"):
        ALSRecommender()


def test_als_learns_co_liked_coffees() -> None:
    pytest.importorskip("implicit")
    events = [fb(f"p{i}", c, "liked") for i in range(8) for c in ("a", "b")]
    events += [fb(f"q{i}", c, "liked") for i in range(8) for c in ("c", "d")]
    events += [fb("new-a", "a", "liked"), fb("new-c", "c", "liked")]
    rec = ALSRecommender(factors=4, regularization=0.1, iterations=15, seed=0)
    rec.fit(CATALOGUE, events)
    assert rec.recommend("new-a", 1, {"a"}) == ["b"]
    assert rec.recommend("new-c", 1, {"c"}) == ["d"]
    assert rec.recommend("stranger", 2, set()) == ["a", "c"]  # popularity: 9 likes each
