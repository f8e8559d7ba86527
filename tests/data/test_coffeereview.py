"""Coffee Review loaders on the real files in ../shared/datasets (never copied here)."""

from __future__ import annotations

import json
import math
from datetime import UTC
from pathlib import Path

import pandas as pd
import pytest

from taste2vec.data import coffeereview as cr
from taste2vec.data._crnorm import ROAST_LEVELS
from taste2vec.errors import DataError

shared = pytest.mark.shared_data


def by_id(frame: pd.DataFrame, review_id: str) -> pd.Series:
    rows = frame[frame["review_id"] == review_id]
    assert len(rows) == 1, review_id
    return rows.iloc[0]


# --------------------------------------------------------------------------- load_reviews


@shared
def test_reviews_counts_columns_and_stats(reviews: pd.DataFrame) -> None:
    assert tuple(reviews.columns) == cr.REVIEW_COLUMNS
    # measured: 2,275 (2,008 full rows + 267 text-only rows joined to scores)
    assert 2200 <= len(reviews) <= 2500
    stats = reviews.attrs["load_stats"]
    assert stats["join_rate"] >= 0.95  # measured 0.999 (2,091 of 2,093)
    assert stats["duplicates_removed"] > 1500  # measured 1,823 (reviews in both files)
    assert set(reviews["source"]) == {cr.REVIEWS_FILE, cr.TEXT_FILE}
    assert (reviews["source"] == cr.TEXT_FILE).sum() > 200


@shared
def test_reviews_are_deduplicated(reviews: pd.DataFrame) -> None:
    assert reviews["review_id"].is_unique
    # every kept review has a real url, so the id is the url's slug: no duplicate url
    assert reviews["review_id"].str.match(r"^cr:[A-Za-z0-9][A-Za-z0-9._-]*$").all()
    same_review = ["roaster", "name", "review_date", "blind_assessment"]
    assert not reviews.duplicated(same_review).any()


@shared
def test_reviews_have_text_and_scores(reviews: pd.DataFrame) -> None:
    assert reviews["blind_assessment"].notna().all()
    assert reviews[list(cr.SCORE_COLUMNS)].notna().any(axis=1).all()
    assert pd.api.types.is_datetime64_any_dtype(reviews["review_date"])
    assert reviews["review_date"].between("2017-11-01", "2022-11-01").all()
    scores = reviews[list(cr.SCORE_COLUMNS)]
    assert ((scores >= 1) & (scores <= 10) | scores.isna()).all().all()
    assert reviews["rating"].between(80, 100).all()
    assert set(reviews["roast_level"].dropna()) <= set(ROAST_LEVELS)


@shared
def test_acidity_columns_unified(reviews: pd.DataFrame) -> None:
    # these three rows carry the older "Acidity" column, not "Acidity/Structure"
    for review_id in (
        "cr:panama-la-mula-geisha-washed",
        "cr:british-style-espresso-blend",
        "cr:la-perla-chiquita-ecuador",
    ):
        assert by_id(reviews, review_id)["acidity"] == 9.0
    espresso = reviews["blind_assessment"].str.startswith("Evaluated as espresso")
    assert reviews.loc[~espresso, "acidity"].notna().mean() > 0.98  # measured 0.99 (cold brew)
    assert reviews.loc[espresso, "acidity"].isna().mean() > 0.9  # espresso has no acidity


@shared
def test_agtron_split(reviews: pd.DataFrame) -> None:
    row = by_id(reviews, "cr:panama-geisha-finca-debra-echo")  # "64/80"
    assert (row["agtron_whole"], row["agtron_ground"]) == (64.0, 80.0)
    row = by_id(reviews, "cr:look-for-the-helpers")  # "5252/70": garbage whole reading
    assert math.isnan(row["agtron_whole"]) and row["agtron_ground"] == 70.0
    for column in ("agtron_whole", "agtron_ground"):
        values = reviews[column].dropna()
        assert len(values) > 2000 and values.between(1, 150).all()
    both = reviews.dropna(subset=["agtron_whole", "agtron_ground"])
    assert (both["agtron_whole"] <= both["agtron_ground"]).mean() > 0.95  # beans read darker


@shared
def test_origin_country_parsed_on_real_rows(reviews: pd.DataFrame) -> None:
    expected = {
        "cr:kenya-ab-muchoki": "Kenya",
        "cr:100-kona-sl-28": "United States (Hawaii)",
        "cr:ulos-batak-sumatra-3": "Indonesia",
        "cr:haraz-special-red-yemen": "Yemen",
        "cr:dr-congo-virunga-organic": "Democratic Republic of the Congo",
        "cr:panama-geisha-finca-debra-echo": "Panama",
        "cr:ace-espresso-3": "Blend",  # a two-country espresso blend
    }
    for review_id, country in expected.items():
        assert by_id(reviews, review_id)["origin_country"] == country
    disclosed = reviews["origin"].notna() & ~reviews["origin"].str.contains(
        "not disclosed|America|Africa|Asia", case=False, na=False
    )
    assert reviews.loc[disclosed, "origin_country"].notna().mean() > 0.98


