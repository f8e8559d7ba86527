"""The catalogue as the SIMULATED subscribers see it: a family vector and a sensory vector.

Each catalogue coffee becomes a :class:`SimulatedCoffee`:

- ``family``: the 9 flavour-wheel family shares of its notes (``Lexicon.family_distribution``
  over the roaster notes plus the descriptors), summing to 1, or all zeros when the lexicon
  finds no descriptor.
- ``sensory``: :data:`SENSORY_DIMS` in 0-10 points. The first five come from the coffee's
  metrics; ``darkness`` is derived from the Agtron roast colour (:func:`darkness_from_agtron`),
  else from the roast level label. A value the coffee lacks is the catalogue mean of that
  dimension (the scale midpoint 5 when no coffee in the catalogue has it).
- ``sensory_z``: ``sensory`` standardised within the catalogue (mean 0, one standard
  deviation = 1, the deviation floored at :data:`MIN_SCALE_POINTS`). Subscribers' ideal
  points live on this scale, so "likes bright coffees" means "above this catalogue's mean".

Only public catalogue information goes in here; subscribers' hidden tastes live in
:mod:`taste2vec.sim.subscribers.tastes`. Build a catalogue with :func:`catalogue_from_coffees`
(for instance the bundled :func:`~taste2vec.data.demo.load_demo_catalogue`) or
:func:`catalogue_from_reviews` (Coffee Review, deduplicated by roaster and name).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from taste2vec.data.coffeereview import review_to_record
from taste2vec.errors import DataError
from taste2vec.schema import Coffee, RoastLevel

__all__ = [
    "MIN_SCALE_POINTS",
    "SENSORY_DIMS",
    "FamilyLexicon",
    "SimCatalogue",
    "SimulatedCoffee",
    "catalogue_from_coffees",
    "catalogue_from_reviews",
    "darkness_from_agtron",
]

FloatArray = npt.NDArray[np.float64]

#: The sensory dimensions of a :class:`SimulatedCoffee`, all in 0-10 points.
SENSORY_DIMS: tuple[str, ...] = (
    "acidity",
    "sweetness",
    "bitterness",
    "body",
    "aftertaste",
    "darkness",
)
#: Floor of the per-dimension scale used to standardise, in points (no division by ~0).
MIN_SCALE_POINTS = 0.25
_MIDPOINT = 5.0
_ROAST_DARKNESS = {
    RoastLevel.LIGHT: 2.0,
    RoastLevel.MEDIUM_LIGHT: 3.5,
    RoastLevel.MEDIUM: 5.0,
    RoastLevel.MEDIUM_DARK: 7.0,
    RoastLevel.DARK: 8.5,
}


class FamilyLexicon(Protocol):
    """What the simulator needs from :class:`taste2vec.lexicon.Lexicon`."""

    @property
    def families(self) -> tuple[str, ...]: ...

    def family_distribution(self, text: str) -> npt.NDArray[Any]: ...


def darkness_from_agtron(agtron: float) -> float:
    """Roast darkness in 0-10 points: Agtron 100 (very light) is 0, Agtron 30 (very dark) 10."""
    return float(np.clip((100.0 - agtron) / 7.0, 0.0, 10.0))


@dataclass(frozen=True, eq=False)
class SimulatedCoffee:
    """One catalogue coffee as the simulator sees it (see the module docstring)."""

    id: str
    family: FloatArray
    sensory: FloatArray
    sensory_z: FloatArray


@dataclass(frozen=True, eq=False)
class SimCatalogue:
    """A catalogue for SIMULATED subscribers: the coffees and their simulator view, aligned."""

    name: str
    families: tuple[str, ...]
    coffees: tuple[Coffee, ...]
    items: tuple[SimulatedCoffee, ...]

    def __len__(self) -> int:
        return len(self.items)

    @functools.cached_property
    def ids(self) -> tuple[str, ...]:
        """Coffee ids in catalogue order."""
        return tuple(item.id for item in self.items)

    @functools.cached_property
    def family_matrix(self) -> FloatArray:
        """``(n coffees, n families)`` family shares (computed once; do not modify)."""
        return np.stack([item.family for item in self.items])

    @functools.cached_property
    def sensory_z_matrix(self) -> FloatArray:
        """``(n coffees, len(SENSORY_DIMS))`` standardised sensory values (computed once)."""
        return np.stack([item.sensory_z for item in self.items])


def _raw_sensory(coffee: Coffee) -> list[float]:
    """The coffee's sensory values in points, NaN where unknown."""
    m = coffee.metrics
    values = [getattr(m, dim) for dim in SENSORY_DIMS[:-1]]
    if m.roast_agtron is not None:
        dark: float | None = darkness_from_agtron(m.roast_agtron)
    else:
        dark = _ROAST_DARKNESS.get(coffee.roast_level) if coffee.roast_level else None
    values.append(dark)
    return [math.nan if v is None else float(v) for v in values]


