"""Coffee Review loaders: professional reviews with tasting text and 1-10 attribute scores.

The data belong to Coffee Review (coffeereview.com). They are research fixtures
read from ``T2V_DATA_DIR/coffeereview/`` (``../shared/datasets``); never copy
them into the repository or the package.

:func:`load_reviews` returns every review that has tasting text **and** at
least one attribute score, from two sources:

- ``reviews_2019_2022.csv``: text and scores in one row. ``Acidity/Structure``
  and the older ``Acidity`` column are unified into ``acidity``.
- ``reviews_text_2017_2022.csv`` (text only: ``desc_1`` blind assessment,
  ``desc_2`` notes, ``desc_3`` bottom line), joined to ``scores_1997_2022.json``
  (scores only) on the normalised (roaster, name, review month). Reviews of the
  same coffee in the same month are paired in file order; the few left over
  are matched by a near-identical name and roaster in the same month with the
  same rating (typos such as "Companuy").

Rows are deduplicated by review url where known (the first file wins), else
by normalised (roaster, name, review month); a review the site published twice
(same roaster, name, month and text under two urls) is kept once. ``frame.attrs["load_stats"]``
holds the counts (rows read, join rate, duplicates removed), also logged.

Columns of :func:`load_reviews` (one row per review, sorted by date then id):

=================  ============================================================
review_id          stable id: ``cr:<url slug>``, or ``cr:h-<hash>`` without url
roaster, name      as published
review_date        first day of the review month (naive ``datetime64``)
rating             overall rating, float (about 84-98)
aroma, acidity,    attribute scores on 1-10, float; NaN when missing
body, flavor,      (espresso reviews have no acidity)
aftertaste
with_milk          espresso "with milk" score, float or NaN
agtron_whole,      Agtron roast colour from "57/77" (whole bean / ground); NaN
agtron_ground      for "NA", "—", garbage, or readings outside (0, 150]
roast_level        light, medium-light, medium, medium-dark, dark, or NaN
origin             raw "Coffee Origin" text
origin_country     parsed country ("Kenya"), "Blend" for several, NaN if none
roaster_location   raw text ("Redding, California")
blind_assessment   the tasting note
producer_notes     producer, variety, process (NaN when absent)
bottom_line        one-sentence summary (NaN when absent)
source             the file the text came from
=================  ============================================================

:func:`load_score_only` returns the same columns without ``blind_assessment``
and ``producer_notes`` (``bottom_line`` is the only text), plus ``old_scale``.
"""

from __future__ import annotations

import difflib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from taste2vec.data import _cells
from taste2vec.data import _crnorm as cn
from taste2vec.data._paths import dataset_dir, read_csv, require_columns, require_file
from taste2vec.errors import DataError
from taste2vec.schema.records import MAX_NOTES_CHARS, Metrics, TasteRecord

log = logging.getLogger(__name__)

REVIEWS_FILE = "reviews_2019_2022.csv"
TEXT_FILE = "reviews_text_2017_2022.csv"
SCORES_FILE = "scores_1997_2022.json"
BOTTOMLINE_FILE = "scores_bottomline_1997_2019.csv"

SCORE_COLUMNS = cn.SCORE_COLUMNS
REVIEW_COLUMNS: tuple[str, ...] = (
    "review_id", "roaster", "name", "review_date", "rating", *SCORE_COLUMNS, "with_milk",
    "agtron_whole", "agtron_ground", "roast_level", "origin", "origin_country",
    "roaster_location", "blind_assessment", "producer_notes", "bottom_line", "source",
)  # fmt: skip
SCORE_ONLY_COLUMNS: tuple[str, ...] = (
    *(c for c in REVIEW_COLUMNS if c not in ("blind_assessment", "producer_notes")),
    "old_scale",
)
#: Reviews before this date used the older, harsher scale (see :func:`load_score_only`).
OLD_SCALE_BEFORE = pd.Timestamp("2000-01-01")
_TEXT_COLUMNS = frozenset(
    {"review_id", "roaster", "name", "roast_level", "origin", "origin_country"}
    | {"roaster_location", "blind_assessment", "producer_notes", "bottom_line", "source"}
)
_META = ("with_milk", "agtron_whole", "agtron_ground", "roast_level", "origin", "roaster_location")


