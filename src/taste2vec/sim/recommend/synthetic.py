"""A large synthetic catalogue for benchmarks: the demo coffees, varied.

:func:`synthetic_catalogue` makes ``n`` coffees (ids ``syn-00000`` ...) by cycling through a
base catalogue (the bundled demo catalogue by default). Each copy keeps its base coffee's
roaster notes, keeps a subset of its descriptors chosen among :data:`VARIANTS` fixed subsets
(so at most ``VARIANTS x len(base)`` distinct note texts reach the text tower, which keeps
a 10k catalogue cheap to embed), and jitters every sensory metric by a normal draw of
standard deviation ``jitter`` points (clipped to the metric's range). About 10% of the
coffees are out of stock. Deterministic under ``seed``. For benchmarks only: these are not
real coffees.

>>> coffees = synthetic_catalogue(200, seed=1)
>>> len(coffees), coffees[0].id
(200, 'syn-00000')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from taste2vec.schema import METRIC_BY_NAME, SENSORY_METRICS, Coffee, Metrics

__all__ = ["VARIANTS", "synthetic_catalogue"]

#: Distinct descriptor subsets per base coffee.
VARIANTS = 8


def _subset(descriptors: list[str], variant: int, seed: int) -> list[str]:
    if len(descriptors) <= 1:
        return list(descriptors)
    rng = np.random.default_rng([seed, variant, len(descriptors)])
    keep = rng.random(len(descriptors)) < 0.7
    keep[int(rng.integers(len(descriptors)))] = True
    return [d for d, k in zip(descriptors, keep, strict=True) if k]


def _jitter(metrics: Metrics, rng: np.random.Generator, jitter: float) -> Metrics:
    values = metrics.observed()
    for name in SENSORY_METRICS:
        if name in values:
            spec = METRIC_BY_NAME[name]
            moved = values[name] + rng.normal(0.0, jitter)
            values[name] = round(float(np.clip(moved, spec.low, spec.high)), 2)
    return Metrics(**values)


def synthetic_catalogue(
    n: int, seed: int = 0, base: Sequence[Coffee] | None = None, jitter: float = 0.6
) -> list[Coffee]:
    """``n`` synthetic coffees varied from ``base`` (see the module docstring)."""
    if base is None:
        from taste2vec.data.demo import load_demo_catalogue

        base = load_demo_catalogue()
    rng = np.random.default_rng([seed, 0x5EED])
    out = []
    for i in range(n):
        src = base[i % len(base)]
        variant = int(rng.integers(VARIANTS))
        out.append(
            src.model_copy(
                update={
                    "id": f"syn-{i:05d}",
                    "name": f"{src.name} (lot {i})"[:200],
                    "descriptors": _subset(list(src.descriptors), variant, seed),
                    "metrics": _jitter(src.metrics, rng, jitter),
                    "stock": 0 if rng.random() < 0.1 else int(rng.integers(1, 300)),
                }
            )
        )
    return out
