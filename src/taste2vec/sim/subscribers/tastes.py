"""Hidden tastes of SIMULATED subscribers, and the seeded population generator.

A subscriber's :class:`Tastes` are the simulator's ground truth and never leave it:

- ``family_weights``: one weight in [-1, 1] per flavour-wheel family (positive = liked,
  negative = disliked, near 0 = indifferent).
- ``ideal``: the ideal point on :data:`~taste2vec.sim.subscribers.catalogue.SENSORY_DIMS`, in
  catalogue-standardised units (0 = the catalogue mean, 1 = one standard deviation above).
- ``tolerance``: per sensory dimension, how far from the ideal a coffee may be before it
  costs one unit of distance (larger = cares less about that dimension).
- ``noise``: standard deviation of the per-tasting noise on the utility, in rating points.
- ``rating_bias``: added to every response (a generous or a harsh rater), in rating points.
- ``rating_share``: the chance that a tasting gets a 1-5 rating rather than like/dislike.

:func:`generate_population` mixes four archetypes (:data:`ARCHETYPES`: fruity-floral
light-roast lover, chocolate-nutty dark-roast lover, balanced/medium, experimental/fermented),
each jittered per person, with random individuals (a few liked and disliked families, a
random ideal point). Archetypes are assigned by random draw, so a user id says nothing about
its archetype.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from taste2vec.errors import SchemaError
from taste2vec.sim.subscribers.catalogue import SENSORY_DIMS

__all__ = [
    "ARCHETYPES",
    "RANDOM",
    "Archetype",
    "Tastes",
    "archetype_tastes",
    "generate_population",
    "random_tastes",
]

FloatArray = npt.NDArray[np.float64]
#: The label of people drawn by :func:`random_tastes` rather than from an archetype.
RANDOM = "random"


@dataclass(frozen=True, eq=False)
class Tastes:
    """One simulated person's hidden tastes (see the module docstring). Simulator-only."""

    archetype: str
    family_weights: FloatArray
    ideal: FloatArray
    tolerance: FloatArray
    noise: float
    rating_bias: float
    rating_share: float


@dataclass(frozen=True)
class Archetype:
    """A named taste template: family weights by family name, ideal and tolerance by dimension.

    Families or dimensions not named get weight 0, ideal 0 and tolerance ``default_tolerance``.
    """

    name: str
    family_weights: Mapping[str, float]
    ideal: Mapping[str, float]
    tolerance: Mapping[str, float]
    default_tolerance: float = 1.5
    noise: float = 0.5


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "fruity_floral_light",
        {
            "Fruity": 0.9,
            "Floral": 0.9,
            "Sour/Fermented": 0.2,
            "Sweet": 0.3,
            "Roasted": -0.8,
            "Nutty/Cocoa": -0.4,
            "Other": -0.5,
            "Green/Vegetative": -0.3,
        },
        {"acidity": 1.0, "darkness": -1.2, "bitterness": -1.0, "body": -0.5},
        {"acidity": 1.0, "darkness": 0.8, "bitterness": 1.0},
    ),
    Archetype(
        "chocolate_nutty_dark",
        {
            "Nutty/Cocoa": 0.9,
            "Roasted": 0.7,
            "Sweet": 0.5,
            "Spices": 0.2,
            "Fruity": -0.5,
            "Floral": -0.6,
            "Sour/Fermented": -0.7,
            "Other": -0.3,
        },
        {"acidity": -1.0, "darkness": 1.2, "bitterness": 1.0, "body": 1.0},
        {"acidity": 1.0, "darkness": 0.8, "body": 1.0},
    ),
    Archetype(
        "balanced_medium",
        {
            "Sweet": 0.6,
            "Nutty/Cocoa": 0.4,
            "Fruity": 0.2,
            "Spices": 0.1,
            "Sour/Fermented": -0.6,
            "Green/Vegetative": -0.5,
            "Other": -0.6,
        },
        {"sweetness": 0.8, "aftertaste": 0.5},
        {"acidity": 1.0, "bitterness": 1.0, "darkness": 1.0},
    ),
    Archetype(
        "experimental_fermented",
        {
            "Sour/Fermented": 0.9,
            "Fruity": 0.6,
            "Spices": 0.3,
            "Other": 0.1,
            "Nutty/Cocoa": -0.3,
            "Roasted": -0.6,
        },
        {"acidity": 0.8, "darkness": -0.6},
        {},
        default_tolerance=2.0,
        noise=0.7,
    ),
)
_BY_NAME = {a.name: a for a in ARCHETYPES}


