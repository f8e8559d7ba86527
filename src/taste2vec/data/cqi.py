"""Coffee Quality Institute (CQI) cupping records, 2018 and 2023, on one vocabulary.

Sources (MIT; copies with their licences ship in ``taste2vec/data/bundled/cqi``,
see ``NOTICE.md`` there):

- ``2018_arabica_data_cleaned.csv`` and ``2018_robusta_data_cleaned.csv`` from
  jldbc/coffee-quality-database (© 2018 James LeDoux): dotted column names.
- ``2023_arabica_clean.csv`` from fatih-boyar/coffee-quality-data-CQI
  (© 2023 Fatih Boyar): spaced column names, ``Overall`` for ``Cupper.Points``.

The robusta form (Fine Robusta) names its attributes differently; we map them:

=====================  ============  =========================================
robusta column         unified       why
=====================  ============  =========================================
Fragrance...Aroma      aroma         the same dry/wet aroma attribute
Salt...Acid            acidity       the acid side of the salt/acid balance
Bitter...Sweet         sweetness     the sweet side of the bitter/sweet balance
Mouthfeel              body          robusta's name for body
Uniform.Cup            uniformity    same attribute, other name
Clean.Cup              clean_cup     same
Balance                balance       same
Cupper.Points          overall       the cupper's overall score
=====================  ============  =========================================

Unified columns: ``cqi_id`` (``cqi:<file tag>:<row number>``), ``source``
(file name), ``species`` (arabica / robusta), ``country`` (canonical name),
``region``, ``variety`` (raw; "unknown" -> NaN), ``process`` (washed, natural,
honey, anaerobic, wet-hulled, other or NaN; see :func:`normalise_process`),
``altitude_m`` (mean of the stated range in metres, feet converted; NaN outside
:data:`ALTITUDE_RANGE_M`), the ten sensory scores ``aroma, flavor, aftertaste,
acidity, body, balance, uniformity, clean_cup, sweetness, overall`` (0-10),
``total_cup_points`` (0-100), ``moisture`` (percent of green-bean weight; the
2018 files store a fraction, 0 means "not measured" -> NaN) and
``grading_date``. Broken rows (total 0, or all ten scores 0 or missing) are
dropped; the counts per file are logged and kept in ``frame.attrs["dropped"]``.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from taste2vec.data import _cells
from taste2vec.data._countries import canonical_country
from taste2vec.data._paths import dataset_dir, read_csv, require_columns, require_file
from taste2vec.errors import DataError
from taste2vec.schema.records import Metrics, TasteRecord

log = logging.getLogger(__name__)

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled" / "cqi"
SENSORY: tuple[str, ...] = (
    "aroma", "flavor", "aftertaste", "acidity", "body",
    "balance", "uniformity", "clean_cup", "sweetness", "overall",
)  # fmt: skip
CQI_COLUMNS: tuple[str, ...] = (
    "cqi_id", "source", "species", "country", "region", "variety", "process", "altitude_m",
    *SENSORY, "total_cup_points", "moisture", "grading_date",
)  # fmt: skip
#: Altitudes outside this range are data-entry errors ("1.2" read as 12 m, 190,164 m,
#: feet typed as metres); arabica is not farmed above about 3,000 m.
ALTITUDE_RANGE_M = (30.0, 3000.0)
FEET_PER_METRE = 3.28084
_FEET = re.compile(r"(?i)(?<![a-z])(?:ft|feet|pies)(?![a-z])|\d\s*'")

_SHARED = {"country": "Country.of.Origin", "region": "Region", "variety": "Variety"}
_2018 = {
    **_SHARED,
    "row": "Unnamed: 0", "process": "Processing.Method", "altitude": "Altitude",
    "altitude_mean": "altitude_mean_meters", "unit": "unit_of_measurement",
    "flavor": "Flavor", "aftertaste": "Aftertaste", "clean_cup": "Clean.Cup",
    "balance": "Balance", "overall": "Cupper.Points", "total_cup_points": "Total.Cup.Points",
    "moisture": "Moisture", "grading_date": "Grading.Date",
}  # fmt: skip
SOURCES: dict[str, tuple[str, str, dict[str, str]]] = {
    "2018_arabica_data_cleaned.csv": ("2018-arabica", "arabica", {
        **_2018, "aroma": "Aroma", "acidity": "Acidity", "body": "Body",
        "uniformity": "Uniformity", "sweetness": "Sweetness",
    }),
    "2018_robusta_data_cleaned.csv": ("2018-robusta", "robusta", {
        **_2018, "aroma": "Fragrance...Aroma", "acidity": "Salt...Acid", "body": "Mouthfeel",
        "uniformity": "Uniform.Cup", "sweetness": "Bitter...Sweet",
    }),
    "2023_arabica_clean.csv": ("2023-arabica", "arabica", {
        "row": "ID", "country": "Country of Origin", "region": "Region", "variety": "Variety",
        "process": "Processing Method", "altitude": "Altitude", "aroma": "Aroma",
        "flavor": "Flavor", "aftertaste": "Aftertaste", "acidity": "Acidity", "body": "Body",
        "balance": "Balance", "uniformity": "Uniformity", "clean_cup": "Clean Cup",
        "sweetness": "Sweetness", "overall": "Overall", "total_cup_points": "Total Cup Points",
        "moisture": "Moisture Percentage", "grading_date": "Grading Date",
    }),
}  # fmt: skip
_LATIN_END = 0x024F  # last code point of Latin Extended-B
_OPTIONAL = {"region", "variety", "process", "altitude", "altitude_mean", "unit", "moisture"}


def normalise_process(method: object, country: object = None) -> str | None:
    """Map a free-text processing method onto the :class:`~taste2vec.schema.records.Process` names.

    Checked in order: anaerobic / carbonic maceration -> anaerobic; wet-hulled
    (giling basah) -> wet-hulled; honey / pulped natural -> honey; semi-washed /
    semi-pulped -> wet-hulled in Indonesia (where it names giling basah), honey
    elsewhere (Brazil's pulped natural); natural / dry -> natural; washed / wet
    / lavado -> washed; anything else -> other; empty -> None.
    """
    if not isinstance(method, str) or not method.strip():
        return None
    text = method.lower()
    if "anaerob" in text or "carbonic" in text:
        return "anaerobic"
    if "hull" in text or "giling" in text:
        return "wet-hulled"
    if "honey" in text or "pulped natural" in text:
        return "honey"
    if "semi" in text:
        return "wet-hulled" if country == "Indonesia" else "honey"
    if "natural" in text or "dry" in text:
        return "natural"
    if "wash" in text or "wet" in text or "lavado" in text:
        return "washed"
    return "other"


def _altitude_from_text(text: object) -> float:
    """Mean of the (up to two) numbers in an altitude string, in metres; NaN if none."""
    if not isinstance(text, str):
        return math.nan
    numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", text.replace(",", ""))[:2]]
    if not numbers:
        return math.nan
    value = sum(numbers) / len(numbers)
    return value / FEET_PER_METRE if _FEET.search(text) else value


def _plausible_altitude(values: pd.Series[float]) -> pd.Series[float]:
    low, high = ALTITUDE_RANGE_M
    return values.where((values >= low) & (values <= high))


def _grading_date(series: pd.Series[Any]) -> pd.Series[pd.Timestamp]:
    text = series.astype("string").str.replace(r"(\d+)(?:st|nd|rd|th)\b", r"\1", regex=True)
    return pd.to_datetime(text.str.strip(), format="%B %d, %Y", errors="coerce")


def _text(series: pd.Series[Any]) -> pd.Series[Any]:
    text = series.astype("string").str.strip()
    text = text.mask(text.str.fullmatch(r"(?i)|unknown?|nan|none|n/a|-+", na=False))
    return text.astype(object).where(text.notna(), np.nan)


def _normalise(raw: pd.DataFrame, filename: str, path: Path) -> pd.DataFrame:
    tag, species, names = SOURCES[filename]
    require_columns(raw, [v for k, v in names.items() if k not in _OPTIONAL], path)

    def col(role: str) -> pd.Series[Any]:
        name = names.get(role)
        if name is None or name not in raw.columns:
            return pd.Series(np.nan, index=raw.index, dtype=object)
        return raw[name]

    out = pd.DataFrame(index=raw.index)
    out["cqi_id"] = f"cqi:{tag}:" + col("row").astype("string")
    out["source"] = filename
    out["species"] = species
    out["country"] = col("country").map(canonical_country).astype(object)
    out["region"] = _text(col("region"))
    out["variety"] = _text(col("variety"))
    out["process"] = [
        normalise_process(m, c) for m, c in zip(col("process"), out["country"], strict=True)
    ]
    out["process"] = out["process"].astype(object).where(out["process"].notna(), np.nan)
    from_text = col("altitude").map(_altitude_from_text).astype(float)
    if "altitude_mean" in names:
        # The 2018 files converted feet when unit_of_measurement says so, but not a
        # "3000'" or "1400ft" typed into a row marked "m".
        mean = pd.to_numeric(col("altitude_mean"), errors="coerce").astype(float)
        typed_feet = col("altitude").astype("string").str.contains(_FEET, na=False)
        in_metres = col("unit").astype("string").str.strip().str.lower().eq("m").fillna(True)
        from_text = mean.where(~(typed_feet & in_metres), mean / FEET_PER_METRE)
    out["altitude_m"] = _plausible_altitude(from_text).round(1)
    for score in (*SENSORY, "total_cup_points"):
        out[score] = pd.to_numeric(col(score), errors="coerce").astype(float)
    moisture = pd.to_numeric(col("moisture"), errors="coerce").astype(float)
    if tag.startswith("2018"):
        moisture = moisture * 100
    out["moisture"] = moisture.where(moisture > 0).round(2)
    out["grading_date"] = _grading_date(col("grading_date"))
    return out


def _broken(frame: pd.DataFrame) -> pd.Series[bool]:
    scores = frame[list(SENSORY)]
    all_zero = (scores.fillna(0) == 0).all(axis=1)
    return (frame["total_cup_points"] == 0) | all_zero


def load_cqi(data_dir: Path | str | None = None) -> pd.DataFrame:
    """All three CQI files on one vocabulary (see the module docstring).

    ``data_dir`` is the datasets folder (holding ``cqi/``) or the ``cqi`` folder
    itself; ``None`` (the default) reads the copy bundled with the package.
    """
    folder = BUNDLED_DIR if data_dir is None else dataset_dir(data_dir, "cqi", next(iter(SOURCES)))
    if not folder.is_dir():
        raise DataError(f"CQI folder {folder} is missing; reinstall taste2vec or pass data_dir")
    frames: list[pd.DataFrame] = []
    dropped: dict[str, int] = {}
    for filename in SOURCES:
        path = require_file(folder, filename)
        frame = _normalise(read_csv(path), filename, path)
        broken = _broken(frame)
        dropped[filename] = int(broken.sum())
        log.info(
            "%s: %d rows kept, %d broken rows dropped", filename, (~broken).sum(), broken.sum()
        )
        frames.append(frame[~broken])
    result = pd.concat(frames, ignore_index=True).loc[:, list(CQI_COLUMNS)]
    for name in ("cqi_id", "source", "species", "country", "region", "variety", "process"):
        result[name] = result[name].astype(object).where(result[name].notna(), np.nan)
    result.attrs["dropped"] = dropped
    return result


def describe(row: Any) -> str:
    """A short English sentence about a CQI lot, e.g. "Washed Caturra from Huila, Colombia."."""
    process = _cells.value(row, "process")
    variety = _cells.value(row, "variety")
    if variety is not None and str(variety).lower() == "other":
        variety = None
    what = " ".join(
        str(part)
        for part in (
            process if process != "other" else None,
            variety or _cells.value(row, "species"),
        )
        if part
    )
    what = (what or "coffee")[:1].upper() + (what or "coffee")[1:]
    region = _cells.value(row, "region")
    if isinstance(region, str) and any(ord(ch) > _LATIN_END for ch in region):
        region = None  # keep the sentence in Latin script (e.g. "新竹縣" is dropped)
    elif isinstance(region, str) and region.islower():
        region = region.title()
    place = ", ".join(str(p)[:80] for p in (region, _cells.value(row, "country")) if p)
    sentence = f"{what} from {place}" if place else what
    altitude = _cells.value(row, "altitude_m")
    if altitude is not None:
        sentence += f", grown at {float(altitude):,.0f} m"
    return sentence + "."


def cqi_to_record(row: Any) -> TasteRecord:
    """One CQI row (from :func:`load_cqi`) as a :class:`TasteRecord` by user "cqi".

    The notes are :func:`describe`'s metadata sentence (CQI has no tasting text);
    the ten sensory scores are already on 0-10. The timestamp is the grading date.
    """
    cqi_id, graded = _cells.value(row, "cqi_id"), _cells.value(row, "grading_date")
    if cqi_id is None or graded is None:
        raise DataError("a CQI row needs cqi_id and grading_date; use load_cqi()")
    scores: dict[str, float | None] = {}
    for name in SENSORY:
        value = _cells.value(row, name)
        scores[name] = float(value) if value is not None and 0 <= float(value) <= 10 else None
    return TasteRecord(
        id=str(cqi_id),
        user="cqi",
        coffee=None,
        timestamp=pd.Timestamp(graded).to_pydatetime(),
        notes=describe(row),
        metrics=Metrics(**scores),
    )
