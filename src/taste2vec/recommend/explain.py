"""Readable reasons for a recommendation: flavour families and salient sensory metrics.

Each catalogue coffee gets a :class:`CoffeeFacts` once, when the engine builds its snapshot:

- **families**: its top one or two flavour families. From the lexicon's reading of the
  coffee's own notes and descriptors when it finds any (what the roaster wrote), else from
  the model's family head. A second family is kept only when it carries at least
  :data:`SECOND_FAMILY_SHARE` of the first one's weight.
- **salient metrics**: the two or three sensory metrics that set the coffee apart from the
  rest of the catalogue, by ``|value - catalogue mean| / catalogue std`` with at least
  :data:`MIN_SALIENCE` standard deviations. Values are the coffee's own metrics where the
  roaster gave them, else the model's sensory head.

:func:`reason_text` turns them into a sentence such as "bright acidity with fruity and
floral notes, like the Konga Washed Yirgacheffe you rated 5".

>>> reason_text(CoffeeFacts(("Fruity", "Floral"), (("acidity", 1.4),)), None)
'bright acidity with fruity and floral notes'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "FAMILY_WORDS",
    "METRIC_WORDS",
    "MIN_SALIENCE",
    "SECOND_FAMILY_SHARE",
    "CoffeeFacts",
    "SimilarItem",
    "coffee_facts",
    "reason_text",
]

#: Plain words for each tier-1 flavour family of the wheel.
FAMILY_WORDS: dict[str, str] = {
    "Fruity": "fruity",
    "Sour/Fermented": "winey, fermented",
    "Green/Vegetative": "green, herbal",
    "Other": "earthy",
    "Roasted": "roasty",
    "Spices": "spicy",
    "Nutty/Cocoa": "nutty, chocolatey",
    "Sweet": "caramel-sweet",
    "Floral": "floral",
}
#: ``metric -> (phrase when high, phrase when low)``.
METRIC_WORDS: dict[str, tuple[str, str]] = {
    "acidity": ("bright acidity", "mellow, low acidity"),
    "sweetness": ("pronounced sweetness", "dry, less sweet profile"),
    "bitterness": ("bold bitterness", "low bitterness"),
    "body": ("full body", "light, tea-like body"),
    "aftertaste": ("long finish", "short finish"),
    "balance": ("great balance", "edgy balance"),
    "aroma": ("intense aroma", "subtle aroma"),
    "flavor": ("vivid flavour", "muted flavour"),
    "clean_cup": ("very clean cup", "rustic cup"),
    "uniformity": ("consistent cups", "uneven cups"),
    "astringency": ("drying astringency", "smooth texture"),
    "overall": ("high cupping score", "modest cupping score"),
}
#: A metric is salient when it is at least this many catalogue standard deviations from
#: the catalogue mean.
MIN_SALIENCE = 0.5
#: A second family is named when its weight is at least this share of the first's.
SECOND_FAMILY_SHARE = 0.5


@dataclass(frozen=True)
class CoffeeFacts:
    """Why a coffee tastes as it does: top families, and salient metrics as (name, z-score)."""

    families: tuple[str, ...]
    metrics: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class SimilarItem:
    """The closest coffee in the user's positive history, for "like the ... you liked"."""

    coffee_id: str
    name: str
    similarity: float
    rating: int | None  # set when the user rated it; otherwise they liked it


def _top_families(weights: npt.NDArray[np.float64], families: Sequence[str]) -> tuple[str, ...]:
    order = np.lexsort((np.arange(len(weights)), -weights))
    first = int(order[0])
    out = [families[first]]
    if len(order) > 1 and weights[order[1]] >= SECOND_FAMILY_SHARE * weights[first] > 0:
        out.append(families[int(order[1])])
    return tuple(out)


def coffee_facts(
    lexicon_families: npt.NDArray[np.float64],
    head_families: npt.NDArray[np.float64],
    sensory: npt.NDArray[np.float64],
    families: Sequence[str],
    metrics: Sequence[str],
) -> list[CoffeeFacts]:
    """One :class:`CoffeeFacts` per row (see the module docstring).

    ``lexicon_families`` (n, families): the lexicon's family shares (zeros: none found);
    ``head_families`` (n, families): the family head's probabilities; ``sensory`` (n,
    metrics): sensory values in points (own metrics where known, else the head's).
    """
    mean = sensory.mean(axis=0)
    std = np.maximum(sensory.std(axis=0), 1e-6)
    z = (sensory - mean) / std
    out = []
    for i in range(len(sensory)):
        fam_w = lexicon_families[i] if lexicon_families[i].sum() > 0 else head_families[i]
        order = np.lexsort((np.arange(len(metrics)), -np.abs(z[i])))
        salient = tuple(
            (metrics[j], round(float(z[i, j]), 2))
            for j in order[:3]
            if abs(z[i, j]) >= MIN_SALIENCE
        )
        out.append(CoffeeFacts(_top_families(np.asarray(fam_w, float), families), salient))
    return out


def reason_text(facts: CoffeeFacts, similar: SimilarItem | None) -> str:
    """One sentence: the most salient metric, the families, and the similar coffee if any."""
    fams = " and ".join(FAMILY_WORDS.get(f, f.lower()) for f in facts.families)
    text = f"{fams} notes"
    if facts.metrics:
        name, z = facts.metrics[0]
        high, low = METRIC_WORDS.get(name, (f"high {name}", f"low {name}"))
        text = f"{high if z > 0 else low} with {text}"
    if similar is not None:
        did = f"rated {similar.rating}" if similar.rating is not None else "liked"
        text += f", like the {similar.name} you {did}"
    return text
