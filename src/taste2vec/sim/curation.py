"""Synthetic curation instances and the baselines the optimiser is compared with
(``tests/curation``, ``bench/curation.py``).

:func:`synthetic_instance` draws SIMULATED subscribers and coffees: hidden taste vectors
give the affinities, a few flavour families and origins, popular coffees scarcer than the
demand for them, a share of decaf-only subscribers and random personal exclusions.

Baselines (both always feasible):

* :func:`topk_repaired`: each subscriber in turn takes their top-k coffees by affinity
  alone, ignoring diversity and what the others need; a coffee out of stock is replaced
  by their next best one in stock ("top-k ignoring stock, then repaired").
* :func:`random_feasible`: subscribers in random order, each given random eligible
  coffees still in stock.
"""

from __future__ import annotations

import numpy as np

from taste2vec.curation.instance import Instance, Weights


def synthetic_instance(
    n_users: int,
    n_coffees: int,
    seed: int = 0,
    box_size: int = 4,
    stock_ratio: float = 1.3,
    n_families: int = 9,
    n_origins: int = 15,
    weights: Weights | None = None,
) -> Instance:
    """A SIMULATED month: total stock is ``stock_ratio`` x total demand, skewed so the
    coffees most subscribers like best are short."""
    rng = np.random.default_rng(seed)
    dim = 8
    taste = rng.normal(size=(n_users, dim)).astype(np.float32)
    taste /= np.linalg.norm(taste, axis=1, keepdims=True)
    items = rng.normal(size=(n_coffees, dim)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    quality = rng.normal(scale=0.3, size=n_coffees).astype(np.float32)
    raw = taste @ items.T + quality[None, :]
    raw += rng.normal(scale=0.1, size=raw.shape).astype(np.float32)
    lo, hi = raw.min(axis=1, keepdims=True), raw.max(axis=1, keepdims=True)
    affinity = ((raw - lo) / np.maximum(hi - lo, 1e-6)).astype(np.float32)
    family = rng.integers(0, n_families, size=n_coffees)
    origin = rng.integers(0, n_origins, size=n_coffees)
    decaf = rng.random(n_coffees) < 0.08
    decaf[: max(1, n_coffees // 50)] = True
    eligible = rng.random((n_users, n_coffees)) > 0.05  # shipped recently, no naturals, ...
    decaf_only = rng.random(n_users) < 0.03
    eligible[decaf_only] &= decaf[None, :]
    sizes = np.full(n_users, box_size, dtype=np.int64)
    sizes[rng.random(n_users) < 0.3] = max(1, box_size // 2)
    popularity = affinity.mean(axis=0) ** 4
    share = popularity / popularity.sum()
    demand = float(sizes.sum()) * stock_ratio
    stock = np.floor(demand * (0.5 * share + 0.5 / n_coffees)).astype(np.int64)
    home = np.zeros((n_users, n_families), dtype=bool)
    fam_affinity = np.stack(
        [
            affinity[:, family == f].mean(axis=1) if (family == f).any() else np.zeros(n_users)
            for f in range(n_families)
        ],
        axis=1,
    )
    top = np.argsort(-fam_affinity, axis=1)[:, :3]
    np.put_along_axis(home, top, True, axis=1)
    return Instance(
        [f"sim-u{i}" for i in range(n_users)],
        [f"sim-c{j}" for j in range(n_coffees)],
        affinity,
        eligible,
        sizes,
        stock,
        family,
        origin,
        home,
        weights or Weights(),
    )


def topk_repaired(inst: Instance) -> list[list[int]]:
    """Top-k by affinity per subscriber, in order, out-of-stock picks replaced by the next
    best in stock."""
    left = inst.stock.copy()
    boxes = []
    for u in range(inst.n_users):
        order = np.argsort(-inst.affinity[u], kind="stable")
        box: list[int] = []
        for c in order:
            if len(box) >= inst.box_size[u]:
                break
            if inst.eligible[u, c] and left[c] > 0:
                box.append(int(c))
                left[c] -= 1
        boxes.append(box)
    return boxes


def random_feasible(inst: Instance, seed: int = 0) -> list[list[int]]:
    """Random eligible coffees in stock, subscribers in random order."""
    rng = np.random.default_rng(seed)
    left = inst.stock.copy()
    boxes: list[list[int]] = [[] for _ in range(inst.n_users)]
    for u in rng.permutation(inst.n_users):
        cand = np.flatnonzero(inst.eligible[u] & (left > 0))
        take = rng.permutation(cand)[: int(inst.box_size[u])]
        left[take] -= 1
        boxes[u] = [int(c) for c in take]
    return boxes
