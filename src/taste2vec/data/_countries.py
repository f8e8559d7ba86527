"""A curated list of coffee-growing countries and a parser for free-text origins.

Canonical names follow the CQI data where the two overlap ("United States
(Hawaii)", "Papua New Guinea", "Côte d'Ivoire"). Each country has aliases:
the country's own names plus a few regions that only ever mean one country
(Sumatra, Yirgacheffe, Kona, ...). Matching is case- and accent-insensitive,
on whole words, longest alias first, so "Papua New Guinea" never also counts
as Indonesian "Papua".

>>> parse_origin_country("Nyeri growing region, south-central Kenya")
'Kenya'
>>> parse_origin_country("Colombia; Ethiopia")
'Blend'
>>> parse_origin_country("Not disclosed.") is None
True
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

BLEND = "Blend"

#: canonical name -> extra aliases (the lower-cased canonical name is always one)
COFFEE_COUNTRIES: dict[str, tuple[str, ...]] = {
    "Angola": (),
    "Australia": (),
    "Bolivia": ("bolivian",),
    "Brazil": ("brasil", "brazilian", "minas gerais"),
    "Burundi": (),
    "Cameroon": (),
    "China": ("yunnan", "chinese"),
    "Colombia": ("colombian",),
    "Costa Rica": ("tarrazu",),
    "Côte d'Ivoire": ("cote d'ivoire", "cote d?ivoire", "ivory coast"),
    "Cuba": (),
    "Democratic Republic of the Congo": (
        "democratic republic of the congo",
        "democratic republic of congo",
        "drc",
        "congo",
        "kivu",
    ),
    "Dominican Republic": (),
    "Ecuador": ("galapagos",),
    "El Salvador": ("apaneca",),
    "Ethiopia": (
        "ethiopian",
        "yirgacheffe",
        "yirgachefe",
        "sidamo",
        "sidama",
        "guji",
        "gedeo",
        "gedeb",
        "harrar",
    ),
    "Guatemala": ("guatemalan", "huehuetenango"),
    "Haiti": (),
    "Honduras": (),
    "India": ("indian", "karnataka", "chikmagalur"),
    "Indonesia": ("sumatra", "java", "sulawesi", "bali", "flores", "aceh", "papua"),
    "Jamaica": ("jamaican",),
    "Japan": ("okinawa",),
    "Kenya": ("kenyan",),
    "Laos": ("lao pdr",),
    "Madagascar": (),
    "Malawi": (),
    "Malaysia": (),
    "Mauritius": (),
    "Mexico": ("mexican", "chiapas", "oaxaca", "veracruz"),
    "Myanmar": ("burma",),
    "Nepal": (),
    "Nicaragua": (),
    "Panama": ("boquete",),
    "Papua New Guinea": ("new guinea", "png"),
    "Peru": ("peruvian",),
    "Philippines": ("philippine",),
    "Rwanda": (),
    "Saint Helena": ("st. helena", "st helena"),
    "South Africa": ("kwazulu-natal",),
    "Sri Lanka": (),
    "Taiwan": (),
    "Tanzania": ("tanzania, united republic of", "kilimanjaro"),
    "Thailand": ("thai",),
    "Timor-Leste": ("east timor", "timor"),
    "Uganda": (),
    "United States": ("usa", "u.s.a.", "california"),
    "United States (Hawaii)": ("hawaii", "hawai'i", "hawaiian", "kona", "ka'u", "kau", "maui"),
    "United States (Puerto Rico)": ("puerto rico",),
    "Venezuela": (),
    "Vietnam": ("viet nam",),
    "Yemen": ("yemeni", "sana'a", "sanaa"),
    "Zambia": (),
    "Zimbabwe": (),
}

_QUOTES = str.maketrans({"’": "'", "‘": "'", "ʻ": "'", "`": "'", "´": "'"})


def _fold(text: str) -> str:
    """Lower-case, accents stripped, typographic apostrophes made plain."""
    text = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


@lru_cache(maxsize=1)
def _matcher() -> tuple[re.Pattern[str], dict[str, str]]:
    alias_to_country: dict[str, str] = {}
    for country, aliases in COFFEE_COUNTRIES.items():
        for alias in (country, *aliases):
            alias_to_country[_fold(alias)] = country
    ordered = sorted(alias_to_country, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w'])(" + "|".join(re.escape(a) for a in ordered) + r")(?![\w'])")
    return pattern, alias_to_country


def countries_in(text: str) -> list[str]:
    """Every coffee country named in ``text``, in order of first mention, without repeats."""
    pattern, alias_to_country = _matcher()
    found: list[str] = []
    for match in pattern.finditer(_fold(text)):
        country = alias_to_country[match.group(1)]
        if country not in found:
            found.append(country)
    # "Kona, Hawaii, USA" names one place, not a blend of two.
    if "United States" in found and any(c.startswith("United States (") for c in found):
        found.remove("United States")
    return found


def parse_origin_country(text: object) -> str | None:
    """The single country an origin string names, ``"Blend"`` for several, else ``None``."""
    if not isinstance(text, str) or not text.strip():
        return None
    found = countries_in(text)
    if not found:
        return None
    return found[0] if len(found) == 1 else BLEND


def canonical_country(name: object) -> str | None:
    """A country column value (e.g. CQI's) mapped onto the canonical names, else kept as is."""
    if not isinstance(name, str) or not name.strip():
        return None
    folded = _fold(name.strip())
    for country, aliases in COFFEE_COUNTRIES.items():
        if folded == _fold(country) or folded in (_fold(a) for a in aliases):
            return country
    parsed = parse_origin_country(name)
    return parsed if parsed not in (None, BLEND) else name.strip()
