"""The bundled wheel and synonym data: complete, consistent, attributed."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from importlib import resources
from pathlib import Path

import pytest

from taste2vec.errors import LexiconError
from taste2vec.lexicon import Lexicon, WheelNode, load_lexicon
from taste2vec.lexicon._tables import ATTRIBUTE_NAMES, en_key, is_korean, ko_key
from taste2vec.lexicon.extractor import build_lexicon
from taste2vec.lexicon.wheel import parse_wheel_nodes

DATA = resources.files("taste2vec.lexicon").joinpath("data")
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
SOURCE_CSV = SHARED / "flavor_wheel" / "sca_wcr_2016_flavor_wheel_nodes.csv"


def _text(name: str) -> str:
    return DATA.joinpath(name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def synonyms() -> dict[str, object]:
    data = json.loads(_text("synonyms.json"))
    assert isinstance(data, dict)
    return data


def test_wheel_has_110_nodes_in_three_tiers() -> None:
    lex = load_lexicon()
    levels = [n.level for n in lex.nodes]
    assert len(lex.nodes) == 110
    assert (levels.count(1), levels.count(2), levels.count(3)) == (9, 28, 73)
    assert [n.index for n in lex.nodes] == list(range(110))
    assert lex.families == (
        "Fruity",
        "Sour/Fermented",
        "Green/Vegetative",
        "Other",
        "Roasted",
        "Spices",
        "Nutty/Cocoa",
        "Sweet",
        "Floral",
    )
    assert lex.attribute_names == ATTRIBUTE_NAMES
    for node in lex.nodes:
        assert isinstance(node, WheelNode)
        assert node.family == node.path.split(" > ")[0]
        assert node.parent is None or lex.node(node.parent).level == node.level - 1


def test_every_node_has_a_korean_name() -> None:
    lex = load_lexicon()
    named = [n for n in lex.nodes if n.name_ko.strip() and is_korean(n.name_ko)]
    assert len(named) == 110


def test_obviously_wrong_korean_names_are_fixed() -> None:
    lex = load_lexicon()
    assert lex.node("Fruity > Dried Fruit > Prune").name_ko == "말린 자두"
    assert lex.node("Roasted").name_ko != "로스팅"
    assert lex.node("Fruity > Citrus Fruit > Grapefruit").name_ko == "자몽"
    assert lex.node("Sweet > Brown Sugar > Honey").name_ko == "꿀"


@pytest.mark.shared_data
def test_bundled_wheel_matches_source_and_notice_lists_every_korean_change() -> None:
    if not SOURCE_CSV.is_file():
        pytest.skip(f"flavour wheel source not found at {SOURCE_CSV}")
    source = list(csv.DictReader(io.StringIO(SOURCE_CSV.read_text(encoding="utf-8"))))
    bundled = list(csv.DictReader(io.StringIO(_text("wheel_nodes.csv"))))
    assert [(r["path"], r["name"], r["level"], r["parent"]) for r in source] == [
        (r["path"], r["name"], r["level"], r["parent"]) for r in bundled
    ]
    notice = _text("NOTICE.md")
    for old, new in zip(source, bundled, strict=True):
        if old["name_ko"] != new["name_ko"]:
            assert f"| {new['path']} |" in notice and new["name_ko"] in notice, new["path"]


def test_notice_carries_mit_attribution() -> None:
    notice = _text("NOTICE.md")
    assert "Copyright (c) 2025 taco0513" in notice
    assert "Permission is hereby granted, free of charge" in notice
    assert "SCA" in notice and "WCR" in notice and "2016" in notice
    assert "## Korean names added (33)" in notice


def test_synonyms_point_at_existing_nodes_once(synonyms: dict[str, object]) -> None:
    lex = load_lexicon()
    table = synonyms["synonyms"]
    assert isinstance(table, dict)
    owner: dict[str, str] = {}
    total = 0
    for path, langs in table.items():
        lex.node(path)
        for lang in ("en", "ko"):
            for surface in langs[lang]:
                total += 1
                assert is_korean(surface) == (lang == "ko"), surface
                key = ko_key(surface) if lang == "ko" else en_key(surface)
                assert owner.setdefault(key, path) == path, f"{surface!r} maps to two nodes"
    assert total > 1500


def test_attribute_cues_are_valid(synonyms: dict[str, object]) -> None:
    attrs = synonyms["attributes"]
    assert isinstance(attrs, dict)
    assert tuple(attrs) == ATTRIBUTE_NAMES
    for metric, spec in attrs.items():
        assert spec["en"] and spec["ko"], metric
        for cue, direction in spec["en"].items():
            assert -1.0 <= direction <= 1.0 and direction != 0, cue
        for cue, english in spec["ko"].items():
            assert is_korean(cue) and english in spec["en"], (metric, cue)


def test_version_is_a_stable_content_hash() -> None:
    lex = load_lexicon()
    raw = _text("wheel_nodes.csv").encode() + b"\0" + _text("synonyms.json").encode()
    assert lex.version == hashlib.sha256(raw).hexdigest()[:12]
    assert re.fullmatch(r"[0-9a-f]{12}", lex.version)
    assert load_lexicon() is lex
    assert build_lexicon(_text("wheel_nodes.csv"), _text("synonyms.json")).version == lex.version


def test_unknown_path_raises_a_clear_error() -> None:
    with pytest.raises(LexiconError, match="Unknown flavour wheel path 'Fruity > Plum'"):
        load_lexicon().node("Fruity > Plum")
    with pytest.raises(KeyError, match="Did you mean 'Fruity > Berry > Blackberry'"):
        load_lexicon().node("Blackberry")


HEADER = "path,name,level,parent,name_ko\n"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("Fruity,Fruity,1,,\n", "name_ko is empty"),
        ("Fruity,Fruity,1,,과일\nFruity > Berry,Berry,2,Floral,베리\n", "parent should be"),
        ("Fruity,Fruity,1,,과일\nFruity,Fruity,1,,과일\n", "appears twice"),
        ("Fruity,Fruity,x,,과일\n", "level must be"),
        ("Fruity > Berry,Berry,2,Fruity,베리\n", "listed before its children"),
    ],
)
def test_malformed_wheel_csv_is_rejected(rows: str, message: str) -> None:
    with pytest.raises(LexiconError, match=message):
        parse_wheel_nodes(HEADER + rows)


def test_conflicting_synonym_is_rejected(synonyms: dict[str, object]) -> None:
    broken = json.loads(json.dumps(synonyms))
    broken["synonyms"]["Fruity > Berry > Blueberry"]["en"].append("Grapefruit")
    with pytest.raises(LexiconError, match="exactly one target"):
        build_lexicon(_text("wheel_nodes.csv"), json.dumps(broken))
    broken = json.loads(json.dumps(synonyms))
    broken["synonyms"]["Fruity > Plum"] = {"en": ["plum"], "ko": []}
    with pytest.raises(LexiconError, match="not a wheel node path"):
        build_lexicon(_text("wheel_nodes.csv"), json.dumps(broken))


def test_lexicon_type_and_repr() -> None:
    lex = load_lexicon()
    assert isinstance(lex, Lexicon)
    assert lex.version in repr(lex)
