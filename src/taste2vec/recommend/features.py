"""Item features for the per-user linear taste model: everything the catalogue says.

One row per catalogue coffee, built once per engine snapshot (:func:`item_features`).
Columns, each standardised within the catalogue (mean 0, standard deviation 1; constant
columns are dropped) except the leading intercept:

- ``bias``: 1 (the user's overall generosity; absorbs rating bias);
- ``fam:<family>``: the lexicon's flavour-family shares of the coffee's notes, or the
  model's family head when the lexicon finds no descriptor;
- ``m:<metric>``: sensory metrics (:data:`FEATURE_METRICS`) in points, the coffee's own
  where the roaster gave them, else the model's sensory head (predicted from the notes);
  ``m:darkness`` from the Agtron roast colour, else the roast level label;
- ``sq:<metric>``: the square of each standardised metric. A linear model over ``[z, z^2]``
  can express an *ideal point* ("likes medium acidity": ``-(z - ideal)^2``), which a model
  linear in ``z`` alone cannot;
- ``roast:<level>``, ``process:<method>``, ``origin:<country>``: one-hot (countries with at
  least :data:`MIN_ORIGIN_COUNT` coffees, at most :data:`MAX_ORIGINS`);
- ``t2v:<i>``: the first :data:`TASTE_COMPONENTS` principal components of the Taste2Vec
  taste vectors (whatever 128-d vector the model produces).

:func:`archetype_coffees` picks the onboarding coffees from the same structured view.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from taste2vec.schema import SENSORY_METRICS, Coffee, Process, RoastLevel

__all__ = [
    "FEATURE_METRICS",
    "MAX_ORIGINS",
    "MIN_ORIGIN_COUNT",
    "TASTE_COMPONENTS",
    "ItemFeatures",
    "archetype_coffees",
    "darkness",
    "item_features",
]

FloatArray = npt.NDArray[np.float64]
#: Sensory metrics that become features (all on the 0-10 scale).
FEATURE_METRICS: tuple[str, ...] = (
    "acidity",
    "sweetness",
    "bitterness",
    "body",
    "aftertaste",
    "balance",
    "aroma",
    "flavor",
    "overall",
)
TASTE_COMPONENTS = 16
MIN_ORIGIN_COUNT = 3
MAX_ORIGINS = 15
_ROAST_DARKNESS = {
    RoastLevel.LIGHT: 2.0,
    RoastLevel.MEDIUM_LIGHT: 3.5,
    RoastLevel.MEDIUM: 5.0,
    RoastLevel.MEDIUM_DARK: 7.0,
    RoastLevel.DARK: 8.5,
}


@dataclass(frozen=True, eq=False)
class ItemFeatures:
    """``matrix`` (n coffees, d) and the name of each column (``names[0] == "bias"``)."""

    matrix: FloatArray
    names: tuple[str, ...]

    def columns(self, prefix: str) -> list[int]:
        """Indices of the columns whose name starts with ``prefix``."""
        return [i for i, n in enumerate(self.names) if n.startswith(prefix)]


def darkness(coffee: Coffee) -> float | None:
    """Roast darkness in 0-10 points: from Agtron (100 -> 0, 30 -> 10), else the label."""
    agtron = coffee.metrics.roast_agtron
    if agtron is not None:
        return float(np.clip((100.0 - agtron) / 7.0, 0.0, 10.0))
    return _ROAST_DARKNESS.get(coffee.roast_level) if coffee.roast_level else None


def _metric_block(coffees: Sequence[Coffee], head_sensory: FloatArray | None) -> FloatArray:
    """(n, len(FEATURE_METRICS) + 1) points: own, else head, else the column mean."""
    n = len(coffees)
    out = np.full((n, len(FEATURE_METRICS) + 1), np.nan)
    for i, coffee in enumerate(coffees):
        for j, name in enumerate(FEATURE_METRICS):
            own = getattr(coffee.metrics, name)
            if own is not None:
                out[i, j] = own
            elif head_sensory is not None:
                out[i, j] = head_sensory[i, SENSORY_METRICS.index(name)]
        dark = darkness(coffee)
        if dark is not None:
            out[i, -1] = dark
    known = ~np.isnan(out)
    counts = known.sum(axis=0)
    means = np.where(counts > 0, np.nansum(out, axis=0) / np.maximum(counts, 1), 5.0)
    return np.where(known, out, means)


def _standardise(block: FloatArray) -> FloatArray:
    std = block.std(axis=0)
    keep = std > 1e-9
    return np.asarray((block[:, keep] - block[:, keep].mean(axis=0)) / std[keep], dtype=np.float64)


def _one_hot(values: Sequence[str | None], levels: Sequence[str]) -> FloatArray:
    col = {v: j for j, v in enumerate(levels)}
    out = np.zeros((len(values), len(levels)))
    for i, v in enumerate(values):
        if v is not None and v in col:
            out[i, col[v]] = 1.0
    return out


def item_features(
    coffees: Sequence[Coffee],
    taste: FloatArray,
    lexicon_families: FloatArray,
    head_families: FloatArray,
    head_sensory: FloatArray | None,
    families: Sequence[str],
) -> ItemFeatures:
    """The feature matrix of ``coffees`` (see the module docstring)."""
    n = len(coffees)
    blocks: list[tuple[str, FloatArray, list[str]]] = []
    fam = np.where(lexicon_families.sum(axis=1, keepdims=True) > 0, lexicon_families, 0.0)
    head = head_families / np.maximum(head_families.sum(axis=1, keepdims=True), 1e-9)
    fam = np.where(lexicon_families.sum(axis=1, keepdims=True) > 0, fam, head)
    blocks.append(("fam:", fam, list(families)))
    metrics = _metric_block(coffees, head_sensory)
    metric_names = [*FEATURE_METRICS, "darkness"]
    std = metrics.std(axis=0)
    z = np.where(std > 1e-9, (metrics - metrics.mean(axis=0)) / np.maximum(std, 1e-9), 0.0)
    blocks.append(("m:", z, metric_names))
    blocks.append(("sq:", z**2, metric_names))
    roast_levels = [r.value for r in RoastLevel]
    roasts = [c.roast_level.value if c.roast_level else None for c in coffees]
    blocks.append(("roast:", _one_hot(roasts, roast_levels), roast_levels))
    processes = [p.value for p in Process]
    procs = [c.process.value if c.process else None for c in coffees]
    blocks.append(("process:", _one_hot(procs, processes), processes))
    countries = [c.origin_country.strip().lower() if c.origin_country else None for c in coffees]
    counted = Counter(c for c in countries if c)
    common = sorted(
        (c for c, k in counted.items() if k >= MIN_ORIGIN_COUNT), key=lambda c: (-counted[c], c)
    )[:MAX_ORIGINS]
    blocks.append(("origin:", _one_hot(countries, common), common))
    if n >= 2 and taste.shape[1] > 0:
        centred = taste - taste.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        comps = centred @ vt[:TASTE_COMPONENTS].T
        blocks.append(("t2v:", comps, [str(i) for i in range(comps.shape[1])]))
    cols = [np.ones((n, 1))]
    names = ["bias"]
    for prefix, block, labels in blocks:
        std = block.std(axis=0)
        for j in np.flatnonzero(std > 1e-9):
            cols.append(((block[:, j] - block[:, j].mean()) / std[j])[:, None])
            names.append(prefix + labels[j])
    return ItemFeatures(np.hstack(cols), tuple(names))


def archetype_coffees(
    coffees: Sequence[Coffee], lexicon_families: FloatArray, k: int = 3
) -> list[str]:
    """``k`` onboarding coffees that span the catalogue's main taste axes.

    Model-free (the simulator and the API pick the same ones): the coffees' standardised
    acidity, body and roast darkness and their lexicon family shares, reduced by PCA; the
    picks are the coffees nearest ``+-1.5`` standard deviations along the first axis, then
    ``+1.5`` along the second, and so on, each coffee at most once; coffees with no
    descriptor and no metric are not picked. Ties go to catalogue order.
    """
    if not coffees:
        return []
    metrics = _metric_block(coffees, None)[:, [0, 3, -1]]  # acidity, body, darkness
    informative = np.array(
        [
            lexicon_families[i].sum() > 0
            or any(getattr(c.metrics, m) is not None for m in ("acidity", "body"))
            for i, c in enumerate(coffees)
        ]
    )
    view = np.hstack([_standardise(metrics), _standardise(np.asarray(lexicon_families, float))])
    if view.shape[1] == 0:
        return [c.id for c in coffees[:k]]
    centred = view - view.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    scores = centred @ vt.T
    scale = np.maximum(scores.std(axis=0), 1e-9)
    targets: list[tuple[int, float]] = []
    for axis in range(scores.shape[1]):
        targets += [(axis, 1.5), (axis, -1.5)] if axis == 0 else [(axis, 1.5)]
    picked: list[int] = []
    for axis, where in targets:
        if len(picked) >= min(k, len(coffees)):
            break
        dist = np.abs(scores[:, axis] / scale[axis] - where) + 0.25 * np.linalg.norm(
            np.delete(scores, axis, axis=1) / np.delete(scale, axis), axis=1
        )
        dist = np.where(informative, dist, np.inf)
        dist[picked] = np.inf
        j = int(np.argmin(dist))
        if np.isfinite(dist[j]):
            picked.append(j)
    for j in range(len(coffees)):  # too few informative coffees: fill in catalogue order
        if len(picked) >= min(k, len(coffees)):
            break
        if j not in picked:
            picked.append(j)
    return [coffees[j].id for j in picked]
