"""Small parts of the engine: explanation text, coffee facts, the synthetic catalogue."""

from __future__ import annotations

import numpy as np
import pytest

from taste2vec.recommend.catalogue import coffee_record
from taste2vec.recommend.explain import (
    FAMILY_WORDS,
    FAMILY_WORDS_KO,
    METRIC_WORDS,
    METRIC_WORDS_KO,
    CoffeeFacts,
    SimilarItem,
    coffee_facts,
    reason_text,
    reason_text_from,
)
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


def test_reason_text_in_korean() -> None:
    facts = CoffeeFacts(("Nutty/Cocoa", "Sweet"), (("bitterness", -1.2),))
    assert reason_text(facts, None, "ko") == "낮은 쓴맛, 견과류·초콜릿 향·캐러멜 같은 단맛"
    rated = SimilarItem("k1", "Kenya Nyeri", 0.8, 5)
    assert reason_text(facts, rated, "ko").endswith(" — 비슷한 커피: Kenya Nyeri (내 별점 5)")
    liked = SimilarItem("k1", "Kenya Nyeri", 0.8, None)
    assert reason_text(CoffeeFacts(("Floral",), ()), liked, "ko") == (
        "꽃향 — 비슷한 커피: Kenya Nyeri (좋아요 한 커피)"
    )
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        reason_text(facts, None, "fr")


def test_korean_tables_cover_every_family_and_metric() -> None:
    assert FAMILY_WORDS_KO.keys() == FAMILY_WORDS.keys()
    assert METRIC_WORDS_KO.keys() == METRIC_WORDS.keys()
    assert all(high != low for high, low in METRIC_WORDS_KO.values())


def test_reason_text_from_the_api_reasons_matches_the_engine_sentence() -> None:
    facts = CoffeeFacts(("Fruity", "Floral"), (("acidity", 1.4), ("body", -0.7)))
    similar = SimilarItem("k1", "Kenya Nyeri", 0.8, None)
    reasons = {  # the shape RecommendationEngine._explain returns
        "families": list(facts.families),
        "salient_metrics": dict(facts.metrics),
        "similar_to": {"coffee_id": "k1", "name": "Kenya Nyeri", "similarity": 0.8, "rating": None},
    }
    for lang in ("en", "ko"):
        assert reason_text_from(reasons, lang) == reason_text(facts, similar, lang)
    assert reason_text_from({"families": ["Roasted"]}, "en") == "roasty notes"


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