def _folder(data_dir: Path | str | None, marker: str) -> Path:
    return dataset_dir(data_dir, "coffeereview", marker)


def _frame(raw: pd.DataFrame, names: dict[str, str], source: str) -> pd.DataFrame:
    """The normalised columns from ``raw``, whose source columns ``names`` maps by role."""

    def col(role: str) -> pd.Series[Any]:
        name = names.get(role)
        if name is None or name not in raw.columns:
            return pd.Series(np.nan, index=raw.index, dtype=object)
        return raw[name]

    out = pd.DataFrame(index=raw.index)
    out["roaster"] = cn.strings(col("roaster"))
    out["name"] = cn.strings(col("name"))
    out["review_date"] = cn.month(col("review_date"))
    out["rating"] = cn.score(col("rating"), high=100.0)
    for attr in SCORE_COLUMNS:
        out[attr] = cn.score(col(attr))
    if "acidity_old" in names:
        out["acidity"] = out["acidity"].fillna(cn.score(col("acidity_old")))
    out["with_milk"] = cn.score(col("with_milk"))
    out["agtron_whole"], out["agtron_ground"] = cn.agtron(col("agtron"))
    out["roast_level"] = cn.roast_level(col("roast_level"))
    out["origin"] = cn.strings(col("origin"))
    out["roaster_location"] = cn.strings(col("roaster_location"))
    for role in ("url", "blind_assessment", "producer_notes", "bottom_line"):
        out[role] = cn.real_url(col(role)) if role == "url" else cn.strings(col(role))
    out["source"] = source
    out["_k"] = out["roaster"].map(cn.norm_key) + "|" + out["name"].map(cn.norm_key)
    return out


_JSON_NAMES = {
    "roaster": "roaster", "name": "name", "review_date": "Review Date", "rating": "rating",
    "aroma": "Aroma", "acidity": "Acidity/Structure", "acidity_old": "Acidity", "body": "Body",
    "flavor": "Flavor", "aftertaste": "Aftertaste", "with_milk": "With Milk", "agtron": "Agtron",
    "roast_level": "Roast Level", "origin": "Coffee Origin",
    "roaster_location": "Roaster Location", "url": "url",
}  # fmt: skip


def _read_scores_json(folder: Path) -> pd.DataFrame:
    """``scores_1997_2022.json`` normalised, placeholder rows dropped, one row per url."""
    path = require_file(folder, SCORES_FILE)
    try:
        with path.open(encoding="utf-8") as fh:
            records = json.load(fh)
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read {path}: {exc}") from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError(f"{path} should hold a JSON list of review objects")
    raw = pd.DataFrame.from_records(records)
    require_columns(raw, ("roaster", "name", "url", "rating", "Review Date"), path)
    out = _frame(raw, _JSON_NAMES, SCORES_FILE)
    # Failed scrapes: the bare listing url and nothing else.
    out = out[out["url"].notna() | out["review_date"].notna()]
    has_url = out["url"].notna()
    out = pd.concat(
        [out[has_url].drop_duplicates("url"), out[~has_url].drop_duplicates(["_k", "review_date"])]
    )
    log.info("%s: %d rows read, %d kept", SCORES_FILE, len(raw), len(out))
    return out


def _pair(
    left: pd.DataFrame, right: pd.DataFrame, left_tie: pd.Series[Any], right_tie: pd.Series[Any]
) -> pd.Series[Any]:
    """For each ``left`` row the index label of its ``right`` row (same key and month), or NaN.

    Several reviews of one coffee in one month are paired in order of the tie
    keys (espresso or not, then rating), then in file order.
    """
    keys = ["_k", "review_date"]

    def numbered(frame: pd.DataFrame, tie: pd.Series[Any], label: str) -> pd.DataFrame:
        ordered = frame[keys].assign(_t=tie, **{label: frame.index})
        ordered = ordered.sort_values([*keys, "_t"], kind="stable", na_position="last")
        return ordered.assign(_n=ordered.groupby(keys, dropna=False).cumcount())

    lhs, rhs = numbered(left, left_tie, "_l"), numbered(right, right_tie, "_r")
    merged = lhs.merge(rhs.drop(columns="_t"), on=[*keys, "_n"], how="left")
    pairs = pd.Series(merged["_r"].to_numpy(), index=merged["_l"].to_numpy(), dtype=object)
    return pairs.reindex(left.index)


