"""The exact solver: the whole month as one mixed-integer programme, solved by HiGHS
(``scipy.optimize.milp``).

Variables: ``x[u, c]`` in {0, 1} for every eligible pair with stock; ``y[u, f]`` and
``z[u, o]`` in [0, 1], "family ``f`` / origin ``o`` is in ``u``'s box"; ``e[u]`` in
[0, explore_target[u]], the rewarded exploration picks. Maximise::

    sum (FILL + w.affinity * affinity[u, c]) x[u, c]
      + w.family * sum y + w.origin * sum z + w.explore * sum e

subject to ``sum_c x[u, c] <= k[u]`` (plan size), ``sum_u x[u, c] <= stock[c]``,
``y[u, f] <= sum_{c in f} x[u, c]``, ``z[u, o] <= sum_{c from o} x[u, c]`` and
``e[u] <= sum_{c exploratory for u} x[u, c]``. Since ``x`` is integral and the
objective rewards ``y``, ``z``, ``e``, at an optimum each equals the coverage term it
stands for, so this is exactly the objective of :mod:`taste2vec.curation.instance`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp  # type: ignore[import-untyped]
from scipy.sparse import coo_array  # type: ignore[import-untyped]

from taste2vec.curation.instance import FILL, Instance
from taste2vec.errors import ModelError


@dataclass(frozen=True)
class ExactResult:
    """Boxes, whether HiGHS proved them optimal, and its best bound on the objective."""

    boxes: list[list[int]]
    optimal: bool
    bound: float  # an upper bound on the total objective (FILL included)
    status: str


def _coverage(
    pu: np.ndarray, codes: np.ndarray, n_users: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For pairs (user ``pu``, code ``codes``; -1 skipped): one variable per distinct
    (user, code) and, per pair, the index of its variable (-1 where the code is unknown)."""
    known = codes >= 0
    n_codes = int(codes.max(initial=-1)) + 1
    key = np.where(known, pu * max(n_codes, 1) + codes, -1)
    uniq, inv = np.unique(key[known], return_inverse=True)
    var = np.full(len(codes), -1, dtype=np.int64)
    var[known] = inv
    return uniq // max(n_codes, 1), var, uniq


def solve_exact(inst: Instance, time_limit_s: float | None = 60.0) -> ExactResult:
    """Solve the instance's MILP. ``optimal`` is False when the time limit stopped HiGHS
    first (the boxes are then its best feasible solution, ``bound`` its best bound)."""
    w = inst.weights
    pu, pc = np.nonzero(inst.eligible & (inst.stock > 0)[None, :])
    n_x = len(pu)
    if n_x == 0:  # nothing can be sent to anyone: every box is empty, and that is optimal
        return ExactResult([[] for _ in range(inst.n_users)], True, 0.0, "no eligible pair")
    explore = inst.exploratory()[pu, pc] if n_x else np.zeros(0, dtype=bool)
    fu, f_var, _ = _coverage(pu, inst.family[pc], inst.n_users)
    ou, o_var, _ = _coverage(pu, inst.origin[pc], inst.n_users)
    n_y, n_z, n_u = len(fu), len(ou), inst.n_users
    y0, z0, e0 = n_x, n_x + n_y, n_x + n_y + n_z
    n_var = e0 + n_u

    cost = np.zeros(n_var)
    cost[:n_x] = -(FILL + w.affinity * inst.affinity[pu, pc].astype(np.float64))
    cost[y0:z0] = -w.family
    cost[z0:e0] = -w.origin
    cost[e0:] = -w.explore

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    upper: list[np.ndarray] = []
    r0 = 0

    def block(r: np.ndarray, c: np.ndarray, v: np.ndarray | float, n_rows: int) -> None:
        nonlocal r0
        rows.append(r + r0)
        cols.append(c)
        vals.append(np.broadcast_to(np.asarray(v, dtype=np.float64), r.shape))
        r0 += n_rows

    ix = np.arange(n_x)
    block(pu, ix, 1.0, n_u)  # plan size
    upper.append(inst.box_size.astype(np.float64))
    block(pc, ix, 1.0, inst.n_coffees)  # stock
    upper.append(inst.stock.astype(np.float64))
    for var, n_cov, start in ((f_var, n_y, y0), (o_var, n_z, z0)):
        known = var >= 0  # coverage: y - sum x <= 0
        r = np.concatenate([np.arange(n_cov), var[known]])
        c = np.concatenate([start + np.arange(n_cov), ix[known]])
        v = np.concatenate([np.ones(n_cov), -np.ones(int(known.sum()))])
        block(r, c, v, n_cov)
        upper.append(np.zeros(n_cov))
    r = np.concatenate([np.arange(n_u), pu[explore]])  # exploration: e - sum x <= 0
    c = np.concatenate([e0 + np.arange(n_u), ix[explore]])
    v = np.concatenate([np.ones(n_u), -np.ones(int(explore.sum()))])
    block(r, c, v, n_u)
    upper.append(np.zeros(n_u))

    matrix = coo_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, n_var)
    ).tocsr()
    hi = np.concatenate([np.ones(n_x + n_y + n_z), inst.explore_target.astype(np.float64)])
    integrality = np.zeros(n_var)
    integrality[:n_x] = 1
    options: dict[str, float | bool] = {"disp": False, "mip_rel_gap": 1e-9}
    if time_limit_s is not None:
        options["time_limit"] = float(time_limit_s)
    res = milp(
        cost,
        constraints=LinearConstraint(matrix, -np.inf, np.concatenate(upper)),
        bounds=Bounds(np.zeros(n_var), hi),
        integrality=integrality,
        options=options,
    )
    if res.x is None:
        raise ModelError(f"the exact solver found no solution: {res.message}")
    chosen = np.flatnonzero(res.x[:n_x] > 0.5)
    boxes: list[list[int]] = [[] for _ in range(n_u)]
    for j in chosen:
        boxes[int(pu[j])].append(int(pc[j]))
    bound = -float(getattr(res, "mip_dual_bound", res.fun) or res.fun)
    return ExactResult(boxes, res.status == 0, bound, str(res.message))
