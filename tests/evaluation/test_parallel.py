"""The Korean <-> English nearest-translation measurement (issue 10): metric and data file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taste2vec.errors import SchemaError
from taste2vec.evaluation.parallel import (
    both_directions,
    lexicon_bag,
    load_pairs,
    translation_retrieval,
)
from taste2vec.lexicon import load_lexicon

PAIRS = Path(__file__).resolve().parents[1] / "data" / "ko_en_pairs.tsv"


def test_perfect_and_reversed_retrieval() -> None:
    r = translation_retrieval(np.eye(4), np.eye(4))
    assert (r.accuracy, r.mean_rank, r.n) == (1.0, 1.0, 4)
    # every query is nearest to the wrong candidate: translation always second
    q = np.array([[1.0, 0.1], [0.1, 1.0]])
    c = np.array([[0.1, 1.0], [1.0, 0.1]])
    r = translation_retrieval(q, c)
    assert (r.accuracy, r.mean_rank) == (0.0, 2.0)


def test_ties_count_in_expectation_not_by_index_order() -> None:
    # identical vectors everywhere: chance level, 1/n accuracy, middle rank
    r = translation_retrieval(np.ones((4, 3)), np.ones((4, 3)))
    assert r.accuracy == pytest.approx(0.25)
    assert r.mean_rank == pytest.approx(2.5)
    # a zero row (a note the representation cannot read) ties with everything
    q = np.array([[0.0, 0.0], [0.0, 1.0]])
    c = np.array([[1.0, 0.0], [0.0, 1.0]])
    r = translation_retrieval(q, c)
    assert r.accuracy == pytest.approx((0.5 + 1.0) / 2)


def test_shapes_are_checked() -> None:
    with pytest.raises(SchemaError, match="one shape"):
        translation_retrieval(np.eye(3), np.eye(4))
    with pytest.raises(SchemaError, match="no pairs"):
        translation_retrieval(np.zeros((0, 2)), np.zeros((0, 2)))


def test_the_pairs_file_is_well_formed_and_large_enough() -> None:
    pairs = load_pairs(PAIRS)
    assert len(pairs) >= 50
    assert all(any("\uac00" <= ch <= "\ud7a3" for ch in p.ko) for p in pairs)  # Hangul
    assert all(p.en.isascii() for p in pairs)
    assert len({p.en for p in pairs}) == len({p.ko for p in pairs}) == len(pairs)
    lengths = [len(p.en.split()) for p in pairs]
    assert min(lengths) <= 3 and max(lengths) >= 20  # short and long notes


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("id\tko\n", "header"),
        ("id\tko\ten\na\t자몽\n", "3 tab-separated"),
        ("id\tko\ten\na\t자몽\tgrapefruit\na\t꿀\thoney\n", "twice"),
        ("id\tko\ten\na\t \tgrapefruit\n", "non-empty"),
        ("# only a comment\n", "no header"),
    ],
)
def test_a_broken_pairs_file_is_refused_naming_the_problem(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(SchemaError, match=message):
        load_pairs(path)


def test_lexicon_bag_reads_both_languages_alike() -> None:
    lex = load_lexicon()
    bag = lexicon_bag(lex, ["자몽, 재스민, 꿀. 산미가 밝다", "Grapefruit, jasmine, honey", ""])
    n = len(lex.nodes)
    assert bag.shape == (3, n + len(lex.attribute_names))
    np.testing.assert_array_equal(bag[0, :n], bag[1, :n])
    assert bag[0, n:].any() and not bag[1, n:].any()  # the acidity cue
    assert not bag[2].any()
    s = both_directions(bag[:2], bag[:2])
    assert s.accuracy == 1.0


def test_told_apart_drops_pairs_the_lexicon_reads_alike() -> None:
    from taste2vec.evaluation.parallel import told_apart

    ko = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    en = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert told_apart(ko, en).tolist() == [True, False, False]
    assert told_apart(en, en).tolist() == [True, True, True]
