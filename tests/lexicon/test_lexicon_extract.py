"""Extraction, attributes, family distribution and rendering, in English and Korean."""

from __future__ import annotations

import re

import numpy as np
import pytest

from taste2vec.lexicon import Descriptor, Lexicon, load_lexicon
from taste2vec.lexicon.extractor import build_lexicon


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return load_lexicon()


def names(lex: Lexicon, text: str) -> list[str]:
    return [d.node.name for d in lex.extract(text)]


def weights(lex: Lexicon, text: str) -> dict[str, float]:
    return {d.node.name: d.weight for d in lex.extract(text)}


# --- matching -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dark chocolate", ["Dark Chocolate"]),
        ("Dark-chocolate and milk chocolate", ["Dark Chocolate", "Chocolate"]),
        ("cocoa nib", ["Dark Chocolate"]),
        ("pipe tobacco", ["Pipe Tobacco"]),
        ("brown sugar", ["Brown Sugar"]),
        ("orange blossom honey", ["Honey"]),
        ("orange blossom", ["Floral"]),
        ("grapefruit, pineapple, strawberry", ["Grapefruit", "Pineapple", "Strawberry"]),
    ],
)
def test_longest_match_wins(lex: Lexicon, text: str, expected: list[str]) -> None:
    assert names(lex, text) == expected


def test_plurals_and_case(lex: Lexicon) -> None:
    assert names(lex, "Cherries, BERRIES, plums and peaches") == [
        "Cherry",
        "Berry",
        "Other Fruit",
        "Peach",
    ]
    assert names(lex, "blackberries; cacao nibs; Hazelnuts") == [
        "Blackberry",
        "Dark Chocolate",
        "Hazelnut",
    ]


def test_words_match_only_whole(lex: Lexicon) -> None:
    assert names(lex, "grapefruit") == ["Grapefruit"]
    assert names(lex, "limestone, pineapples, strawberry") == ["Pineapple", "Strawberry"]
    assert names(lex, "sweetness, sweetly") == []


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("Froot Loops", "Fruity > Citrus Fruit"),
        ("like a bowl of Froot Loops cereal", "Fruity > Citrus Fruit"),
        ("stone fruit", "Fruity > Other Fruit > Peach"),
        ("jammy", "Fruity > Berry"),
        ("cocoa nibs", "Nutty/Cocoa > Cocoa > Dark Chocolate"),
        ("tangerine", "Fruity > Citrus Fruit > Orange"),
        ("bergamot", "Fruity > Citrus Fruit"),
        ("cedar", "Other > Papery/Musty > Woody"),
        ("toffee", "Sweet > Brown Sugar > Caramelized"),
        ("baking spice", "Spices > Brown Spice"),
        ("green tea", "Floral > Black Tea"),
        ("honeysuckle", "Floral > Floral"),
        ("자몽", "Fruity > Citrus Fruit > Grapefruit"),
        ("꿀", "Sweet > Brown Sugar > Honey"),
        ("귤", "Fruity > Citrus Fruit > Orange"),
        ("복숭아", "Fruity > Other Fruit > Peach"),
        ("초콜릿", "Nutty/Cocoa > Cocoa > Chocolate"),
        ("다크 초콜릿", "Nutty/Cocoa > Cocoa > Dark Chocolate"),
        ("다크초콜릿", "Nutty/Cocoa > Cocoa > Dark Chocolate"),
        ("재스민", "Floral > Floral > Jasmine"),
        ("자스민", "Floral > Floral > Jasmine"),
        ("캐러멜", "Sweet > Brown Sugar > Caramelized"),
        ("흑설탕", "Sweet > Brown Sugar"),
        ("계피", "Spices > Brown Spice > Cinnamon"),
        ("고소한", "Nutty/Cocoa > Nutty"),
        ("플로럴", "Floral"),
        ("floral", "Floral"),
    ],
)
def test_synonyms_and_metaphors(lex: Lexicon, text: str, path: str) -> None:
    assert [d.node.path for d in lex.extract(text)] == [path]


def test_korean_particles_attach(lex: Lexicon) -> None:
    assert names(lex, "자몽의 산미와 꿀같은 단맛") == ["Grapefruit", "Honey"]
    assert names(lex, "복숭아가 나고 초콜릿과 캐러멜이") == ["Peach", "Chocolate", "Caramelized"]
    assert names(lex, "배의 단맛, 배 같은 과즙") == ["Pear", "Pear"]


