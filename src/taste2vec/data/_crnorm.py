"""Column normalisers shared by the Coffee Review loaders (see :mod:`.coffeereview`)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from taste2vec.data._countries import parse_origin_country

#: The 1-10 attribute scores, in Coffee Review's order.
SCORE_COLUMNS: tuple[str, ...] = ("aroma", "acidity", "body", "flavor", "aftertaste")
#: Agtron readings outside (0, 150] are not readings ("0/29" means "whole bean not measured").
AGTRON_MAX = 150.0
ROAST_LEVELS: tuple[str, ...] = ("light", "medium-light", "medium", "medium-dark", "dark")
_ROAST_ALIASES = {"very dark": "dark", "medium light": "medium-light", "medium dark": "medium-dark"}
_SITE_PREFIX = re.compile(r"^https?://(?:www\.)?coffeereview\.com/review/", re.IGNORECASE)
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._:@\-]+")
_ONE_NUMBER = r"^[^\d]*?(\d+(?:\.\d+)?)[^\d]*$"


def norm_key(value: object) -> str:
    """Accent-, case- and punctuation-free form of a name, for joining files."""
    if not isinstance(value, str):
        return ""
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def strings(series: pd.Series[Any]) -> pd.Series[str]:
    """Text cells with whitespace runs collapsed; empty, "NA", "N/A", "—" and the like -> NaN."""
    text = series.astype("string").str.replace(r"\s+", " ", regex=True).str.strip()
    text = text.mask(text.str.fullmatch(r"(?i)|na|n/a|nan|none|null|[-–—]+", na=False))
    return text.astype(object).where(text.notna(), np.nan)


def month(series: pd.Series[Any]) -> pd.Series[pd.Timestamp]:
    """Parse "November 2017" or "Nov 2022" (first of the month, naive); NaT when neither."""
    text = series.astype("string").str.strip().str.replace(r"^Sept\b", "Sep", regex=True)
    full = pd.to_datetime(text, format="%B %Y", errors="coerce")
    short = pd.to_datetime(text, format="%b %Y", errors="coerce")
    return full.fillna(short)


def score(series: pd.Series[Any], high: float = 10.0) -> pd.Series[float]:
    """A score from text holding one number ("9", "7.4", "Flavor in milk: 5"); NaN otherwise.

    Values outside ``0..high`` are treated as garbage and become NaN.
    """
    number = series.astype("string").str.extract(_ONE_NUMBER, expand=False)
    values = pd.to_numeric(number, errors="coerce").astype(float)
    return values.where((values >= 0) & (values <= high))


def agtron(series: pd.Series[Any]) -> tuple[pd.Series[float], pd.Series[float]]:
    """Split "57/77" into (whole bean, ground) readings.

    A lone number is taken as the ground reading (the roast-colour convention).
    "NA", "—", empty halves, text and readings outside (0, 150] become NaN.
    """
    text = series.astype("string").str.strip()
    parts = text.str.split("/", n=1, expand=True, regex=False)
    if parts.shape[1] == 1:
        parts[1] = pd.NA
    lone = parts[1].isna()
    whole_text = parts[0].where(~lone)
    ground_text = parts[1].where(~lone, parts[0])

    def reading(cells: pd.Series[Any]) -> pd.Series[float]:
        number = cells.astype("string").str.extract(r"^\s*(\d+(?:\.\d+)?)\s*$", expand=False)
        values = pd.to_numeric(number, errors="coerce").astype(float)
        return values.where((values > 0) & (values <= AGTRON_MAX))

    whole = reading(whole_text)
    ground = reading(ground_text)
    return whole.set_axis(series.index), ground.set_axis(series.index)


def roast_level(series: pd.Series[Any]) -> pd.Series[str]:
    """Lower-case roast names on the five-step scale ("Very Dark" -> "dark"); NaN otherwise."""
    text = series.astype("string").str.strip().str.lower().str.replace(r"\s+", " ", regex=True)
    text = text.replace(_ROAST_ALIASES)
    text = text.str.replace(" ", "-", regex=False)
    return text.where(text.isin(ROAST_LEVELS)).astype(object).where(lambda s: s.notna(), np.nan)


def origin_country(series: pd.Series[Any]) -> pd.Series[Any]:
    """Country parsed from each origin string (see :func:`parse_origin_country`)."""
    return series.map(parse_origin_country).astype(object).where(lambda s: s.notna(), np.nan)


def review_ids(urls: pd.Series[Any], keys: pd.Series[Any]) -> pd.Series[str]:
    """Stable ids: ``cr:<url slug>`` when a review url is known, else ``cr:h-<hash of key>``."""
    slug = urls.astype("string").str.replace(_SITE_PREFIX, "", regex=True).str.strip("/")
    slug = slug.str.replace(_ID_UNSAFE, "-", regex=True).str.strip("-")
    by_url = ("cr:" + slug).where(slug.str.len().between(1, 120))
    by_key = keys.map(lambda k: "cr:h-" + hashlib.sha256(str(k).encode()).hexdigest()[:16])
    return by_url.astype(object).where(by_url.notna(), by_key)


def real_url(series: pd.Series[Any]) -> pd.Series[Any]:
    """The url when it names one review; NaN for the bare listing url some scrapes hold."""
    text = strings(series)
    slug = text.astype("string").str.replace(_SITE_PREFIX, "", regex=True).str.strip("/")
    return text.where(slug.str.len() > 0)
