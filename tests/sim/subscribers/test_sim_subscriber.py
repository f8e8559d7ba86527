"""SIMULATED subscribers: determinism, archetype behaviour, sane feedback, hidden tastes."""

from __future__ import annotations

import gc
import math
import pickle
from collections import Counter
from types import FunctionType, ModuleType

import numpy as np
import pytest

from taste2vec.errors import SchemaError
from taste2vec.schema import Feedback, FeedbackSignal, RoastLevel
from taste2vec.sim.subscribers import (
    ARCHETYPES,
    HarnessConfig,
    SimCatalogue,
    SimulatedCoffee,
    SimulatedSubscriber,
    Tastes,
    archetype_tastes,
    generate_population,
    make_subscribers,
    relevant_items,
    reveal_feedback,
)


def _person(demo: SimCatalogue, archetype: str) -> SimulatedSubscriber:
    tastes = archetype_tastes(archetype, demo.families, np.random.default_rng(0), jitter=0)
    return SimulatedSubscriber("sim-x", tastes)


def _by_id(demo: SimCatalogue, cid: str) -> SimulatedCoffee:
    return demo.items[demo.ids.index(cid)]


def _darkest(demo: SimCatalogue) -> SimulatedCoffee:
    dark = [c for c in demo.coffees if c.roast_level is RoastLevel.DARK]
    return _by_id(demo, min(dark, key=lambda c: c.metrics.roast_agtron or 100).id)


def _mean_preference(person: SimulatedSubscriber, coffee: SimulatedCoffee, n: int = 400) -> float:
    rng = np.random.default_rng(1)
    return float(np.mean([person.feedback(coffee, rng).preference for _ in range(n)]))


def test_population_is_deterministic_under_seed(demo_catalogue: SimCatalogue) -> None:
    a = generate_population(demo_catalogue.families, 30, seed=5)
    b = generate_population(demo_catalogue.families, 30, seed=5)
    c = generate_population(demo_catalogue.families, 30, seed=6)
    assert [t.archetype for t in a] == [t.archetype for t in b]
    assert all(
        np.array_equal(x.family_weights, y.family_weights) for x, y in zip(a, b, strict=True)
    )
    assert all(np.array_equal(x.ideal, y.ideal) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x.ideal, y.ideal) for x, y in zip(a, c, strict=True))


def test_population_mixes_archetypes_and_random(demo_catalogue: SimCatalogue) -> None:
    kinds = Counter(t.archetype for t in generate_population(demo_catalogue.families, 100, 1))
    assert kinds["random"] == 40
    assert all(kinds[a.name] == 15 for a in ARCHETYPES)
    with pytest.raises(SchemaError):
        archetype_tastes("coffee-hater", demo_catalogue.families, np.random.default_rng(0))


def test_feedback_is_deterministic_under_seed(demo_catalogue: SimCatalogue) -> None:
    people = make_subscribers(demo_catalogue, HarnessConfig(n_users=10))
    first = reveal_feedback(people, demo_catalogue, 20, seed=3)
    again = reveal_feedback(people, demo_catalogue, 20, seed=3)
    other = reveal_feedback(people, demo_catalogue, 20, seed=4)
    assert first == again
    assert first != other
    assert [fb[:5] for fb in reveal_feedback(people, demo_catalogue, 5, seed=3)] == [
        fb[:5] for fb in first
    ]


def test_fruity_lover_prefers_a_floral_light_ethiopian_to_a_dark_roast(
    demo_catalogue: SimCatalogue,
) -> None:
    ethiopian = _by_id(demo_catalogue, "demo-001")  # washed Yirgacheffe: jasmine, bergamot
    assert demo_catalogue.coffees[demo_catalogue.ids.index("demo-001")].roast_level == "light"
    dark = _darkest(demo_catalogue)
    fruity = _person(demo_catalogue, "fruity_floral_light")
    chocolate = _person(demo_catalogue, "chocolate_nutty_dark")
    assert fruity.true_utility(ethiopian) > fruity.true_utility(dark) + 1.0
    assert _mean_preference(fruity, ethiopian) > _mean_preference(fruity, dark) + 0.5
    assert chocolate.true_utility(dark) > chocolate.true_utility(ethiopian) + 1.0
    assert _mean_preference(chocolate, dark) > _mean_preference(chocolate, ethiopian) + 0.5


