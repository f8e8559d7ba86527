"""The hand-labelled family set (tests/data/family_gold.csv) and its F1 scoring."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from taste2vec.errors import DataError, SchemaError
from taste2vec.evaluation.gold import FamilyGold, gold_f1, load_family_gold
from taste2vec.lexicon import load_lexicon

GOLD = Path(__file__).resolve().parents[1] / "data" / "family_gold.csv"
ID_PATTERN = re.compile(r"^cr:[A-Za-z0-9._-]+$")


@pytest.fixture(scope="module")
def families() -> tuple[str, ...]:
    return tuple(load_lexicon().families)


@pytest.fixture(scope="module")
def gold(families: tuple[str, ...]) -> FamilyGold:
    return load_family_gold(GOLD, families)


def test_gold_file_has_100_unique_ids_and_valid_families(
    gold: FamilyGold, families: tuple[str, ...]
) -> None:
    # load_family_gold refuses repeated ids and unknown family names.
    assert len(gold.ids) == 100
    assert len(set(gold.ids)) == 100
    assert gold.families == families
    assert gold.labels.shape == (100, len(families))
    assert gold.labels.any(axis=1).all(), "every labelled note expresses some family"
    assert all(ID_PATTERN.match(rid) for rid in gold.ids)


def test_gold_file_holds_ids_and_labels_only() -> None:
    """Coffee Review text must never be stored: two fields per row, family names only."""
    rows = [ln for ln in GOLD.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    assert rows[0] == "review_id,families"
    for row in rows[1:]:
        rid, fams = row.split(",")
        assert ID_PATTERN.match(rid)
        assert re.fullmatch(r"[A-Za-z/;-]*", fams), row


def test_gold_ids_are_the_documented_selection_of_the_test_block(
    gold: FamilyGold, shared_data: Path
) -> None:
    """Every id exists in the dataset, lies in the evaluation's test block, and the set
    is the 100 test reviews with the smallest sha256(review_id), as the file says."""
    from taste2vec.data.coffeereview import load_reviews
    from taste2vec.data.split import split_reviews

    reviews = load_reviews(shared_data)
    assert set(gold.ids) <= set(reviews["review_id"])
    test_ids = list(reviews.iloc[split_reviews(reviews).test]["review_id"])
    assert set(gold.ids) <= set(test_ids)
    expected = sorted(test_ids, key=lambda s: hashlib.sha256(s.encode()).hexdigest())[:100]
    assert list(gold.ids) == expected


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "gold.csv"
    path.write_text(body, encoding="utf-8")
    return path


def test_gold_f1_on_a_constructed_example(tmp_path: Path) -> None:
    fams = ("A", "B", "C")
    path = _write(tmp_path, "# guidelines\nreview_id,families\nr1,A;B\nr2,C\nr3,\n")
    gold = load_family_gold(path, fams)
    ids = ["r0", "r1", "r2", "r3"]  # r0 has no gold label: not scored
    pred = np.array(
        [
            [True, True, True],  # r0: ignored
            [True, False, False],  # r1: A right, B missed
            [False, True, True],  # r2: B wrong, C right
            [False, False, True],  # r3: C wrong
        ]
    )
    n, scores = gold_f1(gold, ids, {"model": pred, "perfect": pred & False})
    assert n == 3
    # A: tp 1 -> F1 1; B: fp 1, fn 1 -> 0; C: tp 1, fp 1 -> 2/3.
    # micro: tp 2, fp 2, fn 1 -> 4/7; macro: (1 + 0 + 2/3) / 3 = 5/9.
    assert scores["model"]["micro"] == pytest.approx(4 / 7)
    assert scores["model"]["macro"] == pytest.approx(5 / 9)
    assert scores["perfect"]["micro"] == 0.0  # predicting nothing finds nothing
    perfect = np.array([[0, 0, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=bool)
    assert gold_f1(gold, ids, {"p": perfect})[1]["p"]["micro"] == pytest.approx(1.0)


def test_gold_f1_without_overlap_and_with_bad_shapes(tmp_path: Path) -> None:
    gold = load_family_gold(_write(tmp_path, "review_id,families\nr1,A\n"), ("A", "B"))
    assert gold_f1(gold, ["x"], {"m": np.zeros((1, 2), bool)}) == (0, {})
    with pytest.raises(SchemaError, match="shape"):
        gold_f1(gold, ["r1"], {"m": np.zeros((1, 3), bool)})
    with pytest.raises(DataError, match="no gold labels"):
        gold.rows_for(["nope"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("id,families\nr1,A\n", "header"),
        ("review_id,families\nr1,A\nr1,B\n", "twice"),
        ("review_id,families\nr1,Fruit\n", "unknown family"),
        ("review_id,families\nr1,A;A\n", "listed twice"),
        ("review_id,families\n,A\n", "empty review_id"),
        ("review_id,families\nr1,A,extra\n", "2 fields"),
        ("review_id,families\n", "no labelled rows"),
        ("# only comments\n", "no header"),
    ],
)
def test_bad_gold_files_are_refused(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        load_family_gold(_write(tmp_path, body), ("A", "B"))


def test_missing_gold_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Cannot read"):
        load_family_gold(tmp_path / "absent.csv", ("A",))


def test_evaluate_refuses_a_missing_gold_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from taste2vec.cli import app

    result = CliRunner().invoke(
        app,
        ["evaluate", "--data-dir", str(tmp_path), "--family-gold", str(tmp_path / "absent.csv")],
    )
    assert result.exit_code == 4
    assert "absent.csv" in result.output.replace("\n", "")  # rich wraps narrow terminals
