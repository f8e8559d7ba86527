"""The simulator's view of a catalogue: family and sensory vectors, missing values, dedup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from taste2vec.errors import DataError
from taste2vec.schema import Coffee, Metrics, RoastLevel
from taste2vec.sim.subscribers import SENSORY_DIMS, SimCatalogue, catalogue_from_coffees
from taste2vec.sim.subscribers.catalogue import (
    FamilyLexicon,
    catalogue_from_reviews,
    darkness_from_agtron,
)


def _coffee(
    cid: str, notes: str = "", roast_level: RoastLevel | None = None, **metrics: float
) -> Coffee:
    return Coffee(
        id=cid, name=cid, roaster_notes=notes, roast_level=roast_level, metrics=Metrics(**metrics)
    )


def test_demo_catalogue_vectors(demo_catalogue: SimCatalogue) -> None:
    assert len(demo_catalogue) == len(demo_catalogue.coffees) >= 90
    assert demo_catalogue.ids == tuple(c.id for c in demo_catalogue.coffees)
    fam = demo_catalogue.family_matrix
    assert fam.shape == (len(demo_catalogue), 9)
    sums = fam.sum(axis=1)
    assert np.all(np.isclose(sums, 1.0, atol=1e-5) | (sums == 0))
    sensory = np.stack([item.sensory for item in demo_catalogue.items])
    assert sensory.shape[1] == len(SENSORY_DIMS)
    assert np.all((sensory >= 0) & (sensory <= 10))
    assert np.allclose(demo_catalogue.sensory_z_matrix.mean(axis=0), 0.0, atol=1e-9)


def test_missing_metric_takes_catalogue_mean(fake_lexicon: FamilyLexicon) -> None:
    coffees = [
        _coffee("a", "berry", acidity=8.0, roast_agtron=80),
        _coffee("b", "smoke", acidity=2.0, roast_level=RoastLevel.DARK),
        _coffee("c", "jasmine"),
    ]
    cat = catalogue_from_coffees(coffees, fake_lexicon)
    acidity = SENSORY_DIMS.index("acidity")
    darkness = SENSORY_DIMS.index("darkness")
    sweetness = SENSORY_DIMS.index("sweetness")
    assert cat.items[2].sensory[acidity] == pytest.approx(5.0)  # mean of 8 and 2
    assert cat.items[0].sensory[darkness] == pytest.approx(darkness_from_agtron(80))
    assert cat.items[1].sensory[darkness] == pytest.approx(8.5)  # from the roast label
    # no coffee has sweetness: the midpoint, the same for all, so z is 0
    assert [i.sensory[sweetness] for i in cat.items] == [5.0, 5.0, 5.0]
    assert [i.sensory_z[sweetness] for i in cat.items] == [0.0, 0.0, 0.0]
    assert cat.families == fake_lexicon.families
    assert cat.items[0].family.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_darkness_is_monotone_and_bounded() -> None:
    values = [darkness_from_agtron(a) for a in (150, 95, 75, 55, 35, 0)]
    assert values == sorted(values)
    assert values[0] == 0.0 and values[-1] == 10.0


def test_duplicate_or_empty_catalogue_is_refused(fake_lexicon: FamilyLexicon) -> None:
    with pytest.raises(DataError, match="duplicate coffee id 'a'"):
        catalogue_from_coffees([_coffee("a"), _coffee("a")], fake_lexicon)
    with pytest.raises(DataError, match="at least one"):
        catalogue_from_coffees([], fake_lexicon)


def _review(rid: str, roaster: str, name: str, month: str, text: str) -> dict[str, object]:
    return {
        "review_id": rid, "roaster": roaster, "name": name,
        "review_date": pd.Timestamp(month), "rating": 93.0, "aroma": 9.0, "acidity": 8.0,
        "body": 8.0, "flavor": 9.0, "aftertaste": 8.0, "agtron_whole": 58.0,
        "agtron_ground": 76.0, "roast_level": "medium-light", "origin_country": "Kenya",
        "blind_assessment": text, "bottom_line": np.nan,
    }  # fmt: skip


def test_reviews_are_deduplicated_latest_wins(fake_lexicon: FamilyLexicon) -> None:
    frame = pd.DataFrame(
        [
            _review("cr:a", "Roaster One", "Kenya AA", "2020-01-01", "berry"),
            _review("cr:b", "Other", "Blend", "2020-02-01", "smoke chocolate"),
            _review("cr:a-2", "ROASTER ONE", "Kenya  AA!", "2021-01-01", "jasmine"),
        ]
    )
    cat = catalogue_from_reviews(frame, fake_lexicon)
    assert cat.ids == ("cr:b", "cr:a-2")
    coffee = cat.coffees[1]
    assert coffee.roaster_notes == "jasmine" and coffee.roast_level is RoastLevel.MEDIUM_LIGHT
    assert coffee.metrics.roast_agtron == 76.0 and coffee.metrics.overall == pytest.approx(9.3)
    assert cat.name == "Coffee Review"


@pytest.mark.shared_data
@pytest.mark.slow
def test_coffee_review_catalogue(shared_data: Path) -> None:
    from taste2vec.data.coffeereview import load_reviews

    reviews = load_reviews(shared_data)
    cat = catalogue_from_reviews(reviews)
    assert 0.8 * len(reviews) < len(cat) <= len(reviews)
    assert len(set(cat.ids)) == len(cat)
    assert (cat.family_matrix.sum(axis=1) > 0).mean() > 0.9
