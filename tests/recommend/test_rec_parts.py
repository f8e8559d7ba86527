"""Small parts of the engine: explanation text, coffee facts, the synthetic catalogue."""

from __future__ import annotations

import numpy as np

from taste2vec.recommend.catalogue import coffee_record
from taste2vec.recommend.explain import CoffeeFacts, SimilarItem, coffee_facts, reason_text
from taste2vec.schema import Coffee
from taste2vec.sim.recommend.synthetic import synthetic_catalogue


def test_reason_text() -> None:
    facts = CoffeeFacts(("Nutty/Cocoa",), (("bitterness", -1.2), ("body", 0.9)))
    assert reason_text(facts, None) == "low bitterness with nutty, chocolatey notes"
    similar = SimilarItem("k1", "Kenya Nyeri", 0.8, 5)
    assert reason_text(facts, similar).endswith(", like the Kenya Nyeri you rated 5")
    liked = SimilarItem("k1", "Kenya Nyeri", 0.8, None)
    assert reason_text(CoffeeFacts(("Floral",), ()), liked) == (
        "floral notes, like the Kenya Nyeri you liked"
    )


def test_coffee_facts_prefer_the_lexicon_and_salient_metrics() -> None:
    families = ["A", "B", "C"]
    metrics = ["acidity", "body"]
    lex = np.array([[0.6, 0.4, 0.0], [0.0, 0.0, 0.0]])
    head = np.array([[0.1, 0.1, 0.9], [0.2, 0.9, 0.5]])
    sensory = np.array([[9.0, 5.0], [3.0, 5.0]])
    first, second = coffee_facts(lex, head, sensory, families, metrics)
    assert first.families == ("A", "B")  # the lexicon wins over the head
    assert second.families == ("B", "C")  # no descriptor found: the head
    assert first.metrics == (("acidity", 1.0),)  # body does not vary: not salient
    assert second.metrics == (("acidity", -1.0),)


def test_synthetic_catalogue_is_deterministic_and_valid() -> None:
    a, b = synthetic_catalogue(300, seed=3), synthetic_catalogue(300, seed=3)
    assert a == b and len({c.id for c in a}) == 300
    assert 0 < sum(c.stock == 0 for c in a) < 100
    for coffee in a[:50]:
        Coffee.model_validate(coffee.model_dump())  # every field still in range
    assert coffee_record(a[0]).notes.startswith(a[0].roaster_notes)
