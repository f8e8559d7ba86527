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

The same sentence in Korean (the seed's language), from the ``reasons`` that every
recommendation carries, so a client can show it in either language:

>>> reason_text_from({"families": ["Fruity", "Floral"], "salient_metrics": {"acidity": 1.4}}, "ko")
'밝은 산미, 과일향·꽃향'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "FAMILY_WORDS",
    "FAMILY_WORDS_KO",
    "LANGUAGES",
    "METRIC_WORDS",
    "METRIC_WORDS_KO",
    "MIN_SALIENCE",
    "SECOND_FAMILY_SHARE",
    "CoffeeFacts",
    "SimilarItem",
    "coffee_facts",
    "reason_text",
    "reason_text_from",
]

#: The languages :func:`reason_text` writes.
LANGUAGES = ("en", "ko")

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
#: The same in Korean.
FAMILY_WORDS_KO: dict[str, str] = {
    "Fruity": "과일향",
    "Sour/Fermented": "와인 같은 발효향",
    "Green/Vegetative": "풋풋한 허브향",
    "Other": "흙내음",
    "Roasted": "로스팅 향",
    "Spices": "향신료 향",
    "Nutty/Cocoa": "견과류·초콜릿 향",
    "Sweet": "캐러멜 같은 단맛",
    "Floral": "꽃향",
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
#: The same in Korean.
METRIC_WORDS_KO: dict[str, tuple[str, str]] = {
    "acidity": ("밝은 산미", "부드럽고 낮은 산미"),
    "sweetness": ("뚜렷한 단맛", "드라이하고 덜 단 맛"),
    "bitterness": ("강한 쓴맛", "낮은 쓴맛"),
    "body": ("묵직한 바디", "가볍고 차 같은 바디"),
    "aftertaste": ("긴 여운", "짧은 여운"),
    "balance": ("뛰어난 균형감", "개성 있는 균형감"),
    "aroma": ("풍부한 향", "은은한 향"),
    "flavor": ("선명한 풍미", "절제된 풍미"),
    "clean_cup": ("아주 깨끗한 컵", "투박한 컵"),
    "uniformity": ("한결같은 컵", "고르지 않은 컵"),
    "astringency": ("떫은 느낌", "매끄러운 질감"),
    "overall": ("높은 커핑 점수", "무난한 커핑 점수"),
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


def reason_text(facts: CoffeeFacts, similar: SimilarItem | None, lang: str = "en") -> str:
    """One sentence: the most salient metric, the families, and the similar coffee if any.

    ``lang`` is one of :data:`LANGUAGES`; anything else raises ``ValueError``.
    """
    if lang == "ko":
        return _reason_text_ko(facts, similar)
    if lang != "en":
        raise ValueError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
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


def _reason_text_ko(facts: CoffeeFacts, similar: SimilarItem | None) -> str:
    # Names of coffees are mostly not Korean, so no particle is attached to them (와/과
    # would depend on the name's last sound): "..., 비슷한 커피: X (내 별점 5)".
    text = "·".join(FAMILY_WORDS_KO.get(f, f) for f in facts.families)
    if facts.metrics:
        name, z = facts.metrics[0]
        high, low = METRIC_WORDS_KO.get(name, (f"높은 {name}", f"낮은 {name}"))
        text = f"{high if z > 0 else low}, {text}"
    if similar is not None:
        did = f"내 별점 {similar.rating}" if similar.rating is not None else "좋아요 한 커피"
        text += f" — 비슷한 커피: {similar.name} ({did})"
    return text


def reason_text_from(reasons: Mapping[str, Any], lang: str = "en") -> str:
    """:func:`reason_text` rebuilt from a recommendation's ``reasons`` (what the API returns).

    ``salient_metrics`` keeps its order, most salient first (a JSON object keeps the order
    it was written in). Unknown families or metrics are named as they are.
    """
    metrics = tuple(
        (str(k), float(v)) for k, v in dict(reasons.get("salient_metrics") or {}).items()
    )
    facts = CoffeeFacts(tuple(str(f) for f in reasons.get("families") or ()), metrics)
    similar: SimilarItem | None = None
    sim = reasons.get("similar_to")
    if isinstance(sim, Mapping):
        rating = sim.get("rating")
        similar = SimilarItem(
            str(sim.get("coffee_id", "")),
            str(sim.get("name", "")),
            float(sim.get("similarity", 0.0)),
            int(rating) if rating is not None else None,
        )
    return reason_text(facts, similar, lang)
