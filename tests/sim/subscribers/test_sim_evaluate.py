"""The quality harness: runs, is deterministic, fair, and tells a real recommender from chance."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from taste2vec.errors import ModelError, SchemaError
from taste2vec.recommend.protocol import Recommender
from taste2vec.schema import Coffee, Feedback
from taste2vec.sim.recommend.baselines import (
    ItemKNNRecommender,
    PopularityRecommender,
    RandomRecommender,
)
from taste2vec.sim.subscribers import (
    COLD_SLICE,
    ONBOARDING_SLICE,
    HarnessConfig,
    SimCatalogue,
    evaluate,
    render_markdown,
)

SMALL = HarnessConfig(n_users=30, checkpoints=(0, 5, 20), seed=2)


class Spy:
    """Records what a recommender is given; recommends the catalogue in order."""

    name = "spy"

    def __init__(self) -> None:
        self.calls: list[tuple[Sequence[Coffee], Sequence[Feedback]]] = []
        self.ids: list[str] = []

    def fit(self, catalogue: Sequence[Coffee], feedback: Sequence[Feedback]) -> None:
        self.calls.append((catalogue, feedback))
        self.ids = [c.id for c in catalogue]

    def recommend(self, user: str, k: int, exclude: set[str]) -> list[str]:
        return [c for c in self.ids if c not in exclude][:k]


def test_harness_runs_and_metrics_are_in_range(demo_catalogue: SimCatalogue) -> None:
    recs: list[Recommender] = [RandomRecommender(), PopularityRecommender(), ItemKNNRecommender()]
    results = evaluate(recs, demo_catalogue, SMALL)
    slices = ["n=0", "n=5", "n=20", COLD_SLICE, ONBOARDING_SLICE]
    assert [(r.slice, r.recommender) for r in results.rows] == [
        (s, r.name) for s in slices for r in recs
    ]
    for row in results.rows:
        assert 0.0 <= row.ndcg <= 1.0 and 0.0 <= row.recall <= 1.0
        assert 0 < row.users_scored <= SMALL.n_users
    assert results.get(COLD_SLICE, "popularity").users_scored <= round(0.25 * 30)
    assert results.n_coffees == len(demo_catalogue)
    table = render_markdown(results)
    assert "SIMULATED subscribers" in table and "cold users (others have 20)" in table
    assert "| 0 + onboarding |" in table
    assert table.count("\n| ") == 1 + len(results.rows)


def test_harness_is_deterministic(demo_catalogue: SimCatalogue) -> None:
    def run() -> object:
        recs: list[Recommender] = [
            RandomRecommender(),
            PopularityRecommender(),
            ItemKNNRecommender(),
        ]
        return evaluate(recs, demo_catalogue, SMALL).rows

    assert run() == run()


def test_recommenders_see_only_coffees_and_the_same_feedback(
    demo_catalogue: SimCatalogue,
) -> None:
    a, b = Spy(), Spy()
    b.name = "spy-2"
    evaluate([a, b], demo_catalogue, SMALL)
    assert len(a.calls) == len(SMALL.checkpoints) + 2  # + the cold and onboarding slices
    for (cat_a, fb_a), (cat_b, fb_b) in zip(a.calls, b.calls, strict=True):
        assert all(type(c) is Coffee for c in cat_a)
        assert all(type(f) is Feedback for f in fb_a)
        assert list(fb_a) == list(fb_b) and list(cat_a) == list(cat_b)
    sizes = [len(fb) for _, fb in a.calls]
    assert sizes[:3] == [0, 5 * 30, 20 * 30]
    assert sizes[3] == 20 * (30 - round(0.25 * 30))  # the cold slice
    assert sizes[4] == SMALL.onboarding_ratings * 30  # onboarding: the archetype ratings


def test_onboarding_slice_answers_only_through_feedback_and_family_names(
    demo_catalogue: SimCatalogue,
) -> None:
    class Listener(Spy):
        name = "listener"

        def __init__(self) -> None:
            super().__init__()
            self.answers: list[dict[str, list[str]]] = []

        def set_onboarding(self, families: dict[str, list[str]]) -> None:
            self.answers.append(dict(families))

    rec = Listener()
    results = evaluate([rec], demo_catalogue, SMALL)
    assert results.get(ONBOARDING_SLICE, "listener").users_scored > 0
    assert all(not a for a in rec.answers[:-1])  # other slices: no answers
    answers = rec.answers[-1]
    assert len(answers) == 30
    for families in answers.values():
        assert len(families) <= SMALL.onboarding_families
        assert all(type(f) is str and f in demo_catalogue.families for f in families)
    ratings = rec.calls[-1][1]
    assert all(type(f) is Feedback and f.signal == "rated" for f in ratings)
    picked = {f.coffee for f in ratings}
    assert len(picked) == SMALL.onboarding_ratings  # the same archetype coffees for everyone
    off = evaluate(
        [Spy()], demo_catalogue, HarnessConfig(**{**SMALL.__dict__, "onboarding": False})
    )
    assert not any(r.slice == ONBOARDING_SLICE for r in off.rows)


def test_item_knn_beats_random_after_20_feedback(demo_catalogue: SimCatalogue) -> None:
    config = HarnessConfig(n_users=150, checkpoints=(20,), cold_share=0.0)
    results = evaluate([RandomRecommender(), ItemKNNRecommender()], demo_catalogue, config)
    knn, rnd = results.get("n=20", "item-knn"), results.get("n=20", "random")
    assert knn.ndcg > rnd.ndcg * 1.3
    assert knn.recall > rnd.recall * 1.3


def test_broken_recommenders_are_caught(demo_catalogue: SimCatalogue) -> None:
    class Cheater(Spy):
        name = "cheater"

        def recommend(self, user: str, k: int, exclude: set[str]) -> list[str]:
            return sorted(exclude)[:k] or self.ids[:k]

    with pytest.raises(ModelError, match="cheater.*excluded"):
        evaluate([Cheater()], demo_catalogue, SMALL)
    with pytest.raises(SchemaError, match="unique"):
        evaluate([Spy(), Spy()], demo_catalogue, SMALL)
