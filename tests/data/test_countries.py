"""Origin-country parsing on hand-written strings."""

from __future__ import annotations

import pytest

from taste2vec.data._countries import BLEND, canonical_country, parse_origin_country


@pytest.mark.parametrize(
    ("origin", "country"),
    [
        ("Nyeri growing region, south-central Kenya", "Kenya"),
        ("Chiriquí highlands near Volcán, Panama", "Panama"),
        ("Popayán area, Cauca, Colombia.", "Colombia"),
        ("Takengon, Aceh, Sumatra", "Indonesia"),
        ("Eastern Highlands, Papua New Guinea", "Papua New Guinea"),
        ("Holualoa on the Big Island of Hawai’i", "United States (Hawaii)"),
        ("Kona, Hawaii, USA", "United States (Hawaii)"),
        ("Yirgacheffe growing region", "Ethiopia"),
        (
            "Lake Kivu shore, Democratic Republic of the Congo",
            "Democratic Republic of the Congo",
        ),
        ("Tarrazu, Costa RIca", "Costa Rica"),
        ("Colombia; Ethiopia", BLEND),
        ("Ethiopia; Guatemala; Sumatra", BLEND),
        ("Sul de Minas, Brazil; Mogiana, Brazil", "Brazil"),
        ("Not disclosed.", None),
        ("Central America; Africa", None),
        ("", None),
        (None, None),
        ("Indiana Jones House Blend", None),  # whole words only: "Indiana" is not India
    ],
)
def test_parse_origin_country(origin: str | None, country: str | None) -> None:
    assert parse_origin_country(origin) == country


def test_regional_aliases() -> None:
    assert parse_origin_country("Karnataka, southern India") == "India"
    assert parse_origin_country("Indian Monsooned Malabar") == "India"


def test_canonical_country() -> None:
    assert canonical_country("Tanzania, United Republic Of") == "Tanzania"
    assert canonical_country("Cote d?Ivoire") == "Côte d'Ivoire"
    assert canonical_country("United States (Hawaii)") == "United States (Hawaii)"
    assert canonical_country("United States") == "United States"
    assert canonical_country("Atlantis") == "Atlantis"
    assert canonical_country(float("nan")) is None
