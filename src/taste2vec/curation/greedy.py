"""The scalable solver: Lagrangian prices on stock, a vectorised greedy per box, repair.

1. **Prices.** Relaxing the stock constraints with a price ``price[c] >= 0`` per coffee
   splits the problem into one box per subscriber. Each box is built greedily (its
   objective is a sum of per-pick terms plus coverage terms: greedy by marginal gain, all
   subscribers at once as array operations). A subgradient step raises the price of every
   coffee asked for beyond its stock and lowers the others' (``iterations`` times, step
   ``step / sqrt(t + 1)``, relative to stock).
2. **Repair.** The boxes at the final prices may still over-ask some coffees: each such
   coffee stays with the subscribers who gain most from it, up to its stock, and is taken
   out of the others' boxes.
3. **Refill.** Boxes left short are refilled one subscriber at a time from the stock that
   is left, greedily at the same prices, so no slot stays empty while an eligible coffee
   is in stock.

The result always satisfies every constraint (:func:`~taste2vec.curation.instance.
violations` is empty); how far it is from the optimum is measured against
:mod:`~taste2vec.curation.exact` in ``bench/curation.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from taste2vec.curation.instance import FILL, BoolArray, FloatArray, Instance, IntArray

Progress = Callable[[int, int], None]
NEG = np.float32(-np.inf)


def greedy_boxes(
    inst: Instance,
    price: npt.NDArray[np.float32],
    allowed: BoolArray,
    chunk: int = 20_000,
) -> IntArray:
    """Every subscriber's greedy box at ``price`` among ``allowed`` pairs, ignoring stock.

    Returns ``picks[u, slot]`` (coffee index, -1 for an empty slot). The marginal gains
    live in one matrix, updated after each pick (the picked family, origin and, once the
    exploration target is reached, the exploration bonus stop counting for that box);
    subscribers go in chunks to bound memory.
    """
    k_max = int(inst.box_size.max(initial=0))
    picks = np.full((inst.n_users, k_max), -1, dtype=np.int64)
    if k_max == 0 or inst.n_coffees == 0:
        return picks
    w = inst.weights
    fam, org = inst.family, inst.origin
    fam_hot = fam[None, :] == np.arange(int(fam.max(initial=-1)) + 1)[:, None]
    org_hot = org[None, :] == np.arange(int(org.max(initial=-1)) + 1)[:, None]
    f_bonus = np.float32(w.family) * (fam >= 0)
    o_bonus = np.float32(w.origin) * (org >= 0)
    target = inst.explore_target
    for lo in range(0, inst.n_users, chunk):
        hi = min(lo + chunk, inst.n_users)
        rows = np.arange(hi - lo)
        explore = inst.exploratory(slice(lo, hi))
        tgt = target[lo:hi]
        gain = w.affinity * inst.affinity[lo:hi] - price[None, :]
        gain += f_bonus + o_bonus + FILL
        gain += np.float32(w.explore) * (explore & (tgt > 0)[:, None])
        gain[~allowed[lo:hi]] = NEG
        n_exp = np.zeros(hi - lo, dtype=np.int64)
        size = inst.box_size[lo:hi]
        for slot in range(k_max):
            best = np.argmax(gain, axis=1)
            ok = (size > slot) & np.isfinite(gain[rows, best])
            r, c = rows[ok], best[ok]
            picks[lo + r, slot] = c
            if slot + 1 == k_max:
                break
            gain[r, c] = NEG
            f, o = fam[c], org[c]
            if w.family and (f >= 0).any():
                gain[r[f >= 0]] -= np.float32(w.family) * fam_hot[f[f >= 0]]
            if w.origin and (o >= 0).any():
                gain[r[o >= 0]] -= np.float32(w.origin) * org_hot[o[o >= 0]]
            n_exp[r] += explore[r, c]
            done = r[explore[r, c] & (n_exp[r] == tgt[r])]
            if w.explore and len(done):
                gain[done] -= np.float32(w.explore) * explore[done]
    return picks


def _loads(picks: IntArray, n_coffees: int) -> IntArray:
    flat = picks[picks >= 0]
    out: IntArray = np.bincount(flat, minlength=n_coffees).astype(np.int64)
    return out


def prices(
    inst: Instance,
    allowed: BoolArray,
    iterations: int = 30,
    step: float = 0.25,
    progress: Progress | None = None,
    sample: int = 20_000,
    seed: int = 0,
) -> FloatArray:
    """Stock prices by projected subgradient steps on the relaxed stock constraints.

    With more than ``sample`` subscribers the steps look at a random ``sample`` of them
    against the same share of every coffee's stock (the prices are per coffee, and the
    loads of a random sample estimate the full loads); the final boxes use everyone.
    """
    price = np.zeros(inst.n_coffees, dtype=np.float32)
    stock = inst.stock.astype(np.float64)
    if inst.n_users > sample:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(inst.n_users, size=sample, replace=False))
        stock = stock * (sample / inst.n_users)
        inst, allowed = inst.subset(idx), allowed[idx]
    for t in range(iterations):
        load = _loads(greedy_boxes(inst, price, allowed), inst.n_coffees)
        over = (load - stock) / np.maximum(stock, 1.0)
        if t > 0 and not (load > stock).any() and (price == 0).all():
            if progress is not None:
                progress(iterations, iterations)
            break  # stock binds nowhere: the prices stay zero
        price = np.maximum(
            0.0, price + np.float32(step / np.sqrt(t + 1.0)) * np.clip(over, -1.0, 1.0)
        ).astype(np.float32)
        if progress is not None:
            progress(t + 1, iterations)
    return price


def _box_gain(
    inst: Instance, u: int, box: list[int], price: FloatArray, candidates: BoolArray
) -> FloatArray:
    """Marginal gain of each coffee for ``u``'s partial ``box`` (-inf where not a candidate)."""
    w = inst.weights
    gain = (w.affinity * inst.affinity[u] - price + FILL).astype(np.float32)
    fam, org = inst.family, inst.origin
    have_f = {int(fam[c]) for c in box}
    have_o = {int(org[c]) for c in box}
    if w.family:
        gain += np.float32(w.family) * ((fam >= 0) & ~np.isin(fam, list(have_f)))
    if w.origin:
        gain += np.float32(w.origin) * ((org >= 0) & ~np.isin(org, list(have_o)))
    if w.explore:
        n_exp = sum(1 for c in box if fam[c] >= 0 and not inst.home[u, fam[c]])
        if n_exp < inst.explore_target[u]:
            gain += np.float32(w.explore) * inst.exploratory([u])[0]
    gain[~candidates] = NEG
    out: FloatArray = gain
    return out