def test_every_node_name_is_recognised(lex: Lexicon) -> None:
    excluded_en = {"Other", "Fresh", "Sweet", "Bitter", "Roasted"}
    excluded_ko = {"기타", "신선한", "달콤한", "쓴맛", "풀/식물"}
    for node in lex.nodes:
        if node.name not in excluded_en:
            assert names(lex, node.name) == [node.name], node.path
            assert names(lex, node.name.lower()) == [node.name], node.path
        if node.name_ko not in excluded_ko:
            assert names(lex, node.name_ko) == [node.name], node.path


@pytest.mark.parametrize(
    "text",
    [
        "finish",
        "coffee",
        "a long finish on this coffee",
        "sweet",
        "honey processed, red honey lot",
        "배가 불러서 두 배로 마셨다",
        "나무랄 데 없는 밸런스",
        "리치한 바디감",
        "향이 퍼지는 느낌",
        "라이트 로스팅, 무산소 발효 가공",
        "종이컵에 담긴 커피",
        "애쓴 보람이 있다",
        "",
    ],
)
def test_no_false_positives(lex: Lexicon, text: str) -> None:
    assert lex.extract(text) == []


def test_descriptor_fields(lex: Lexicon) -> None:
    text = "Juicy blackberry, 다크 초콜릿의 여운"
    found = lex.extract(text)
    assert [type(d) for d in found] == [Descriptor, Descriptor]
    for d in found:
        assert text[d.start : d.end] == d.surface
        assert d.weight > 0
    assert found[0].surface == "blackberry" and found[1].surface == "다크 초콜릿"


# --- negation and intensity ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "not sour",
        "no chocolate",
        "without any chocolate",
        "not at all sour",
        "no sourness or vinegar",
        "no roasty, burnt",
        "chocolate: none",
        "초콜릿은 없다",
        "초콜릿 맛이 없는",
        "신맛은 전혀 느껴지지 않는다",
        "캐러멜이나 초콜릿은 없고",
    ],
)
def test_negation_suppresses(lex: Lexicon, text: str) -> None:
    found = names(lex, text)
    if text == "no roasty, burnt":
        assert found == ["Burnt"]  # a comma ends the negation's reach
    else:
        assert found == []


def test_negation_scope_ends_at_clause_break(lex: Lexicon) -> None:
    assert names(lex, "no sourness, but bright lemon") == ["Lemon"]
    assert names(lex, "not sour but chocolate") == ["Chocolate"]
    assert names(lex, "쓴맛이 없고 초콜릿이 진하다") == ["Chocolate"]
    assert lex.attributes("no bitterness, very sweet") == {"sweetness": 1.0}


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        ("a hint of lemon", 0.5),
        ("faint lemon", 0.5),
        ("subtle lemon", 0.5),
        ("lemon", 1.0),
        ("intense lemon", 1.5),
        ("loads of lemon", 1.5),
        ("살짝 레몬", 0.5),
        ("약간의 레몬", 0.5),
        ("레몬 향이 살짝", 0.5),
        ("강한 레몬", 1.5),
        ("진한 레몬", 1.5),
        ("레몬 향이 진하다", 1.5),
    ],
)
def test_intensity_scales_weight(lex: Lexicon, text: str, weight: float) -> None:
    assert weights(lex, text) == {"Lemon": weight}


def test_modifier_applies_to_its_own_cue(lex: Lexicon) -> None:
    assert weights(lex, "hint of lemon, then intense cherry") == {"Lemon": 0.5, "Cherry": 1.5}


# --- attributes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "metric", "sign"),
    [
        ("bright", "acidity", 1),
        ("crisp", "acidity", 1),
        ("juicy", "acidity", 1),
        ("sparkling", "acidity", 1),
        ("산미가 강한", "acidity", 1),
        ("flat", "acidity", -1),
        ("dull", "acidity", -1),
        ("syrupy", "body", 1),
        ("full", "body", 1),
        ("creamy", "body", 1),
        ("velvety", "body", 1),
        ("묵직한", "body", 1),
        ("thin", "body", -1),
        ("light-bodied", "body", -1),
        ("가벼운", "body", -1),
        ("lingering", "aftertaste", 1),
        ("long finish", "aftertaste", 1),
        ("여운이 긴", "aftertaste", 1),
        ("drying", "astringency", 1),
        ("astringent", "astringency", 1),
        ("떫은", "astringency", 1),
        ("sweet", "sweetness", 1),
        ("달콤한", "sweetness", 1),
        ("bitter", "bitterness", 1),
        ("쓴", "bitterness", 1),
        ("balanced", "balance", 1),
        ("균형", "balance", 1),
    ],
)
def test_attribute_cues(lex: Lexicon, text: str, metric: str, sign: int) -> None:
    found = lex.attributes(text)
    assert list(found) == [metric]
    assert found[metric] * sign > 0
    assert lex.extract(text) == []