@shared
def test_text_rows_join_to_the_right_scores(datasets_dir: Path) -> None:
    """Where a text-only row also appears in the full file, the join found the same review."""
    folder = datasets_dir / "coffeereview"
    scores = cr._read_scores_json(folder)
    raw = pd.read_csv(folder / cr.TEXT_FILE)
    names = {"roaster": "roaster", "name": "name", "review_date": "review_date"}
    text = cr._frame(raw, names | {"rating": "rating", "blind_assessment": "desc_1"}, "t")
    joined = cr._join_text_to_scores(text, scores)
    full = pd.read_csv(folder / cr.REVIEWS_FILE)[["url", "Blind Assessment"]]
    both = joined.merge(full, on="url")
    assert len(both) > 1500
    head = both["Blind Assessment"].str.split().str.join(" ").str[:40]
    assert (both["blind_assessment"].str[:40] == head).mean() > 0.995


@shared
def test_review_to_record_on_every_row(reviews: pd.DataFrame) -> None:
    records = [cr.review_to_record(row) for _, row in reviews.iterrows()]
    assert len({r.id for r in records}) == len(records)
    first = records[0]
    assert first.user == "coffeereview" and first.coffee is None
    assert first.timestamp.tzinfo is UTC
    for record, (_, row) in zip(records[:200], reviews.head(200).iterrows(), strict=True):
        assert record.metrics.overall == pytest.approx(row["rating"] / 10)
        assert record.notes == row["blind_assessment"]
        if math.isnan(row["acidity"]):
            assert record.metrics.acidity is None  # missing stays missing, never 0
    assert sum(r.metrics.roast_agtron is not None for r in records) > 2200


# --------------------------------------------------------------------------- load_score_only


@shared
def test_score_only(score_only: pd.DataFrame) -> None:
    assert tuple(score_only.columns) == cr.SCORE_ONLY_COLUMNS
    assert 6500 <= len(score_only) <= 7500  # measured 7,013
    assert score_only["review_id"].is_unique
    assert score_only["review_date"].between("1997-01-01", "2022-12-31").all()
    assert score_only["bottom_line"].notna().sum() > 3500
    old = score_only[score_only["old_scale"]]
    assert 300 < len(old) < 400 and (old["review_date"] < cr.OLD_SCALE_BEFORE).all()
    new = score_only[~score_only["old_scale"]]
    assert old["rating"].mean() < new["rating"].mean() - 5
    assert set(score_only["roast_level"].dropna()) <= set(ROAST_LEVELS)
    scores = score_only[list(cr.SCORE_COLUMNS)]
    assert ((scores >= 0) & (scores <= 10) | scores.isna()).all().all()
    records = [cr.review_to_record(row) for _, row in score_only.iterrows()]
    assert sum(r.metrics.overall is None for r in records) < 10  # 4 "NR" ratings


@shared
def test_score_only_overlaps_reviews(reviews: pd.DataFrame, score_only: pd.DataFrame) -> None:
    shared_ids = set(reviews["review_id"]) & set(score_only["review_id"])
    assert len(shared_ids) > 0.95 * len(reviews)


# --------------------------------------------------------------------------- synthetic rows


def test_review_to_record_clips_and_masks() -> None:
    row = {
        "review_id": "cr:test",
        "review_date": pd.Timestamp("2020-03-01"),
        "rating": 94.0,
        "aroma": 11.0,  # clipped to 10
        "acidity": float("nan"),  # missing -> None
        "body": 8.0,
        "flavor": None,
        "aftertaste": -1.0,  # clipped to 0
        "agtron_whole": 55.0,
        "agtron_ground": 250.0,  # out of range -> falls back to whole bean
        "blind_assessment": "synthetic note",
    }
    record = cr.review_to_record(row)
    m = record.metrics
    assert (m.aroma, m.acidity, m.body, m.flavor, m.aftertaste) == (10.0, None, 8.0, None, 0.0)
    assert m.roast_agtron == 55.0 and m.overall == 9.4
    assert record.timestamp.isoformat() == "2020-03-01T00:00:00+00:00"
    assert cr.review_to_record(row | {"rating": 120.0}).metrics.overall is None


def test_missing_folder_names_path_and_env_var(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="T2V_DATA_DIR") as info:
        cr.load_reviews(tmp_path / "nowhere")
    assert "nowhere" in str(info.value)
    (tmp_path / "coffeereview").mkdir()
    with pytest.raises(DataError, match="scores_1997_2022.json"):
        cr.load_reviews(tmp_path)


def test_missing_column_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "coffeereview"
    folder.mkdir()
    fake = {"roaster": "R", "name": "N", "url": "u", "rating": "90", "Review Date": "May 2020"}
    (folder / cr.SCORES_FILE).write_text(json.dumps([fake]), encoding="utf-8")
    header = "Roaster,Coffee_Name,Review_Date,Rating,url,Aroma,Body,Flavor,Agtron,Acidity\n"
    (folder / cr.REVIEWS_FILE).write_text(header, encoding="utf-8")
    with pytest.raises(DataError, match="Blind Assessment") as info:
        cr.load_reviews(tmp_path)
    assert cr.REVIEWS_FILE in str(info.value)