def test_feedback_distribution_is_sane(demo_catalogue: SimCatalogue) -> None:
    people = make_subscribers(demo_catalogue, HarnessConfig(n_users=100))
    events = [fb for user in reveal_feedback(people, demo_catalogue, 20, seed=13) for fb in user]
    signals = Counter(fb.signal for fb in events)
    ratings = Counter(fb.rating for fb in events if fb.rating is not None)
    share = {s: signals[s] / len(events) for s in FeedbackSignal}
    assert 0.05 <= share[FeedbackSignal.SKIPPED] <= 0.3
    assert 0.1 <= share[FeedbackSignal.LIKED] <= 0.5
    assert 0.05 <= share[FeedbackSignal.DISLIKED] <= 0.4
    assert 0.3 <= share[FeedbackSignal.RATED] <= 0.7
    assert set(ratings) == {1, 2, 3, 4, 5}
    assert 2.5 <= np.mean(list(ratings.elements())) <= 4.0
    positive = sum(fb.preference > 0 for fb in events) / len(events)
    assert 0.3 <= positive <= 0.75
    assert all(fb.signal is FeedbackSignal.RATED or fb.rating is None for fb in events)


def test_relevant_items_are_the_top_tenth_by_true_utility(demo_catalogue: SimCatalogue) -> None:
    person = make_subscribers(demo_catalogue, HarnessConfig(n_users=1))[0]
    relevant = relevant_items(person, demo_catalogue)
    assert len(relevant) == math.ceil(0.1 * len(demo_catalogue))
    utility = dict(zip(demo_catalogue.ids, person.true_utilities(demo_catalogue), strict=True))
    worst_relevant = min(utility[c] for c in relevant)
    assert all(u <= worst_relevant for c, u in utility.items() if c not in relevant)
    assert [person.true_utility(i) for i in demo_catalogue.items[:3]] == pytest.approx(
        [utility[c] for c in demo_catalogue.ids[:3]]
    )


def _reachable(root: object) -> list[object]:
    """Every object reachable from ``root``, ignoring classes, modules and functions."""
    seen: dict[int, object] = {}
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | ModuleType | FunctionType):
            continue
        seen[id(obj)] = obj
        stack.extend(gc.get_referents(obj))
    return list(seen.values())


def test_hidden_tastes_are_not_reachable_from_feedback(demo_catalogue: SimCatalogue) -> None:
    people = make_subscribers(demo_catalogue, HarnessConfig(n_users=40))
    events = [fb for user in reveal_feedback(people, demo_catalogue, 5, seed=13) for fb in user]
    for fb in events:
        assert type(fb) is Feedback
        assert set(fb.model_dump()) == {
            "id", "user", "coffee", "signal", "rating", "timestamp", "record"
        }  # fmt: skip
        assert fb.record is None and not fb.__pydantic_extra__
        for obj in _reachable(fb):
            assert not isinstance(obj, Tastes | SimulatedSubscriber | np.ndarray | np.generic)
    blob = pickle.dumps(events)
    assert b"taste2vec.sim" not in blob and b"numpy" not in blob
    # ids are opaque: nothing about the archetype, the utility or the coffee's vectors
    names = {a.name for a in ARCHETYPES} | {"random", "fruity", "chocolate", "balanced"}
    for fb in events:
        assert not any(name in fb.user or name in fb.id for name in names)
        assert fb.user.startswith("sim-") and fb.user[4:].isdigit()


def test_roast_alone_moves_a_dark_roast_lovers_utility(demo_catalogue: SimCatalogue) -> None:
    """Hidden tastes depend on roast too: same notes and metrics, only the roast label differs."""
    from taste2vec.data.demo import load_demo_catalogue
    from taste2vec.schema import Metrics
    from taste2vec.sim.subscribers import catalogue_from_coffees

    base = load_demo_catalogue()
    twin = base[0].model_copy(update={"metrics": Metrics(acidity=5, body=5)})
    light = twin.model_copy(update={"id": "twin-light", "roast_level": RoastLevel.LIGHT})
    dark = twin.model_copy(update={"id": "twin-dark", "roast_level": RoastLevel.DARK})
    cat = catalogue_from_coffees([*base[1:], light, dark])
    person = SimulatedSubscriber(
        "sim-1", archetype_tastes("chocolate_nutty_dark", cat.families, np.random.default_rng(0), 0)
    )
    by_id = {item.id: item for item in cat.items}
    assert person.true_utility(by_id["twin-dark"]) > person.true_utility(by_id["twin-light"]) + 0.3


def test_onboarding_answers_are_plain_ratings_and_family_names(
    demo_catalogue: SimCatalogue,
) -> None:
    people = make_subscribers(demo_catalogue, HarnessConfig(n_users=12))
    rng = np.random.default_rng(0)
    for person in people:
        fb = person.rate(demo_catalogue.items[0], rng, feedback_id=f"{person.user_id}-onb")
        assert type(fb) is Feedback and fb.signal == "rated" and 1 <= (fb.rating or 0) <= 5
        families = person.favourite_families(demo_catalogue.families, 3)
        assert len(families) <= 3 and all(type(f) is str for f in families)
        weights = dict(zip(demo_catalogue.families, person.tastes.family_weights, strict=True))
        assert all(weights[f] > 0 for f in families)
        assert families == sorted(families, key=lambda f: -weights[f])