def test_attributes_sum_clip_and_order(lex: Lexicon) -> None:
    found = lex.attributes("creamy, syrupy, velvety body; bright and crisp; 달콤한")
    assert found == {"acidity": 1.0, "sweetness": 1.0, "body": 1.0}
    assert list(found) == [n for n in lex.attribute_names if n in found]
    assert lex.attributes("less bitter than yesterday") == {"bitterness": -0.5}
    assert lex.attributes("slightly bitter") == {"bitterness": 0.5}
    assert lex.attributes("blackberry and cocoa") == {}


# --- family distribution and rendering ----------------------------------------------------


def test_family_distribution(lex: Lexicon) -> None:
    dist = lex.family_distribution("blackberry, lemon and dark chocolate")
    assert dist.dtype == np.float32 and dist.shape == (9,)
    assert dist.sum() == pytest.approx(1.0)
    fruity, nutty = lex.families.index("Fruity"), lex.families.index("Nutty/Cocoa")
    assert dist[fruity] == pytest.approx(2 / 3) and dist[nutty] == pytest.approx(1 / 3)
    weighted = lex.family_distribution("hint of lemon, intense chocolate")
    assert weighted[fruity] == pytest.approx(0.25)
    for empty in ("", "coffee", "no chocolate", "bright and sweet"):
        assert not lex.family_distribution(empty).any()


def test_render_english_makes_korean_readable(lex: Lexicon) -> None:
    rendered = lex.render_english(
        "자몽과 다크 초콜릿, 은은한 재스민. 산미가 밝고 여운이 길다. 쓴맛은 없다"
    )
    for word in ("Grapefruit", "Dark Chocolate", "Jasmine", "bright", "long finish"):
        assert word in rendered
    assert "hint of Jasmine" in rendered and "no bitterness" in rendered
    assert not re.search(r"자몽|다크|재스민", rendered)


def test_render_english_leaves_english_alone(lex: Lexicon) -> None:
    for text in ("Juicy blackberry, no bitterness.", "", "배전도 중간"):
        assert lex.render_english(text) == text


def test_render_english_keeps_the_rest_of_mixed_text(lex: Lexicon) -> None:
    assert lex.render_english("Kenya AA: 블랙커런트, tomato") == "Kenya AA: Berry, tomato"


# --- robustness and speed -----------------------------------------------------------------


def test_decomposed_hangul_is_normalised(lex: Lexicon) -> None:
    import unicodedata

    assert names(lex, unicodedata.normalize("NFD", "자몽의 산미")) == ["Grapefruit"]


def test_non_string_is_a_type_error(lex: Lexicon) -> None:
    with pytest.raises(TypeError):
        lex.extract(None)  # type: ignore[arg-type]


def test_a_lexicon_built_afresh_extracts_what_the_shared_one_does(lex: Lexicon) -> None:
    """Building from the package data is deterministic (no timing asserted here: the rules
    keep timing out of unit tests; the shared machines are noisy)."""
    from importlib import resources

    data = resources.files("taste2vec.lexicon").joinpath("data")
    wheel = data.joinpath("wheel_nodes.csv").read_text(encoding="utf-8")
    synonyms = data.joinpath("synonyms.json").read_text(encoding="utf-8")
    re.purge()
    fresh = build_lexicon(wheel, synonyms)
    sentences = [
        "Juicy blackberry and dark chocolate with a long, syrupy finish.",
        "자몽의 쌉쌀한 산미와 꿀 같은 단맛이 인상적이다.",
        "No bitterness at all, just milk chocolate and a hint of hazelnut.",
    ]

    def found(lexicon: Lexicon, sentence: str) -> list[tuple[str, float, int, int]]:
        return [(d.node.path, d.weight, d.start, d.end) for d in lexicon.extract(sentence)]

    for sentence in sentences:
        got = found(fresh, sentence)
        assert got  # every sentence names at least one descriptor
        assert got == found(lex, sentence)