def _notes_text(coffee: Coffee) -> str:
    return " ".join([coffee.roaster_notes, ", ".join(coffee.descriptors)]).strip()


def catalogue_from_coffees(
    coffees: Sequence[Coffee], lexicon: FamilyLexicon | None = None, name: str = "catalogue"
) -> SimCatalogue:
    """The simulator's view of ``coffees`` (ids must be unique; see the module docstring)."""
    if not coffees:
        raise DataError("a simulated catalogue needs at least one coffee")
    ids = [c.id for c in coffees]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"duplicate coffee id {dup!r} in the catalogue; deduplicate it first")
    if lexicon is None:
        from taste2vec.lexicon import load_lexicon

        lexicon = load_lexicon()
    raw = np.array([_raw_sensory(c) for c in coffees], dtype=np.float64)
    known = ~np.isnan(raw)
    counts = known.sum(axis=0)
    means = np.where(counts > 0, np.nansum(raw, axis=0) / np.maximum(counts, 1), _MIDPOINT)
    filled = np.where(known, raw, means)
    scale = np.maximum(filled.std(axis=0), MIN_SCALE_POINTS)
    z = (filled - filled.mean(axis=0)) / scale
    n_fam = len(lexicon.families)
    items = []
    for i, coffee in enumerate(coffees):
        family = np.asarray(lexicon.family_distribution(_notes_text(coffee)), dtype=np.float64)
        if family.shape != (n_fam,):
            raise DataError(f"lexicon returned {family.shape} family shares, expected {n_fam}")
        items.append(SimulatedCoffee(coffee.id, family, filled[i].copy(), z[i].copy()))
    return SimCatalogue(name, tuple(lexicon.families), tuple(coffees), tuple(items))


def _key(text: object) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", str(text).lower()).split())


def _review_coffee(row: Any) -> Coffee:
    record = review_to_record(row)
    roast = row.get("roast_level")
    country = row.get("origin_country")
    return Coffee(
        id=record.id,
        name=str(row["name"])[:200] if isinstance(row["name"], str) else record.id,
        roaster=str(row["roaster"])[:200] if isinstance(row["roaster"], str) else "",
        origin_country=country[:100] if isinstance(country, str) else None,
        roast_level=RoastLevel(roast) if isinstance(roast, str) else None,
        roaster_notes=record.notes,
        metrics=record.metrics,
    )


def catalogue_from_reviews(
    reviews: pd.DataFrame, lexicon: FamilyLexicon | None = None, name: str = "Coffee Review"
) -> SimCatalogue:
    """A catalogue from :func:`~taste2vec.data.coffeereview.load_reviews` output.

    One coffee per (roaster, name), normalised for case and punctuation: the latest
    review wins. Notes are the blind assessment; the five attribute scores, the Agtron
    reading and ``rating / 10`` become the coffee's metrics (sweetness and bitterness are
    not published, so they take the midpoint and play no part in the ranking).
    """
    if reviews.empty:
        raise DataError("no reviews to build a catalogue from; check load_reviews(data_dir)")
    key = reviews["roaster"].map(_key) + "|" + reviews["name"].map(_key)
    latest = reviews.assign(_key=key).drop_duplicates("_key", keep="last")
    coffees = [_review_coffee(row) for _, row in latest.iterrows()]
    return catalogue_from_coffees(coffees, lexicon, name)