def _tie(espresso: pd.Series[bool], rating: pd.Series[float]) -> pd.Series[float]:
    return espresso.astype(float) * 1000 + rating.fillna(0)


def _fuzzy(row: pd.Series[Any], right: pd.DataFrame) -> Any:
    """The one ``right`` row with the same month and rating and a near-identical name."""
    same = right[(right["review_date"] == row["review_date"]) & (right["rating"] == row["rating"])]
    best: tuple[float, Any] = (0.0, None)
    for label, cand in same.iterrows():
        name = difflib.SequenceMatcher(None, cn.norm_key(row["name"]), cn.norm_key(cand["name"]))
        r1, r2 = (cn.norm_key(x).replace(" ", "") for x in (row["roaster"], cand["roaster"]))
        if name.ratio() >= 0.9 and difflib.SequenceMatcher(None, r1, r2).ratio() >= 0.5:
            best = max(best, (name.ratio(), label), key=lambda t: t[0])
    return best[1]


def _join_text_to_scores(text: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Fill the text-only rows' scores and metadata from their score rows."""
    espresso = text["blind_assessment"].str.startswith("Evaluated as espresso", na=False)
    scored_espresso = scores["with_milk"].notna() | scores["acidity"].isna()
    match = _pair(
        text, scores, _tie(espresso, text["rating"]), _tie(scored_espresso, scores["rating"])
    )
    for label in match.index[match.isna()]:
        match[label] = _fuzzy(text.loc[label], scores.drop(index=match.dropna().tolist()))
    found = match.notna()
    src = scores.loc[match[found].tolist()].set_axis(match.index[found])
    out = text.copy()
    for column in ("url", "rating", *SCORE_COLUMNS, *_META):
        filled = src[column].reindex(out.index)
        out[column] = filled.where(filled.notna(), out[column])
    out.attrs["matched"] = int(found.sum())
    return out


def _dedup(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per url; rows without url one per (roaster, name, month) not already present."""
    has_url = frame["url"].notna()
    with_url = frame[has_url].drop_duplicates("url")
    no_url = frame[~has_url].drop_duplicates(["_k", "review_date"])
    seen = pd.MultiIndex.from_frame(with_url[["_k", "review_date"]])
    no_url = no_url[~pd.MultiIndex.from_frame(no_url[["_k", "review_date"]]).isin(seen)]
    return pd.concat([with_url, no_url])


def _finish(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    key = frame["_k"] + "|" + frame["review_date"].dt.strftime("%Y-%m").fillna("")
    frame = frame.assign(review_id=cn.review_ids(frame["url"], key))
    frame["origin_country"] = cn.origin_country(frame["origin"])
    frame = frame.sort_values(["review_date", "review_id"], kind="stable", na_position="first")
    frame = frame.loc[:, list(columns)].reset_index(drop=True)
    for name in _TEXT_COLUMNS.intersection(columns):
        # one text representation on pandas 2 and 3: object dtype, NaN when missing
        frame[name] = frame[name].astype(object).where(frame[name].notna(), np.nan)
    return frame


def load_reviews(data_dir: Path | str | None = None) -> pd.DataFrame:
    """Every Coffee Review with tasting text and attribute scores (see the module docstring).

    ``data_dir`` is the datasets folder (holding ``coffeereview/``) or the
    ``coffeereview`` folder itself; ``None`` reads ``T2V_DATA_DIR``.
    Raises :class:`~taste2vec.errors.DataError` when a file or column is missing.
    """
    folder = _folder(data_dir, REVIEWS_FILE)
    scores = _read_scores_json(folder)

    path = require_file(folder, REVIEWS_FILE)
    raw = read_csv(path)
    require_columns(raw, ("Roaster", "Coffee_Name", "Review_Date", "Rating", "url"), path)
    require_columns(raw, ("Blind Assessment", "Aroma", "Body", "Flavor", "Agtron"), path)
    if "Acidity/Structure" not in raw.columns and "Acidity" not in raw.columns:
        raise DataError(f"{path} has neither an 'Acidity/Structure' nor an 'Acidity' column")
    names = {
        "roaster": "Roaster", "name": "Coffee_Name", "review_date": "Review_Date",
        "rating": "Rating", "aroma": "Aroma", "acidity": "Acidity/Structure",
        "acidity_old": "Acidity", "body": "Body", "flavor": "Flavor", "aftertaste": "Aftertaste",
        "agtron": "Agtron", "roast_level": "Roast Level", "origin": "Coffee Origin",
        "roaster_location": "Roaster Location", "url": "url",
        "blind_assessment": "Blind Assessment", "producer_notes": "Notes",
        "bottom_line": "Bottom Line",
    }  # fmt: skip
    full = _frame(raw, names, REVIEWS_FILE)
    milk = scores.dropna(subset=["url"]).set_index("url")["with_milk"]
    full["with_milk"] = full["url"].map(milk).astype(float)

    path = require_file(folder, TEXT_FILE)
    raw = read_csv(path)
    require_columns(raw, ("name", "roaster", "review_date", "rating", "desc_1"), path)
    if {"origin_1", "origin_2"} <= set(raw.columns):
        parts = raw[["origin_1", "origin_2"]].astype("string")
        raw["_origin"] = parts["origin_1"].str.cat(parts["origin_2"], sep=", ", na_rep="")
    names = {
        "roaster": "roaster", "name": "name", "review_date": "review_date", "rating": "rating",
        "roast_level": "roast", "origin": "_origin", "blind_assessment": "desc_1",
        "producer_notes": "desc_2", "bottom_line": "desc_3",
    }  # fmt: skip
    text = _frame(raw, names, TEXT_FILE)
    text = text.drop_duplicates(["_k", "review_date", "blind_assessment"])
    text = _join_text_to_scores(text, scores)

    both = pd.concat([full, text])
    out = _dedup(both)
    has_text = out["blind_assessment"].notna()
    has_score = out[list(SCORE_COLUMNS)].notna().any(axis=1)
    kept = out[has_text & has_score & out["review_date"].notna()]
    dropped = len(out) - len(kept)
    # The site sometimes published one review under two urls ("...-2"): same text, same month.
    kept = kept.drop_duplicates(["_k", "review_date", "blind_assessment"])
    republished = len(out) - dropped - len(kept)
    stats = {
        "rows_reviews_2019_2022": len(full),
        "rows_text_2017_2022": len(raw),
        "text_unique": len(text),
        "text_joined_to_scores": text.attrs["matched"],
        "join_rate": round(text.attrs["matched"] / max(len(text), 1), 4),
        "duplicates_removed": len(both) - len(out) + republished,
        "dropped_without_text_or_scores": dropped,
        "reviews": len(kept),
    }
    log.info("coffeereview load_reviews: %s", stats)
    result = _finish(kept, REVIEW_COLUMNS)
    result.attrs["load_stats"] = stats
    return result


def load_score_only(data_dir: Path | str | None = None) -> pd.DataFrame:
    """Scores without tasting text: ``scores_1997_2022.json`` + ``scores_bottomline_1997_2019.csv``.

    Same score columns as :func:`load_reviews`; ``bottom_line`` (from the CSV,
    joined on roaster, name and month) is the only text. Rows of the CSV with no
    JSON counterpart are appended; the CSV stores scores by position, so for
    espresso reviews (no acidity; "with milk" last) the values are shifted back.

    ``old_scale`` is True for reviews before 2000 or with fractional attribute
    scores. Coffee Review scored more harshly then: fractional attribute scores
    (5.8, 7.4) occur only in 1997-1999 and the mean rating was 80-84, against 86+
    from 2001. Compare such rows with later ones only after rescaling.
    """
    folder = _folder(data_dir, SCORES_FILE)
    scores = _read_scores_json(folder)
    path = require_file(folder, BOTTOMLINE_FILE)
    raw = read_csv(path)
    require_columns(raw, ("roaster", "product", "review_date_full", "review_rating"), path)
    require_columns(raw, (*SCORE_COLUMNS, "the_bottom_line"), path)
    names = {
        "roaster": "roaster", "name": "product", "review_date": "review_date_full",
        "rating": "review_rating", **{c: c for c in SCORE_COLUMNS}, "agtron": "agtron",
        "roast_level": "roast", "origin": "origin", "roaster_location": "location",
        "bottom_line": "the_bottom_line",
    }  # fmt: skip
    bottom = _frame(raw, names, BOTTOMLINE_FILE)
    no_flag = pd.Series(False, index=bottom.index)
    match = _pair(
        bottom,
        scores,
        _tie(no_flag, bottom["rating"]),
        _tie(pd.Series(False, index=scores.index), scores["rating"]),
    )
    found = match.notna()
    scores["bottom_line"] = pd.Series(
        bottom.loc[match.index[found], "bottom_line"].to_numpy(), index=match[found].tolist()
    ).reindex(scores.index)
    scores.loc[scores["bottom_line"].notna(), "source"] = f"{SCORES_FILE};{BOTTOMLINE_FILE}"
    extra = bottom[~found].copy()
    espresso = extra["name"].str.contains("espresso", case=False, na=False)
    positional = extra.loc[espresso, ["acidity", "body", "flavor", "aftertaste"]].to_numpy()
    extra.loc[espresso, ["body", "flavor", "aftertaste", "with_milk"]] = positional
    extra.loc[espresso, "acidity"] = np.nan
    both = pd.concat([scores, extra])
    out = _dedup(both)
    out = out[out["review_date"].notna()]
    fractional = (out[list(SCORE_COLUMNS)] % 1 > 0).any(axis=1)
    out = out.assign(old_scale=(out["review_date"] < OLD_SCALE_BEFORE) | fractional)
    stats = {
        "rows_scores_json": len(scores),
        "rows_bottomline": len(bottom),
        "bottomline_joined": int(found.sum()),
        "bottomline_only": len(extra),
        "duplicates_removed": len(both) - len(out),
        "reviews": len(out),
        "old_scale": int(out["old_scale"].sum()),
    }
    log.info("coffeereview load_score_only: %s", stats)
    result = _finish(out, SCORE_ONLY_COLUMNS)
    result.attrs["load_stats"] = stats
    return result


def review_to_record(row: Any) -> TasteRecord:
    """One review (a row of :func:`load_reviews`) as a :class:`TasteRecord`.

    ``user`` is "coffeereview", the notes are the blind assessment (the bottom
    line for score-only rows). Attribute scores are clipped to 0-10, the Agtron
    reading (ground, else whole bean) kept only within 0-150, ``overall`` is
    ``rating / 10``. Missing values stay ``None``, never 0.
    """
    review_id = _cells.value(row, "review_id")
    when = _cells.value(row, "review_date")
    if review_id is None or when is None:
        raise DataError("a review row needs review_id and review_date; use load_reviews()")
    stamp = pd.Timestamp(when).to_pydatetime()
    notes = _cells.value(row, "blind_assessment") or _cells.value(row, "bottom_line") or ""
    agtron = _cells.number(row, "agtron_ground", 0, 150)
    if agtron is None:
        agtron = _cells.number(row, "agtron_whole", 0, 150)
    rating = _cells.number(row, "rating", 0, 100)
    metrics = Metrics(
        **{attr: _cells.number(row, attr, 0, 10, clip=True) for attr in SCORE_COLUMNS},
        roast_agtron=agtron,
        overall=None if rating is None else rating / 10,
    )
    return TasteRecord(
        id=str(review_id),
        user="coffeereview",
        coffee=None,
        timestamp=stamp,
        notes=str(notes)[:MAX_NOTES_CHARS],
        metrics=metrics,
    )