def repair(inst: Instance, picks: IntArray, price: FloatArray) -> list[list[int]]:
    """Feasible boxes from ``picks``: over-asked coffees stay with those who gain most from
    them, short boxes are refilled from what is left (see the module docstring)."""
    load = _loads(picks, inst.n_coffees)
    for c in np.flatnonzero(load > inst.stock):
        holders, slots = np.nonzero(picks == c)
        order = np.argsort(-inst.affinity[holders, c], kind="stable")
        drop = order[int(inst.stock[c]) :]
        picks[holders[drop], slots[drop]] = -1
    left = inst.stock - _loads(picks, inst.n_coffees)
    boxes = [[int(c) for c in row if c >= 0] for row in picks]
    short = [u for u, box in enumerate(boxes) if len(box) < inst.box_size[u]]
    for u in short:
        box = boxes[u]
        while len(box) < inst.box_size[u]:
            cand = inst.eligible[u] & (left > 0)
            cand[box] = False
            if not cand.any():
                break  # nothing eligible left in stock: the box stays short
            pick = int(np.argmax(_box_gain(inst, u, box, price, cand)))
            box.append(pick)
            left[pick] -= 1
    return boxes


def solve_greedy(
    inst: Instance,
    iterations: int = 30,
    step: float = 0.25,
    progress: Progress | None = None,
) -> list[list[int]]:
    """Feasible boxes (coffee indices per subscriber) by prices, greedy and repair."""
    allowed = inst.eligible & (inst.stock > 0)[None, :]
    price = prices(inst, allowed, iterations, step, progress)
    return repair(inst, greedy_boxes(inst, price, allowed), price)