def _common(rng: np.random.Generator) -> tuple[float, float]:
    """Rating bias and rating share, drawn the same way for everyone."""
    return float(rng.normal(0.0, 0.3)), float(rng.uniform(0.3, 0.9))


def archetype_tastes(
    name: str, families: tuple[str, ...], rng: np.random.Generator, jitter: float = 1.0
) -> Tastes:
    """Tastes from archetype ``name``, jittered per person (``jitter=0``: the template itself)."""
    try:
        arch = _BY_NAME[name]
    except KeyError:
        raise SchemaError(f"unknown archetype {name!r}; choose one of {sorted(_BY_NAME)}") from None
    weights = np.array([arch.family_weights.get(f, 0.0) for f in families])
    ideal = np.array([arch.ideal.get(d, 0.0) for d in SENSORY_DIMS])
    tol = np.array([arch.tolerance.get(d, arch.default_tolerance) for d in SENSORY_DIMS])
    weights = np.clip(weights + rng.normal(0.0, 0.15 * jitter, weights.shape), -1.0, 1.0)
    ideal = ideal + rng.normal(0.0, 0.3 * jitter, ideal.shape)
    tol = tol * np.exp(rng.normal(0.0, 0.2 * jitter, tol.shape))
    bias, share = _common(rng) if jitter else (0.0, 0.6)
    return Tastes(arch.name, weights, ideal, tol, arch.noise, bias, share)


def random_tastes(families: tuple[str, ...], rng: np.random.Generator) -> Tastes:
    """A random individual: 1-3 liked families, 1-2 disliked, small weights elsewhere."""
    n = len(families)
    weights = rng.normal(0.0, 0.1, n)
    order = rng.permutation(n)
    n_liked = int(rng.integers(1, min(3, n) + 1))
    n_disliked = int(rng.integers(1, 3)) if n > n_liked else 0
    liked, disliked = order[:n_liked], order[n_liked : n_liked + n_disliked]
    weights[liked] = rng.uniform(0.4, 1.0, len(liked))
    weights[disliked] = -rng.uniform(0.3, 0.9, len(disliked))
    ideal = rng.normal(0.0, 0.8, len(SENSORY_DIMS))
    tol = rng.uniform(0.7, 2.5, len(SENSORY_DIMS))
    bias, share = _common(rng)
    noise = float(rng.uniform(0.3, 0.8))
    return Tastes(RANDOM, np.clip(weights, -1.0, 1.0), ideal, tol, noise, bias, share)


def generate_population(
    families: tuple[str, ...],
    n: int,
    seed: int,
    archetype_share: float = 0.6,
) -> list[Tastes]:
    """``n`` people's tastes, deterministic under ``seed``.

    A share ``archetype_share`` of them (rounded) come from the archetypes in turn, the rest
    are random individuals; the order is then shuffled.
    """
    if n < 0 or not 0.0 <= archetype_share <= 1.0:
        raise SchemaError("n must be >= 0 and archetype_share within [0, 1]")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7A57E]))
    n_arch = round(n * archetype_share)
    kinds = [ARCHETYPES[i % len(ARCHETYPES)].name for i in range(n_arch)]
    kinds += [RANDOM] * (n - n_arch)
    kinds = [kinds[i] for i in rng.permutation(n)]
    return [
        random_tastes(families, rng) if k == RANDOM else archetype_tastes(k, families, rng)
        for k in kinds
    ]
